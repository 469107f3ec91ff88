import { spawnSync } from 'node:child_process';
import type { Admin, Kafka, Producer } from 'kafkajs';
import ort from 'onnxruntime-node';
import { paths } from '../src/devstack/paths.js';
import { createTopicsAndWait } from '../src/kafka/admin.js';
import { waitFor } from '../src/util/wait.js';
import { uniqueName } from '../test/support/read.js';
import { repo } from '../test/support/paths.js';
import { PARTITIONS, type Timing, endOffsets, groupCaughtUp, timing } from './common.js';
import { keyHashPartitioner } from '../src/kafka/partitioner.js';

/** ONNX Runtime alone: rows/s of the fraud model at each batch size, one intra-op thread. */
export async function onnxCeiling(batchSizes: number[], runsPerSize: number): Promise<Record<string, number>> {
  const session = await ort.InferenceSession.create(repo('models/fraud.onnx'), { intraOpNumThreads: 1, interOpNumThreads: 1, executionProviders: ['cpu'] });
  const out: Record<string, number> = {};
  for (const b of batchSizes) {
    const x = new Float32Array(b * 10).map((_, i) => (i % 10) * 3.7);
    const feeds = { features: new ort.Tensor('float32', x, [b, 10]) };
    for (let i = 0; i < 20; i++) await session.run(feeds);
    const n = Math.max(20, Math.round(runsPerSize / Math.sqrt(b)));
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await session.run(feeds);
    out[`batch${b}`] = Math.round((n * b) / ((performance.now() - t0) / 1000));
  }
  await session.release();
  return out;
}

/**
 * The Kafka pipe alone with kafkajs: consume the input and produce the same bytes, no decode
 * and no model. Transactional: one producer per partition, a transaction per fetched batch
 * carrying the messages and the offsets, like streamscore's sink.
 */
export async function kafkajsPipe(kafka: Kafka, admin: Admin, input: string, count: number, transactional: boolean): Promise<Timing> {
  const out = uniqueName('bench-pipe');
  const group = `${out}-g`;
  await createTopicsAndWait(admin, [{ topic: out, numPartitions: PARTITIONS }]);
  const producers = new Map<number, Producer>();
  const shared = transactional ? undefined : kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: keyHashPartitioner });
  await shared?.connect();
  const consumer = kafka.consumer({ groupId: group, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic: input, fromBeginning: true });
  const started = Date.now();
  await consumer.run({
    autoCommit: !transactional,
    partitionsConsumedConcurrently: PARTITIONS,
    eachBatch: async ({ batch }) => {
      const messages = batch.messages.map((m) => ({ key: m.key, value: m.value }));
      if (!transactional) {
        await shared!.send({ topic: out, messages, acks: -1 });
        return;
      }
      let producer = producers.get(batch.partition);
      if (!producer) {
        producer = kafka.producer({ transactionalId: `${group}-${batch.partition}`, idempotent: true, maxInFlightRequests: 1, retry: { initialRetryTime: 2, retries: 25 }, createPartitioner: keyHashPartitioner });
        await producer.connect();
        producers.set(batch.partition, producer);
      }
      const txn = await producer.transaction();
      await txn.send({ topic: out, messages, acks: -1 });
      await txn.sendOffsets({ consumerGroupId: group, topics: [{ topic: input, partitions: [{ partition: batch.partition, offset: (BigInt(batch.lastOffset()) + 1n).toString() }] }] });
      await txn.commit();
    },
  });
  if (transactional) {
    await groupCaughtUp(admin, group, input, 600_000);
  } else {
    await waitFor(async () => [...(await endOffsets(admin, out)).values()].reduce((a, b) => a + Number(b), 0) >= count, { timeoutMs: 600_000, intervalMs: 100, what: 'the pipe to copy every record' });
  }
  const elapsed = Date.now() - started;
  await consumer.disconnect();
  await Promise.all([...producers.values()].map((p) => p.disconnect()));
  await shared?.disconnect();
  await admin.deleteTopics({ topics: [out] }).catch(() => {});
  return timing(count, elapsed);
}

/** Kafka's own perf tools from the broker jars: the broker's raw produce and consume rates. */
export function kafkaPerfTools(brokers: string, topic: string, records: number): { producerPerSec: number; consumerPerSec: number } {
  const java = (main: string, args: string[]) => spawnSync('java', ['-cp', `${paths.kafkaLibs}/*`, `-Dlog4j.configuration=file:${paths.kafkaRun}/log4j.properties`, main, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const prod = java('org.apache.kafka.tools.ProducerPerformance', ['--topic', topic, '--num-records', String(records), '--record-size', '240', '--throughput', '-1', '--producer-props', `bootstrap.servers=${brokers}`, 'acks=all', 'linger.ms=5', 'batch.size=65536']);
  const prodRate = /([\d.]+) records\/sec/.exec(prod.stdout.trim().split('\n').pop() ?? '');
  const cons = java('org.apache.kafka.tools.ConsumerPerformance', ['--bootstrap-server', brokers, '--topic', topic, '--messages', String(records), '--timeout', '60000']);
  // data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, ... (the header line first)
  const consLine = cons.stdout.trim().split('\n').pop()?.split(',').map((s) => s.trim()) ?? [];
  return { producerPerSec: Math.round(Number(prodRate?.[1] ?? 0)), consumerPerSec: Math.round(Number(consLine[5] ?? 0)) };
}
