import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { Registry } from 'prom-client';
import { parseConfig } from '../../src/config/load.js';
import { KafkaClient } from '../../src/kafka/client.js';
import { FakeKafka, kafkaError } from '../../src/kafka/fake.js';
import { systemClock, systemTimers } from '../../src/observability/clock.js';
import { Metrics } from '../../src/observability/metrics.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import { waitFor } from '../../src/util/wait.js';
import type { SchemaRegistryClient } from '../../src/codec/schema-registry.js';
import { repo } from '../support/paths.js';

/**
 * The whole pipeline (JSON decode, the real pump-anomaly model, batcher, sinks) over the
 * fake Kafka adapter, with one fault injected at one call. The same behaviours run on the
 * real broker in test/integration and in the chaos suite.
 */
const reading = JSON.parse(fs.readFileSync(repo('test/fixtures/iot-golden.jsonl'), 'utf8').split('\n')[0]!).event as Record<string, unknown>;

function setUp(opts: { partitions?: number; maxQueuedRecords?: number; commitIntervalMs?: number; producers?: number; stallTimeoutMs?: number; registry?: SchemaRegistryClient } = {}) {
  const fake = new FakeKafka();
  const partitions = opts.partitions ?? 2;
  fake.createTopic('readings', partitions);
  for (const t of ['scored', 'flags', 'dlq']) fake.createTopic(t, 1);
  const codec = opts.registry ? { codec: 'avro', readerSchema: repo('schemas/sensor-reading.avsc') } : { codec: 'json' };
  const config = parseConfig(JSON.stringify({
    kafka: { brokers: ['fake:9092'] },
    ...(opts.registry ? { schemaRegistry: { url: 'http://fake' } } : {}),
    pipelines: [{
      name: 'iot', inputs: ['readings'], groupId: 'g', ...codec, model: { path: repo('models/pump-anomaly.onnx') },
      batching: { maxBatchSize: 8, maxQueueDelayMs: 1, maxQueuedRecords: opts.maxQueuedRecords ?? 8 },
      delivery: { mode: 'exactly-once', commitIntervalMs: opts.commitIntervalMs ?? 0, producers: opts.producers ?? 1, stallTimeoutMs: opts.stallTimeoutMs ?? 30_000 },
      outputs: { scored: { topic: 'scored' }, alerts: { topic: 'flags' }, deadLetter: { topic: 'dlq' } },
    }],
  }), { env: {} });
  const logger = pino({ level: 'silent' });
  const metrics = new Metrics(new Registry());
  const kafka = new KafkaClient(config.kafka, logger, 'test', fake.asKafka());
  const pipeline = new Pipeline({ config, pipeline: config.pipelines[0]!, logger, metrics, clock: systemClock, timers: systemTimers, kafka, registry: opts.registry });
  const produce = (partition: number, n: number) => fake.append('readings', partition, Array.from({ length: n }, (_, i) => ({ key: `pump-${i}`, value: JSON.stringify(reading) })));
  return { fake, pipeline, metrics, produce, all: Object.fromEntries([['readings', [...Array(partitions).keys()]]]) as Record<string, number[]> };
}

let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stop?.();
  stop = undefined;
});

/** Fetches in the background as kafkajs's fetch loop would, until stopped. */
function keepFetching(fake: FakeKafka): () => Promise<void> {
  let running = true;
  const loop = (async () => {
    while (running) {
      if (!(await fake.consumerOf('g').pump())) await new Promise((r) => setTimeout(r, 2));
    }
  })();
  return async () => { running = false; await loop; };
}

