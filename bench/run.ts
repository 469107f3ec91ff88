/**
 * npm run bench [-- --quick] [-- --json FILE]
 * One run, one local broker, one pre-produced Avro backlog over 12 partitions, one model:
 * ceilings (ONNX Runtime alone, the Kafka pipe alone, Kafka's perf tools), streamscore
 * (exactly-once and at-least-once maximum, peak RSS, end-to-end latency in both modes at
 * 500/s, 2,000/s and half the exactly-once maximum, a batching sweep) and two peers written
 * as a user would (Python: confluent-kafka + onnxruntime; Java: kafka-clients + ONNX Runtime).
 * streamscore's config for every run is built in service-config.ts.
 */
import '../src/kafka/kafkajs-fixes.js';
import fs from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { clientsFor } from '../src/cli/endpoints.js';
import { stackDown, stackUp } from '../src/devstack/stack.js';
import { produceLoad } from '../src/loadgen/load-producer.js';
import { createTopicsAndWait } from '../src/kafka/admin.js';
import { uniqueName } from '../test/support/read.js';
import { kafkaPerfTools, kafkajsPipe, onnxCeiling } from './ceilings.js';
import { PARTITIONS, median } from './common.js';
import { javaPeer, javaPeerLatencyAtLoad, pythonPeer } from './peers.js';
import type { RunSettings } from './service-config.js';
import { type Cluster, type LatencyPoint, drainBacklog, latencyAroundSwap, latencyAtLoad } from './streamscore-runs.js';
import { repo } from '../test/support/paths.js';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, json: { type: 'string' } } });
const quick = values.quick!;
const N = quick ? 200_000 : 500_000;
const SWEEP_N = quick ? 60_000 : 150_000;
const REPEATS = quick ? 1 : 3;
/** Each latency point: this many seconds at its rate, uncounted, then the timed seconds. */
const WARM_UP_S = quick ? 3 : 5;
const LATENCY_S = quick ? 10 : 20;
const SWEEP_LATENCY_S = quick ? 4 : 10;
/** The latency targets, p50 / p99 ms, per delivery mode and offered load. */
const LATENCY_TARGETS_MS = {
  atLeastOnce: { at500: [10, 30], at2000: [15, 40], atHalfMax: [60, 150] },
  exactlyOnce: { at500: [30, 80], at2000: [40, 100], atHalfMax: [60, 150] },
} as const;
type LoadPoint = keyof typeof LATENCY_TARGETS_MS.exactlyOnce;
type ModeKey = keyof typeof LATENCY_TARGETS_MS;
const log = (l: string) => process.stderr.write(`${l}\n`);
const began = Date.now();

