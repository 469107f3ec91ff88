import type { Admin, Kafka } from 'kafkajs';
import { parseConfig } from '../src/config/load.js';
import type { SchemaRegistryClient } from '../src/codec/schema-registry.js';
import { OutputObserver, percentile } from '../src/demo/observer.js';
import { type SentRecord, produceLoad } from '../src/loadgen/load-producer.js';
import { createTopicsAndWait } from '../src/kafka/admin.js';
import { waitFor } from '../src/util/wait.js';
import { repo } from '../test/support/paths.js';
import { uniqueName } from '../test/support/read.js';
import { ServiceProcess } from '../test/support/service-process.js';
import { PARTITIONS, groupCaughtUp, peakRssMb } from './common.js';

export interface Cluster {
  kafka: Kafka;
  admin: Admin;
  registry: SchemaRegistryClient;
  brokers: string[];
  registryUrl: string;
}

export interface RunSettings {
  delivery: 'exactly-once' | 'at-least-once';
  maxBatchSize: number;
  maxQueueDelayMs: number;
}

async function outputTopics(admin: Admin) {
  const base = uniqueName('bench-out');
  const t = { scored: `${base}.scored`, alerts: `${base}.alerts`, dlq: `${base}.dlq` };
  await createTopicsAndWait(admin, Object.values(t).map((topic) => ({ topic, numPartitions: PARTITIONS })));
  return t;
}

function config(c: Cluster, input: string, group: string, out: { scored: string; alerts: string; dlq: string }, s: RunSettings) {
  return parseConfig(JSON.stringify({
    kafka: { brokers: c.brokers, clientId: 'bench' },
    schemaRegistry: { url: c.registryUrl },
    http: { port: 0, host: '127.0.0.1' },
    log: { level: 'warn' },
    pipelines: [{
      name: 'fraud', inputs: [input], groupId: group, codec: 'avro', readerSchema: repo('schemas/card-transaction.avsc'),
      model: { path: repo('models/fraud.onnx') }, features: { columns: { hourOfDay: { from: 'eventTime', transform: 'hourOfDayUtc' } } },
      batching: { maxBatchSize: s.maxBatchSize, maxQueueDelayMs: s.maxQueueDelayMs, maxQueuedRecords: Math.max(10_000, s.maxBatchSize * 8) },
      outputs: { scored: { topic: out.scored, schema: repo('schemas/scored-transaction.avsc') }, alerts: { topic: out.alerts, schema: repo('schemas/fraud-alert.avsc') }, deadLetter: { topic: out.dlq } },
      delivery: s.delivery,
    }],
  }), { env: {} });
}

/**
 * Maximum sustained throughput: streamscore (a real process) drains a pre-produced backlog;
 * timed from its 'running' line to its group's offsets reaching the end. Peak RSS from /proc.
 */
export async function drainBacklog(c: Cluster, input: string, count: number, s: RunSettings): Promise<{ perSec: number; seconds: number; peakRssMb: number }> {
  const out = await outputTopics(c.admin);
  const group = uniqueName('bench-g');
  const service = ServiceProcess.start(config(c, input, group, out, s), 'bench');
  try {
    await service.waitForLog('running', 120_000);
    const started = Date.now();
    await groupCaughtUp(c.admin, group, input, 900_000);
    const ms = Date.now() - started;
    const rss = peakRssMb(service.pid);
    service.signal('SIGTERM');
    await service.exit(60_000);
    return { perSec: Math.round(count / (ms / 1000)), seconds: +(ms / 1000).toFixed(2), peakRssMb: rss };
  } finally {
    await service.kill();
    await c.admin.deleteTopics({ topics: Object.values(out) }).catch(() => {});
  }
}

/** End-to-end latency at a fixed offered load: produce ack → output readable (read_committed). */
export async function latencyAtLoad(c: Cluster, rate: number, seconds: number, s: RunSettings): Promise<{ offeredPerSec: number; p50Ms: number; p99Ms: number; outputs: number }> {
  const input = uniqueName('bench-lat');
  await createTopicsAndWait(c.admin, [{ topic: input, numPartitions: PARTITIONS }]);
  const out = await outputTopics(c.admin);
  const service = ServiceProcess.start(config(c, input, `${input}-g`, out, s), 'bench-latency');
  const sent = new Map<string, SentRecord>();
  const observer = new OutputObserver(c.kafka, sent, { scored: [out.scored], alerts: [out.alerts], dlq: [out.dlq] });
  try {
    await service.waitForLog('running', 120_000);
    // Warm-up: every partition's producer is fenced in and its offsets read before timing starts.
    await produceLoad(c.kafka, c.registry, { scenario: 'fraud', topic: input, partitions: PARTITIONS, rate: 0, count: PARTITIONS * 50, format: 'avro', poisonRate: 0, seed: 2, runId: `${input}-warm` });
    await groupCaughtUp(c.admin, `${input}-g`, input, 120_000);
    await observer.start();
    const count = Math.round(rate * seconds);
    const load = await produceLoad(c.kafka, c.registry, { scenario: 'fraud', topic: input, partitions: PARTITIONS, rate, count, format: 'avro', poisonRate: 0, seed: 3, runId: input, sent });
    await waitFor(() => observer.complete(), { timeoutMs: 120_000, intervalMs: 100, what: 'every output' });
    observer.collectLatencies();
    const lat = [...observer.latencies].sort((a, b) => a - b);
    return { offeredPerSec: Math.round(load.produced / (load.elapsedMs / 1000)), p50Ms: percentile(lat, 50), p99Ms: percentile(lat, 99), outputs: observer.outputsTotal };
  } finally {
    await observer.stop();
    service.signal('SIGTERM');
    await service.exit(60_000).catch(() => service.kill());
    await c.admin.deleteTopics({ topics: [input, ...Object.values(out)] }).catch(() => {});
  }
}
