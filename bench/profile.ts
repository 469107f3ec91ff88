/**
 * npm run bench:profile — where streamscore's time goes at full speed: drains a 200,000-event
 * backlog (exactly-once) under V8's CPU profiler and sums self time by stage.
 *
 * npm run bench:profile -- --memory [--node-options "--max-old-space-size=256"]
 *     [--kafka '{"fetchMaxBytes":1048576}'] [--batching '{"maxQueuedRecords":2048}'] [--model '{"intraOpThreads":2}']
 *     [--drift '{"window":0}'] [--built]
 * the same drain without the profiler, reporting events/s, the service's CPU seconds and its
 * peak RSS, V8 heap and external memory: for trying memory settings one run at a time.
 * --built runs dist/ (npm run build first) as the image does, not the sources through tsx.
 */
import '../src/kafka/kafkajs-fixes.js';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import path from 'node:path';
import { clientsFor } from '../src/cli/endpoints.js';
import { stackDown, stackUp } from '../src/devstack/stack.js';
import { produceLoad } from '../src/loadgen/load-producer.js';
import { createTopicsAndWait } from '../src/kafka/admin.js';
import { waitFor } from '../src/util/wait.js';
import { repo } from '../test/support/paths.js';
import { uniqueName } from '../test/support/read.js';
import { PARTITIONS, groupCaughtUp } from './common.js';
import { serviceConfig } from './service-config.js';
import { NODE_MEMORY_FLAGS } from '../src/runtime/heap-growth.js';

const N = 200_000;
const { values: opts } = parseArgs({ options: {
  memory: { type: 'boolean', default: false },
  built: { type: 'boolean', default: false },
  'node-options': { type: 'string', default: '' },
  kafka: { type: 'string', default: '{}' },
  batching: { type: 'string', default: '{}' },
  model: { type: 'string', default: '{}' },
  drift: { type: 'string', default: '{}' },
} });
/** Which stage a profiled function belongs to, by the file it lives in. */
const STAGES: [RegExp, string][] = [
  [/node_modules\/kafkajs\/src\/(protocol\/recordBatch|protocol\/message|protocol\/decoder|protocol\/encoder|protocol\/crc32)/, 'kafkajs: record (de)serialisation'],
  [/node_modules\/kafkajs/, 'kafkajs: client (network, fetch, produce, bookkeeping)'],
  [/node_modules\/avsc/, 'avsc: Avro decode/encode'],
  [/node_modules\/onnxruntime/, 'onnxruntime-node'],
  [/node_modules\/prom-client/, 'prom-client'],
  [/node_modules\/pino|thread-stream/, 'logging'],
  [/(src|dist)\/(codec|inference\/features)/, 'streamscore: decode + features'],
  [/(src|dist)\/(sink|pipeline|batching|source|kafka)/, 'streamscore: batching, outputs, sinks'],
  [/\(garbage collector\)/, 'garbage collection'],
  [/\(idle\)|\(program\)/, 'idle / native (incl. ONNX Runtime threads)'],
];

const stack = await stackUp(() => {});
const { kafka: client, registry } = clientsFor(stack, 'profile');
const kafka = client.raw;
const admin = kafka.admin();
await admin.connect();
const input = uniqueName('profile-in');
const out = { scored: `${input}.scored`, alerts: `${input}.alerts`, dlq: `${input}.dlq` };
await createTopicsAndWait(admin, [input, ...Object.values(out)].map((topic) => ({ topic, numPartitions: PARTITIONS })));
await produceLoad(client, registry, { scenario: 'fraud', topic: input, partitions: PARTITIONS, rate: 0, count: N, format: 'avro', poisonRate: 0, seed: 5, runId: input });
const dir = repo('.run/profile');
fs.rmSync(dir, { recursive: true, force: true });
fs.mkdirSync(dir, { recursive: true });
const configFile = path.join(dir, 'config.json');
const config = structuredClone(serviceConfig({ brokers: stack.kafkaBrokers, registryUrl: stack.schemaRegistryUrl }, { input, groupId: `${input}-g`, ...out },
  { delivery: 'exactly-once', maxBatchSize: 256, maxQueueDelayMs: 5 }));