const stack = await stackUp((l) => log(`  ${l}`));
const { kafka: client, registry } = clientsFor(stack, 'bench');
const kafka = client.raw;
const admin = kafka.admin();
await admin.connect();
const c: Cluster = { client, kafka, admin, registry, brokers: stack.kafkaBrokers, registryUrl: stack.schemaRegistryUrl };
const results: Record<string, unknown> = { machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.cpus()[0]?.model ?? ''}`.trim(), quick, records: N, repeats: REPEATS, startedAt: new Date().toISOString() };

async function backlog(records: number): Promise<string> {
  const topic = uniqueName('bench-in');
  await createTopicsAndWait(admin, [{ topic, numPartitions: PARTITIONS }]);
  const load = await produceLoad(client, c.registry, { scenario: 'fraud', topic, partitions: PARTITIONS, rate: 0, count: records, format: 'avro', poisonRate: 0, seed: 11, runId: topic });
  log(`  backlog ${topic}: ${records} Avro events in ${(load.elapsedMs / 1000).toFixed(1)} s`);
  return topic;
}

try {
  log(`bench (${quick ? 'quick' : 'full'}): ${N} events, ${REPEATS} repeat(s)`);
  const input = await backlog(N);

  log('ceiling: ONNX Runtime alone');
  results.onnxRowsPerSec = await onnxCeiling([1, 64, 256, 1024], quick ? 2_000 : 6_000);

  log("ceiling: Kafka's perf tools");
  const perfTopic = uniqueName('bench-perf');
  await createTopicsAndWait(admin, [{ topic: perfTopic, numPartitions: PARTITIONS }]);
  results.kafkaPerfTools = kafkaPerfTools(stack.kafkaBrokers.join(','), perfTopic, N);

  log('ceiling: the Kafka pipe with kafkajs (no decode, no model)');
  results.kafkajsPipe = {
    plain: (await kafkajsPipe(kafka, admin, input, N, false)).perSec,
    transactional: (await kafkajsPipe(kafka, admin, input, N, true)).perSec,
  };

  const eos: RunSettings = { delivery: 'exactly-once', maxBatchSize: 256, maxQueueDelayMs: 5 };
  const alo: RunSettings = { ...eos, delivery: 'at-least-once' };
  const drains = { eos: [] as number[], alo: [] as number[], rss: [] as number[] };
  for (let r = 0; r < REPEATS; r++) {
    log(`streamscore: drain the backlog, exactly-once (run ${r + 1})`);
    const e = await drainBacklog(c, input, N, eos);
    drains.eos.push(e.perSec);
    drains.rss.push(e.peakRssMb);
    log(`  ${e.perSec} events/s, peak RSS ${e.peakRssMb} MB`);
    log(`streamscore: drain the backlog, at-least-once (run ${r + 1})`);
    const a = await drainBacklog(c, input, N, alo);
    drains.alo.push(a.perSec);
    drains.rss.push(a.peakRssMb);
    log(`  ${a.perSec} events/s`);
  }
  const eosMax = median(drains.eos);
  results.streamscore = { exactlyOncePerSec: eosMax, atLeastOncePerSec: median(drains.alo), peakRssMb: Math.max(...drains.rss), runs: drains };

  // Latency, both modes at the same offered loads (atHalfMax: half the exactly-once maximum).
  const loads: Record<LoadPoint, number> = { at500: 500, at2000: 2_000, atHalfMax: Math.round(eosMax / 2) };
  const latency = { atLeastOnce: {}, exactlyOnce: {} } as Record<ModeKey, Record<LoadPoint, LatencyPoint>>;
  for (const [point, rate] of Object.entries(loads) as [LoadPoint, number][]) {
    for (const [mode, s] of [['atLeastOnce', alo], ['exactlyOnce', eos]] as const) {
      log(`streamscore: latency, ${s.delivery}, ${rate}/s offered (${WARM_UP_S} s warm-up + ${LATENCY_S} s timed)`);
      const p = await latencyAtLoad(c, rate, { warmUpSeconds: WARM_UP_S, seconds: LATENCY_S }, s);
      latency[mode][point] = p;
      log(`  p50 ${p.p50Ms} ms, p99 ${p.p99Ms} ms (${p.offeredPerSec}/s achieved)`);
    }
  }
  // Model rollout: the latency of the seconds around a hot swap, beside steady state at the same
  // load; and what a shadow model costs at full speed (the same drain with one scoring beside).
  log(`streamscore: latency around a hot swap, exactly-once, 2000/s offered (swap half-way through ${LATENCY_S} s)`);
  const aroundSwap = await latencyAroundSwap(c, 2_000, { warmUpSeconds: WARM_UP_S, seconds: LATENCY_S }, eos);
  log(`  p50 ${aroundSwap.p50Ms} ms, p99 ${aroundSwap.p99Ms} ms (steady: p50 ${latency.exactlyOnce.at2000.p50Ms} ms, p99 ${latency.exactlyOnce.at2000.p99Ms} ms)`);
  log('streamscore: drain the backlog, exactly-once, with a shadow model (fraud-v2) beside the primary');
  const shadowed = await drainBacklog(c, input, N, { ...eos, shadowModel: repo('models/fraud-v2.onnx') });
  log(`  ${shadowed.perSec} events/s, peak RSS ${shadowed.peakRssMb} MB`);
  results.modelRollout = {
    swapAt2000: { p50Ms: aroundSwap.p50Ms, p99Ms: aroundSwap.p99Ms, outputs: aroundSwap.outputs },
    steadyAt2000: { p50Ms: latency.exactlyOnce.at2000.p50Ms, p99Ms: latency.exactlyOnce.at2000.p99Ms },
    withShadowPerSec: shadowed.perSec,
    withShadowPeakRssMb: shadowed.peakRssMb,
    withShadowOverWithout: +(shadowed.perSec / eosMax).toFixed(2),
  };

  // The same measurement as the exactly-once half-max point, under its older key.
  results.latencyAtHalfMax = latency.exactlyOnce.atHalfMax;
  results.latency = latency;

  log('streamscore: batching sweep');
  const sweepInput = await backlog(SWEEP_N);
  const sweep = [];
  for (const maxBatchSize of quick ? [32, 512] : [16, 64, 256, 1024]) {
    for (const maxQueueDelayMs of quick ? [1, 20] : [0, 5, 20]) {
      const s: RunSettings = { delivery: 'exactly-once', maxBatchSize, maxQueueDelayMs };
      const drain = await drainBacklog(c, sweepInput, SWEEP_N, s);
      const lat = await latencyAtLoad(c, 2_000, { warmUpSeconds: WARM_UP_S, seconds: SWEEP_LATENCY_S }, s);
      sweep.push({ maxBatchSize, maxQueueDelayMs, maxPerSec: drain.perSec, p50MsAt2000: lat.p50Ms, p99MsAt2000: lat.p99Ms });
      log(`  batch ${maxBatchSize}, delay ${maxQueueDelayMs} ms: ${drain.perSec}/s max; p50 ${lat.p50Ms} ms, p99 ${lat.p99Ms} ms at 2,000/s`);
    }
  }
  results.sweep = sweep;

  log('peer: Python (confluent-kafka + onnxruntime, transactional)');
  const py = [];
  for (let r = 0; r < REPEATS; r++) py.push(await pythonPeer(c, input, N, log));
  log('peer: Java (kafka-clients + ONNX Runtime for Java + Avro, transactional)');
  const java = [];
  for (let r = 0; r < REPEATS; r++) java.push(await javaPeer(c, input, N, log));
  // The Java peer's latency at streamscore's loads: what this machine allows a JVM service there.
  const javaLatency = {} as Record<LoadPoint, LatencyPoint>;
  for (const [point, rate] of Object.entries(loads) as [LoadPoint, number][]) {
    log(`peer: Java, latency, exactly-once, ${rate}/s offered (${WARM_UP_S} s warm-up + ${LATENCY_S} s timed)`);
    const p = await javaPeerLatencyAtLoad(c, rate, { warmUpSeconds: WARM_UP_S, seconds: LATENCY_S }, log);
    javaLatency[point] = p;
    log(`  p50 ${p.p50Ms} ms, p99 ${p.p99Ms} ms (${p.offeredPerSec}/s achieved)`);
  }
  results.peers = {
    python: { perSec: median(py.map((p) => p.perSec)), outputsVerified: py.every((p) => p.outputsVerified) },
    java: { perSec: median(java.map((p) => p.perSec)), outputsVerified: java.every((p) => p.outputsVerified), latency: javaLatency },
  };

  const pipe = results.kafkajsPipe as { plain: number; transactional: number };
  results.ratios = {
    streamscoreOverPython: +(eosMax / median(py.map((p) => p.perSec))).toFixed(2),
    streamscoreOverJava: +(eosMax / median(java.map((p) => p.perSec))).toFixed(2),
    streamscoreOverKafkajsTransactionalPipe: +(eosMax / pipe.transactional).toFixed(2),
    exactlyOnceOverAtLeastOnce: +(eosMax / median(drains.alo)).toFixed(2),
  };
  results.seconds = Math.round((Date.now() - began) / 1000);
  await admin.deleteTopics({ topics: [input, sweepInput, perfTopic] }).catch(() => {});
} finally {
  await admin.disconnect();
  await stackDown({ kafka: stack.startedKafka, registry: stack.startedRegistry });
}

const r = results as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const rows: [string, string][] = [
  ['ONNX Runtime alone, rows/s (batch 1 / 64 / 256 / 1024)', Object.values(r.onnxRowsPerSec).join(' / ')],
  ["Kafka perf tools: produce / consume, records/s", `${r.kafkaPerfTools.producerPerSec} / ${r.kafkaPerfTools.consumerPerSec}`],
  ['kafkajs pipe, no work: plain / transactional, events/s', `${r.kafkajsPipe.plain} / ${r.kafkajsPipe.transactional}`],
  ['streamscore exactly-once, events/s', String(r.streamscore.exactlyOncePerSec)],
  ['streamscore at-least-once, events/s', String(r.streamscore.atLeastOncePerSec)],
  [`latency at ${r.latencyAtHalfMax.offeredPerSec}/s offered, p50 / p99 ms`, `${r.latencyAtHalfMax.p50Ms} / ${r.latencyAtHalfMax.p99Ms}`],
  ['streamscore peak RSS, MB', String(r.streamscore.peakRssMb)],
  ['Python peer (confluent-kafka + onnxruntime), events/s', `${r.peers.python.perSec}${r.peers.python.outputsVerified ? '' : ' (OUTPUT COUNT WRONG)'}`],
  ['Java peer (kafka-clients + ONNX Runtime + Avro), events/s', `${r.peers.java.perSec}${r.peers.java.outputsVerified ? '' : ' (OUTPUT COUNT WRONG)'}`],
  ['streamscore / Python peer', String(r.ratios.streamscoreOverPython)],
  ['streamscore / Java peer', String(r.ratios.streamscoreOverJava)],
  ['streamscore / kafkajs transactional pipe', String(r.ratios.streamscoreOverKafkajsTransactionalPipe)],
  ['exactly-once / at-least-once', String(r.ratios.exactlyOnceOverAtLeastOnce)],
  ['exactly-once with a shadow model, events/s (over without)', `${r.modelRollout.withShadowPerSec} (${r.modelRollout.withShadowOverWithout})`],
  ['2,000/s exactly-once, p50 / p99 ms: the seconds around a hot swap / steady', `${r.modelRollout.swapAt2000.p50Ms} / ${r.modelRollout.swapAt2000.p99Ms} ; ${r.modelRollout.steadyAt2000.p50Ms} / ${r.modelRollout.steadyAt2000.p99Ms}`],
];
const cell = (mode: ModeKey, point: LoadPoint) => {
  const { p50Ms, p99Ms } = r.latency[mode][point] as LatencyPoint;
  const [p50, p99] = LATENCY_TARGETS_MS[mode][point];
  return `${p50Ms} / ${p99Ms} ${p50Ms <= p50 && p99Ms <= p99 ? '✓' : '✗'} | ≤${p50} / ≤${p99}`;
};
const loadLabel = { at500: '500', at2000: '2,000', atHalfMax: `${Math.round(r.streamscore.exactlyOncePerSec / 2).toLocaleString('en')} (half the exactly-once max)` };
const table = ['| measure | value |', '| --- | --- |', ...rows.map(([k, v]) => `| ${k} | ${v} |`), '',
  '| offered, events/s | at-least-once p50 / p99 ms | target | exactly-once p50 / p99 ms | target | Java peer (exactly-once) p50 / p99 ms |', '| --- | --- | --- | --- | --- | --- |',
  ...(Object.keys(loadLabel) as LoadPoint[]).map((p) => `| ${loadLabel[p]} | ${cell('atLeastOnce', p)} | ${cell('exactlyOnce', p)} | ${r.peers.java.latency[p].p50Ms} / ${r.peers.java.latency[p].p99Ms} |`), '',
  '| maxBatchSize | maxQueueDelayMs | max events/s | p50 ms at 2,000/s | p99 ms at 2,000/s |', '| --- | --- | --- | --- | --- |',
  ...r.sweep.map((s: Record<string, number>) => `| ${s.maxBatchSize} | ${s.maxQueueDelayMs} | ${s.maxPerSec} | ${s.p50MsAt2000} | ${s.p99MsAt2000} |`)].join('\n');
process.stdout.write(`\n${r.machine}; ${N} events; ${r.seconds} s\n\n${table}\n`);
const file = values.json ?? 'bench/results/latest.json';
fs.mkdirSync(file.split('/').slice(0, -1).join('/') || '.', { recursive: true });
fs.writeFileSync(file, JSON.stringify(results, null, 2));
log(`JSON: ${file}`);
