import fs from 'node:fs';
import type { Admin, Kafka } from 'kafkajs';
import type { SchemaRegistryClient } from '../src/codec/schema-registry.js';
import type { KafkaClient } from '../src/kafka/client.js';
import type { StreamscoreConfig } from '../src/config/types.js';
import { OutputObserver, percentile } from '../src/demo/observer.js';
import { type SentRecord, produceLoad } from '../src/loadgen/load-producer.js';
import { createTopicsAndWait } from '../src/kafka/admin.js';
import { waitFor } from '../src/util/wait.js';
import { uniqueName } from '../test/support/read.js';
import { ServiceProcess } from '../test/support/service-process.js';
import { repo } from '../test/support/paths.js';
import { PARTITIONS, groupCaughtUp, peakRssMb } from './common.js';
import { type RunSettings, serviceConfig } from './service-config.js';

export interface Cluster {
  /** streamscore's client (load generator, observer); `kafka` is its kafkajs client. */
  client: KafkaClient;
  kafka: Kafka;
  admin: Admin;
  registry: SchemaRegistryClient;
  brokers: string[];
  registryUrl: string;
}

async function outputTopics(admin: Admin, withShadow = false) {
  const base = uniqueName('bench-out');
  const t = { scored: `${base}.scored`, alerts: `${base}.alerts`, dlq: `${base}.dlq`, ...(withShadow ? { shadow: `${base}.shadow` } : {}) };
  await createTopicsAndWait(admin, Object.values(t).map((topic) => ({ topic, numPartitions: PARTITIONS })));
  return t;
}

/**
 * Maximum sustained throughput: streamscore (a real process) drains a pre-produced backlog;
 * timed from its 'running' line to its group's offsets reaching the end. Peak RSS from /proc.
 */