Object.assign(config.kafka, JSON.parse(opts.kafka!));
Object.assign(config.pipelines[0]!.batching, JSON.parse(opts.batching!));
Object.assign(config.pipelines[0]!.model, JSON.parse(opts.model!));
Object.assign(config.pipelines[0]!.drift, JSON.parse(opts.drift!));
fs.writeFileSync(configFile, JSON.stringify(config));
const memoryFile = path.join(dir, 'memory.json');
const instrument = opts.memory ? ['--import', repo('bench/support/memory-sampler.mjs')] : ['--cpu-prof', `--cpu-prof-dir=${dir}`];
const entry = opts.built ? [repo('dist/cli/main.js')] : ['--import', 'tsx', repo('src/cli/main.ts')];
// The project's node flags first; --node-options given here come after them and win.
const child = spawn(process.execPath, [...NODE_MEMORY_FLAGS, ...opts['node-options']!.split(' ').filter(Boolean), ...instrument, ...entry, 'run', '--config', configFile],
  { stdio: 'inherit', env: { ...process.env, STREAMSCORE_MEMORY_OUT: memoryFile } });
const started = Date.now();
await groupCaughtUp(admin, `${input}-g`, input, 600_000);
const seconds = (Date.now() - started) / 1000;
child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
await admin.deleteTopics({ topics: [input, ...Object.values(out)] }).catch(() => {});
await admin.disconnect();
await stackDown({ kafka: stack.startedKafka, registry: stack.startedRegistry });
if (opts.memory) {
  process.stdout.write(`${JSON.stringify({ eventsPerSec: Math.round(N / seconds), nodeOptions: opts['node-options'], kafka: JSON.parse(opts.kafka!), batching: JSON.parse(opts.batching!), model: JSON.parse(opts.model!), built: opts.built, ...JSON.parse(fs.readFileSync(memoryFile, 'utf8')) })}\n`);
  process.exit(0);
}
await waitFor(() => fs.readdirSync(dir).some((f) => f.endsWith('.cpuprofile')), { timeoutMs: 10_000, what: 'the CPU profile' });

interface Node { id: number; callFrame: { functionName: string; url: string }; }
const profile = JSON.parse(fs.readFileSync(path.join(dir, fs.readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))!), 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const stageMs = new Map<string, number>();
const fnMs = new Map<string, number>();
profile.samples.forEach((id, i) => {
  const frame = byId.get(id)!.callFrame;
  const where = `${frame.url} ${frame.functionName}`;
  const stage = STAGES.find(([re]) => re.test(where))?.[1] ?? (frame.url.includes('node:') || frame.url === '' ? 'node internals' : 'other');
  const ms = (profile.timeDeltas[i] ?? 0) / 1000;
  stageMs.set(stage, (stageMs.get(stage) ?? 0) + ms);
  const fn = `${frame.functionName || '(anonymous)'} ${frame.url.replace(/.*node_modules\//, '').replace(/.*\/src\//, 'src/')}`;
  fnMs.set(fn, (fnMs.get(fn) ?? 0) + ms);
});
const total = [...stageMs.values()].reduce((a, b) => a + b, 0);
process.stdout.write(`drained ${N} events in ${seconds.toFixed(1)} s (${Math.round(N / seconds)}/s) under the profiler\n\n| stage | share of main-thread time |\n| --- | --- |\n`);
for (const [stage, ms] of [...stageMs].sort((a, b) => b[1] - a[1])) process.stdout.write(`| ${stage} | ${((ms / total) * 100).toFixed(1)} % |\n`);
process.stdout.write('\ntop functions by self time:\n');
for (const [fn, ms] of [...fnMs].sort((a, b) => b[1] - a[1]).slice(0, 15)) process.stdout.write(`  ${((ms / total) * 100).toFixed(1).padStart(5)} %  ${fn}\n`);