describe('pipeline over the fake adapter', () => {
  it('W2: with every partition paused for backpressure, the last transaction aborting resumes them and nothing is lost', async () => {
    const { fake, pipeline, produce, all } = setUp();
    await pipeline.start();
    stop = () => pipeline.close();
    const consumer = fake.consumerOf('g');
    consumer.assign(all);
    produce(0, 20);
    produce(1, 20);
    fake.failNext('EndTxn');
    // One fetch of 20 records is over maxQueuedRecords (8): every partition pauses.
    await consumer.fetch('readings', 0);
    expect([...consumer.paused].sort()).toEqual(['readings:0', 'readings:1']);
    // Its transaction fails to end; recovery rewinds, and must resume what backpressure paused.
    await waitFor(() => fake.calls.includes('EndTxn') && consumer.paused.size === 0, { timeoutMs: 5_000, what: 'partitions to resume after the abort' });
    const fetching = keepFetching(fake);
    await waitFor(() => fake.committedOffset('g', 'readings', 0) === 20n && fake.committedOffset('g', 'readings', 1) === 20n, { timeoutMs: 10_000, what: 'every record committed' });
    await fetching();
    const sources = fake.records('scored').map((r) => r.headers['streamscore-source']);
    expect(sources.length).toBe(40);
    expect(new Set(sources).size).toBe(40);
  });

  it('W2: a revoked partition that was paused is resumed in the consumer (kafkajs keeps pauses across reassignment)', async () => {
    const { fake, pipeline, produce, all } = setUp({ commitIntervalMs: 1_000 });
    await pipeline.start();
    stop = () => pipeline.close();
    const consumer = fake.consumerOf('g');
    consumer.assign(all);
    produce(0, 20);
    await consumer.fetch('readings', 0);
    expect(consumer.paused.size).toBe(2);
    consumer.assign({ readings: [1] });
    expect([...consumer.paused]).toEqual(['readings:1']);
    consumer.assign({});
    expect(consumer.paused.size).toBe(0);
  });

  it('partitions kept across a generation this member missed (paused past the session timeout) are taken over anew: committed offsets read again', async () => {
    const { fake, pipeline, all } = setUp();
    await pipeline.start();
    stop = () => pipeline.close();
    const consumer = fake.consumerOf('g');
    consumer.assign(all);
    await waitFor(() => pipeline.notReady().length === 0, { timeoutMs: 5_000, what: 'ready' });
    const reads = () => fake.calls.filter((c) => c === 'OffsetFetch').length;
    const before = reads();
    consumer.assign(all);
    expect(reads()).toBe(before);
    // Another member owned them in the generation between: what it committed must be read.
    consumer.assign(all, 2);
    await waitFor(() => reads() === before + 2 && pipeline.notReady().length === 0, { timeoutMs: 5_000, what: 'both offsets read again' });
  });

  it('a consumer that crashes for good makes the pipeline unready and dead; one that rejoins is ready again', async () => {
    const { fake, pipeline, all } = setUp();
    await pipeline.start();
    stop = () => pipeline.close();
    const consumer = fake.consumerOf('g');
    consumer.assign(all);
    // Ready only once every partition is taken over (its producer fenced in, its offset read).
    expect(pipeline.notReady().join()).toContain('taking over readings:0, readings:1');
    await waitFor(() => pipeline.notReady().length === 0, { timeoutMs: 5_000, what: 'ready' });
    consumer.crash(kafkaError('UNKNOWN_MEMBER_ID', 25), true);
    expect(pipeline.notReady()).toEqual(['iot: consumer not in its group']);
    expect(pipeline.dead).toBe(false);
    consumer.assign(all);
    await waitFor(() => pipeline.notReady().length === 0, { timeoutMs: 5_000, what: 'ready again' });
    consumer.crash(new Error('fatal'), false);
    expect(pipeline.notReady().join()).toContain('KAFKA_CONSUMER_CRASHED');
    expect(pipeline.dead).toBe(true);
  });

  it('a partition whose transactions keep failing shows as stalled and failing in readiness and the gauge, and recovers by itself', async () => {
    const { fake, pipeline, metrics, produce, all } = setUp({ stallTimeoutMs: 1_000 });
    await pipeline.start();
    stop = () => pipeline.close();
    const consumer = fake.consumerOf('g');
    consumer.assign(all);
    await waitFor(() => pipeline.notReady().length === 0, { timeoutMs: 5_000, what: 'the producer and both partitions ready' });
    fake.failNext('EndTxn', undefined, 1_000_000);
    produce(0, 5);
    const fetching = keepFetching(fake);
    await waitFor(() => pipeline.notReady().some((r) => r.includes('readings/0 stalled')), { timeoutMs: 10_000, what: () => `the stall to show: ${JSON.stringify(pipeline.notReady())} calls ${fake.calls.slice(-12).join(',')}` });
    expect(pipeline.notReady().some((r) => r.includes('output 0: KAFKA_TRANSACTION_FAILED'))).toBe(true);
    const gauge = async () => (await metrics.partitionStalled.get()).values.find((v) => v.labels.partition === 0)?.value;
    expect(await gauge()).toBe(1);
    fake.failNext('EndTxn', undefined, 0);
    await waitFor(() => fake.committedOffset('g', 'readings', 0) === 5n, { timeoutMs: 15_000, what: 'the partition to commit again' });
    await waitFor(() => pipeline.notReady().length === 0, { timeoutMs: 5_000, what: 'ready again' });
    expect(await gauge()).toBe(0);
    await fetching();
  }, 40_000);

  it('W3: a registry that refuses our credentials makes the partition unready at once with the code; nothing is dead-lettered; it is tried again', async () => {
    let refuse = true;
    const registry = {
      getBySubjectAndId: async () => {
        if (refuse) throw Object.assign(new Error('Unauthorized'), { status: 401 });
        return { schema: fs.readFileSync(repo('schemas/sensor-reading.avsc'), 'utf8') };
      },
    } as unknown as SchemaRegistryClient;
    const { fake, pipeline, metrics, all } = setUp({ registry });
    await pipeline.start();
    stop = () => pipeline.close();
    fake.consumerOf('g').assign(all);
    // Confluent framing (magic 0, schema id 1) over a body that is not a reading: once the registry answers, it is dead-lettered as truncated.
    fake.append('readings', 0, [{ key: 'pump-1', value: Buffer.from([0, 0, 0, 0, 1, 0xff]) }]);
    const fetching = keepFetching(fake);
    await waitFor(() => pipeline.notReady().some((r) => r.includes('readings:0 decode: REGISTRY_UNAUTHORIZED')), { timeoutMs: 5_000, what: 'the registry refusal in readiness' });
    expect(fake.records('dlq')).toEqual([]);
    expect((await metrics.retries.get()).values.find((v) => v.labels.code === 'REGISTRY_UNAUTHORIZED')?.value).toBeGreaterThanOrEqual(1);
    refuse = false;
    await waitFor(() => fake.records('dlq').length === 1 && pipeline.notReady().length === 0, { timeoutMs: 10_000, what: 'decoding to work again' });
    expect(fake.records('dlq')[0]!.headers['streamscore-error-code']).toBe('DECODE_TRUNCATED');
    await fetching();
  }, 20_000);

  it("W5: the first assignment (while the pipeline is still starting) reads every partition's committed offset at once, before any record is fetched; the instance's producers fenced in once each", async () => {
    const { fake, pipeline, all } = setUp({ producers: 2 });
    fake.assignOnRun('g', all);
    await pipeline.start();
    stop = () => pipeline.close();
    await waitFor(() => fake.calls.filter((c) => c === 'OffsetFetch').length === 2 && fake.calls.includes('InitProducerId'), { timeoutMs: 5_000, what: 'both offsets read and the producer fenced in' });
    await waitFor(() => fake.calls.filter((c) => c === 'InitProducerId').length === 2, { timeoutMs: 5_000, what: 'both producers fenced in' });
    expect(fake.calls.filter((c) => c === 'Produce')).toEqual([]);
  });

  it('W3: a revoked partition\'s lag and stall series are removed', async () => {
    const { fake, pipeline, metrics, produce, all } = setUp();
    await pipeline.start();
    stop = () => pipeline.close();
    const consumer = fake.consumerOf('g');
    consumer.assign(all);
    produce(1, 3);
    const series = async () => (await metrics.consumerLag.get()).values.map((v) => v.labels.partition).sort();
    await waitFor(async () => (await series()).length === 2, { timeoutMs: 5_000, what: 'lag series for both partitions (on the watchdog timer, with no fetch)' });
    expect((await metrics.consumerLag.get()).values.find((v) => v.labels.partition === 1)?.value).toBe(3);
    consumer.assign({ readings: [0] });
    expect(await series()).toEqual([0]);
    expect((await metrics.partitionStalled.get()).values.map((v) => v.labels.partition)).toEqual([0]);
  });

  /**
   * One partition, 10 records whose transaction fails to end; while recovery waits on `held`,
   * 10 more arrive and are fetched. In the end: all 20 committed, each scored once.
   */
  async function recoveryRace(held: 'OffsetFetch' | 'InitProducerId', recovering: (fake: FakeKafka) => Promise<unknown>) {
    const { fake, pipeline, produce } = setUp({ partitions: 1, maxQueuedRecords: 100 });
    await pipeline.start();
    stop = () => pipeline.close();
    const consumer = fake.consumerOf('g');
    consumer.assign({ readings: [0] });
    await waitFor(() => pipeline.notReady().length === 0, { timeoutMs: 5_000, what: 'ready' });
    produce(0, 10);
    fake.failNext('EndTxn');
    const release = fake.holdNext(held);
    await consumer.fetch('readings', 0);
    await recovering(fake);
    produce(0, 10);
    const fetched = consumer.fetch('readings', 0); // offsets 10..19, fetched before the rewind
    release();
    await fetched;
    const fetching = keepFetching(fake);
    await waitFor(() => fake.committedOffset('g', 'readings', 0) === 20n, { timeoutMs: 10_000, what: 'all 20 committed' });
    await fetching();
    const sources = fake.records('scored').map((r) => String(r.headers['streamscore-source']));
    expect(new Set(sources).size).toBe(20);
    expect(sources.length).toBe(20);
  }

  it('a batch that waited for a recovering partition is dropped when the partition rewinds: nothing is scored twice', async () => {
    // Recovery has fenced and waits for the committed offset.
    await recoveryRace('OffsetFetch', (fake) => waitFor(() => fake.calls.filter((c) => c === 'InitProducerId').length === 2, { timeoutMs: 5_000, what: 'the new producer' }));
  });

  it('records fetched while a failed transaction is being recovered are not taken: nothing is committed ahead of the rewind, nothing twice', async () => {
    // Recovery is backing off before it fences.
    await recoveryRace('InitProducerId', (fake) => waitFor(() => fake.calls.includes('EndTxn'), { timeoutMs: 5_000, intervalMs: 1, what: 'the failing commit' }));
  });
});