export async function drainBacklog(c: Cluster, input: string, count: number, s: RunSettings): Promise<{ perSec: number; seconds: number; peakRssMb: number }> {
  const out = await outputTopics(c.admin, s.shadowModel !== undefined);
  const group = uniqueName('bench-g');
  const service = ServiceProcess.start(serviceConfig(c, { input, groupId: group, ...out }, s), 'bench');
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

export interface LatencyPoint {
  /** Events/s the load generator achieved over the measured phase. */
  offeredPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Scored and dead-lettered outputs of the measured records (duplicates included). */
  outputs: number;
}

/** What processes the input in a latency run: started once its topics exist, stopped after. */
export interface Processor {
  /** Resolves once it is ready for load (the warm-up burst then proves it processes). */
  ready(): Promise<void>;
  stop(): Promise<void>;
}

export interface LatencyTopics {
  input: string;
  groupId: string;
  scored: string;
  alerts: string;
  dlq: string;
}

/**
 * One latency point: end-to-end latency (produce ack → output readable under read_committed)
 * of a fresh streamscore process at a fixed offered load. Uncounted warm-up first: a burst on
 * every partition (its producer fenced in, its offsets read) until the group has caught up,
 * then `warmUpSeconds` at `rate`; then `seconds` at `rate`, whose records alone are timed.
 */
export function latencyAtLoad(c: Cluster, rate: number, phases: { warmUpSeconds: number; seconds: number }, s: RunSettings): Promise<LatencyPoint> {
  return latencyOf(c, rate, phases, (t) => {
    const service = ServiceProcess.start(serviceConfig(c, t, s), 'bench-latency');
    return {
      ready: () => service.waitForLog('running', 120_000),
      stop: async () => {
        service.signal('SIGTERM');
        await service.exit(60_000).catch(() => service.kill());
      },
    };
  });
}

/**
 * The latency of the `seconds` around a hot swap: the same measurement as latencyAtLoad, with
 * the model swapped (fraud.onnx → fraud-v2.onnx, by SIGHUP after rewriting the config) half-way
 * through the measured phase.
 */
export function latencyAroundSwap(c: Cluster, rate: number, phases: { warmUpSeconds: number; seconds: number }, s: RunSettings): Promise<LatencyPoint> {
  let service: ServiceProcess | undefined;
  let config: StreamscoreConfig | undefined;
  return latencyOf(c, rate, phases, (t) => {
    config = serviceConfig(c, t, s);
    service = ServiceProcess.start(config, 'bench-swap');
    return {
      ready: () => service!.waitForLog('running', 120_000),
      stop: async () => {
        service!.signal('SIGTERM');
        await service!.exit(60_000).catch(() => service!.kill());
      },
    };
  }, async () => {
    const p = config!.pipelines[0]!;
    fs.writeFileSync(service!.configFile, JSON.stringify({ ...config, pipelines: [{ ...p, model: { ...p.model, path: repo('models/fraud-v2.onnx') } }] }));
    service!.signal('SIGHUP');
    await service!.waitForLog('model swapped', 30_000);
  });
}

/** The same measurement for any processor that writes streamscore's source header on its outputs (a peer). */
export async function latencyOf(c: Cluster, rate: number, phases: { warmUpSeconds: number; seconds: number }, start: (t: LatencyTopics) => Processor, midway?: () => Promise<void>): Promise<LatencyPoint> {
  const input = uniqueName('bench-lat');
  const groupId = `${input}-g`;
  await createTopicsAndWait(c.admin, [{ topic: input, numPartitions: PARTITIONS }]);
  const out = await outputTopics(c.admin);
  let processor: Processor | undefined;
  const sent = new Map<string, SentRecord>();
  // Reads every output; only records in `sent` (the measured phase) count.
  const observer = new OutputObserver(c.client, sent, { scored: [out.scored], alerts: [out.alerts], dlq: [out.dlq] });
  const load = (o: { count?: number; durationMs?: number; rate: number; seed: number; runId: string; sent?: Map<string, SentRecord> }) =>
    produceLoad(c.client, c.registry, { scenario: 'fraud', topic: input, partitions: PARTITIONS, format: 'avro', poisonRate: 0, ...o });
  try {
    processor = start({ input, groupId, ...out });
    await Promise.all([processor.ready(), observer.start()]);
    await load({ rate: 0, count: PARTITIONS * 50, seed: 2, runId: `${input}-burst` });
    await groupCaughtUp(c.admin, groupId, input, 120_000);
    await load({ rate, durationMs: phases.warmUpSeconds * 1000, seed: 4, runId: `${input}-warm` });
    // Half-way through the measured phase, whatever the caller wants to time (a model swap); its
    // failure is kept and thrown once the load is done, never left unhandled.
    let midwayFailed: unknown;
    let midwayDone: Promise<void> | undefined;
    const timer = midway && setTimeout(() => { midwayDone = midway().catch((err: unknown) => { midwayFailed = err ?? new Error('midway failed'); }); }, phases.seconds * 500);
    let measured;
    try {
      measured = await load({ rate, count: Math.round(rate * phases.seconds), seed: 3, runId: input, sent });
    } finally {
      if (timer) clearTimeout(timer);
    }
    await midwayDone;
    if (midwayFailed) throw midwayFailed;
    if (midway && !midwayDone) throw new Error('the measured phase ended before its midway step ran');
    await waitFor(() => {
      if (observer.failure) throw observer.failure;
      return observer.complete();
    }, { timeoutMs: 120_000, intervalMs: 100, what: 'every output' });
    observer.collectLatencies();
    const lat = [...observer.latencies].sort((a, b) => a - b);
    const t = observer.tally(input);
    return { offeredPerSec: Math.round(measured.produced / (measured.elapsedMs / 1000)), p50Ms: percentile(lat, 50), p99Ms: percentile(lat, 99), outputs: t.scored + t.deadLettered + t.duplicates };
  } finally {
    await observer.stop();
    await processor?.stop();
    await c.admin.deleteTopics({ topics: [input, ...Object.values(out)] }).catch(() => {});
  }
}
