import fs from 'node:fs';
import path from 'node:path';
import { helpAsked, parseCommandArgs } from './args.js';
import { clientsFor } from './endpoints.js';
import { OutputObserver, percentile } from '../demo/observer.js';
import { DEMO, DEMO_PARTITIONS, ensureDemoTopics } from '../demo/topics.js';
import { DEMO_ADMIN_TOKEN_FILE, demoAdminToken, demoService, demoServiceUrl, startDemoService, waitForDemoService } from '../demo/service-process.js';
import { projectRoot } from '../devstack/paths.js';
import { stopProcess } from '../devstack/process.js';
import { stackDown, stackUp } from '../devstack/stack.js';
import { StreamscoreError } from '../errors.js';
import { KafkaAdmin } from '../kafka/admin.js';
import { type LoadResult, type SentRecord, produceLoad } from '../loadgen/load-producer.js';
import { ProgressLine, fmt } from './progress.js';

/** How long the demo waits for the last outputs once nothing new arrives. */
const STALL_TIMEOUT_MS = 60_000;
/** How long the demo waits for the service's /readyz before it gives up. */
const READY_TIMEOUT_MS = 120_000;
/**
 * The steady-state latency leaves out the first fifth of the events (by send time): they meet
 * cold connections and the first transactions. A share rather than seconds, so short runs keep samples.
 */
const WARM_UP_SHARE = 0.2;

interface ModelCardMetrics { test: { precision: number; recall: number } }

export const DEMO_USAGE = `usage: streamscore demo [--events N] [--rate R] [--keep] [--json] [--seed N]

The whole thing end to end: starts the local broker and registry (unless running), creates
the demo topics, runs streamscore on deploy/demo.yaml, produces fraud and IoT events and
reports what came out; then stops what it started.

options:
  --events N   events in all, half per scenario (default 20000)
  --rate R     events/s per scenario (default 2000; 0: as fast as possible)
  --keep       leave the broker, registry, topics and streamscore running
  --json       the summary as one JSON line on stdout (progress on stderr)
  --seed N     default 7
  -h, --help   this text
`;

export async function demoCommand(args: string[]): Promise<number> {
  if (helpAsked(args, DEMO_USAGE)) return 0;
  const { values } = parseCommandArgs({
    args,
    options: {
      events: { type: 'string', default: '20000' }, rate: { type: 'string', default: '2000' },
      keep: { type: 'boolean', default: false }, json: { type: 'boolean', default: false }, seed: { type: 'string', default: '7' },
    },
  }, DEMO_USAGE);
  const events = Number(values.events);
  const rate = Number(values.rate);
  if (!Number.isInteger(events) || events < 2) throw new StreamscoreError('CLI_USAGE', '--events must be an integer ≥ 2');
  if (!Number.isFinite(rate) || rate < 0) throw new StreamscoreError('CLI_USAGE', '--rate must be ≥ 0 (events/s per scenario; 0 = as fast as possible)');
  // With --json, stdout carries only the JSON summary; people read stderr.
  const out = values.json ? process.stderr : process.stdout;
  const say = (line = '') => out.write(`${line}\n`);

  say('streamscore demo: fraud scoring on card transactions + anomaly flags on pump sensors');
  const stack = await stackUp((l) => say(`  ${l}`));
  say(`  kafka ${stack.kafkaBrokers.join(',')}  registry ${stack.schemaRegistryUrl}`);
  const { kafka, registry } = clientsFor(stack, 'streamscore-demo-tools');
  const admin = new KafkaAdmin(kafka);
  await admin.connect();
  const created = await ensureDemoTopics(admin);
  await admin.disconnect();
  say(`  topics: ${created.length ? `created ${created.join(', ')}` : 'all present'} (${DEMO_PARTITIONS} partitions each)`);

  const adminToken = demoAdminToken(process.env);
  const service = startDemoService({ ...process.env, KAFKA_BROKERS: stack.kafkaBrokers.join(','), SCHEMA_REGISTRY_URL: stack.schemaRegistryUrl, STREAMSCORE_LOG_LEVEL: 'info', STREAMSCORE_ADMIN_TOKEN: adminToken });
  say(`  streamscore: ${service.started ? 'started' : 'already running'} (pid ${service.pid}, log .run/demo/streamscore.log, metrics ${demoServiceUrl()}/metrics)`);
  const waiting = new ProgressLine();
  let waitedMs: number;
  try {
    waitedMs = await waitForDemoService((ms, why) => waiting.update(`  waiting for streamscore to be ready before producing (${Math.round(ms / 1000)} s of ${READY_TIMEOUT_MS / 1000} s): ${why}`), READY_TIMEOUT_MS);
  } catch (err) {
    waiting.done();
    // A service that never became ready is not left running in the background; its log stays.
    if (service.started) await stopProcess(demoService, 20_000);
    throw err;
  }
  waiting.done(`  streamscore: ready (/readyz 200 after ${(waitedMs / 1000).toFixed(1)} s)`);

  const sent = new Map<string, SentRecord>();
  const observer = new OutputObserver(kafka, sent, {
    scored: [DEMO.fraud.scored, DEMO.iot.scored], alerts: [DEMO.fraud.alerts, DEMO.iot.alerts], dlq: [DEMO.fraud.dlq, DEMO.iot.dlq],
  });
  await observer.start();

  const perScenario = Math.floor(events / 2);
  const poisonRate = Math.min(0.01, 6 / perScenario);
  const runId = Date.now().toString(36);
  say(`  producing ${fmt(perScenario * 2)} events (${fmt(perScenario)} per scenario, ${rate ? `${fmt(rate)}/s each` : 'as fast as possible'}, about ${(poisonRate * 100).toFixed(2)} % poison)`);
  say();
  const started = Date.now();
  let producing = true;
  const load = (scenario: 'fraud' | 'iot', seed: number) => produceLoad(kafka, registry, {
    scenario, topic: DEMO[scenario].input, partitions: DEMO_PARTITIONS, rate, count: perScenario, format: 'avro', poisonRate, seed, runId: `${scenario}-${runId}`, sent,
  });
  const loads = Promise.all([load('fraud', Number(values.seed)), load('iot', Number(values.seed) + 1)]).finally(() => { producing = false; });

  const progress = new ProgressLine(1000);
  let lastTick = started;
  let lastIn = 0;
  let lastOut = 0;
  let lastProgressAt = Date.now();
  let lastOutputs = 0;
  for (;;) {
    await new Promise((r) => setTimeout(r, 250));
    const now = Date.now();
    const fresh = observer.collectLatencies();
    if (observer.outputsTotal !== lastOutputs) { lastOutputs = observer.outputsTotal; lastProgressAt = now; }
    if (now - lastTick >= 1000) {
      const secs = (now - lastTick) / 1000;
      const recent = fresh.length ? fresh.sort((a, b) => a - b) : [...observer.latencies].slice(-1000).sort((a, b) => a - b);
      progress.update(`in ${fmt((sent.size - lastIn) / secs)}/s  out ${fmt((observer.outputsTotal - lastOut) / secs)}/s  p50 ${fmt(percentile(recent, 50))} ms  p99 ${fmt(percentile(recent, 99))} ms  |  in ${fmt(sent.size)}  out ${fmt(observer.outputsTotal)}  fraud alerts ${fmt(observer.alertsByTopic(DEMO.fraud.alerts))}  anomaly flags ${fmt(observer.alertsByTopic(DEMO.iot.alerts))}  dead letters ${fmt(observer.deadTotal)}`, true);
      lastTick = now;
      lastIn = sent.size;
      lastOut = observer.outputsTotal;
    }
    if (observer.failure) throw new StreamscoreError('KAFKA_CONSUMER_CRASHED', `the demo's output reader stopped: ${observer.failure.message}`);
    if (!producing && observer.complete()) break;
    if (!producing && now - lastProgressAt > STALL_TIMEOUT_MS) break;
  }
  progress.done();
  const [fraudLoad, iotLoad] = await loads as [LoadResult, LoadResult];
  observer.collectLatencies();
  await observer.stop();

  const byValue = (a: number, b: number) => a - b;
  const lat = [...observer.latencies].sort(byValue);
  const steady = observer.steadyLatencies(WARM_UP_SHARE).sort(byValue);
  const fraud = observer.tally(DEMO.fraud.input);
  const iot = observer.tally(DEMO.iot.input);
  const cards = JSON.parse(fs.readFileSync(path.join(projectRoot, 'models/metrics.json'), 'utf8')) as Record<'fraud' | 'iot', ModelCardMetrics>;
  const pr = (t: typeof fraud) => ({
    precision: t.alerts ? +(t.truePositiveAlerts / t.alerts).toFixed(4) : 0,
    recall: t.positives ? +(t.truePositiveAlerts / t.positives).toFixed(4) : 0,
  });
  const outputSpanS = Math.max(0.001, (observer.lastOutputAt - observer.firstOutputAt) / 1000);
  const summary = {
    produced: fraudLoad.produced + iotLoad.produced,
    scored: fraud.scored + iot.scored,
    alerts: fraud.alerts + iot.alerts,
    deadLettered: fraud.deadLettered + iot.deadLettered,
    poisonSent: fraud.poisonSent + iot.poisonSent,
    poisonDeadLettered: fraud.poisonMatched + iot.poisonMatched,
    duplicates: fraud.duplicates + iot.duplicates,
    missing: fraud.missing + iot.missing,
    p50Ms: percentile(lat, 50),
    p99Ms: percentile(lat, 99),
    steadyP50Ms: percentile(steady, 50),
    steadyP99Ms: percentile(steady, 99),
    warmUpShare: WARM_UP_SHARE,
    eventsPerSec: Math.round((fraud.scored + iot.scored + fraud.deadLettered + iot.deadLettered) / outputSpanS),
    offeredPerSec: Math.round((fraudLoad.produced + iotLoad.produced) / (Math.max(fraudLoad.elapsedMs, iotLoad.elapsedMs) / 1000)),
    seconds: +((Date.now() - started) / 1000).toFixed(1),
    fraud: { ...fraud, alertQuality: pr(fraud), modelCard: cards.fraud.test },
    iot: { ...iot, alertQuality: pr(iot), modelCard: cards.iot.test },
  };

  say();
  say('summary');
  say(`  produced      ${fmt(summary.produced)} events (${fmt(fraudLoad.produced)} transactions, ${fmt(iotLoad.produced)} sensor readings) at ${fmt(summary.offeredPerSec)}/s`);
  say(`  scored        ${fmt(summary.scored)}   throughput ${fmt(summary.eventsPerSec)} events/s`);
  say(`  latency       p50 ${summary.steadyP50Ms} ms, p99 ${summary.steadyP99Ms} ms steady (after warm-up: the first ${WARM_UP_SHARE * 100} % of events left out); whole run p50 ${summary.p50Ms} ms, p99 ${summary.p99Ms} ms (produce → output readable)`);
  say(`  fraud alerts  ${fmt(fraud.alerts)}: precision ${pr(fraud).precision}, recall ${pr(fraud).recall} against the generator's truth (model card: ${cards.fraud.test.precision} / ${cards.fraud.test.recall})`);
  say(`  anomaly flags ${fmt(iot.alerts)}: precision ${pr(iot).precision}, recall ${pr(iot).recall} (model card: ${cards.iot.test.precision} / ${cards.iot.test.recall})`);
  say(`  dead letters  ${fmt(summary.deadLettered)} (${fmt(summary.poisonDeadLettered)} of ${fmt(summary.poisonSent)} poison records, each with the expected error code)`);
  say(`  exactly once  ${summary.duplicates} duplicates, ${summary.missing} missing`);
  if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);

  if (values.keep) {
    say();
    say('left running (--keep): broker, registry, topics and streamscore. Try:');
    say('  npm run streamscore -- tail fraud-alerts            # alerts as they are committed');
    say('  npm run streamscore -- produce --scenario fraud --rate 500 --duration 30');
    say('  curl -s http://127.0.0.1:9464/metrics | grep streamscore_records');
    say(`  export STREAMSCORE_ADMIN_TOKEN=$(cat ${path.relative(process.cwd(), DEMO_ADMIN_TOKEN_FILE)})   # the admin API's token`);
    say('  npm run streamscore -- model list                  # each pipeline\'s model');
    say('  npm run streamscore -- model shadow --pipeline fraud --path models/fraud-v2.onnx # score beside it, into transactions.shadow');
    say('  npm run streamscore -- model swap --pipeline fraud --path models/fraud-v2.onnx   # hot swap, no restart');
    say('  npm run dev:down                                    # stop everything');
  } else {
    if (service.started) await stopProcess(demoService, 60_000);
    const stopped = await stackDown({ kafka: stack.startedKafka, registry: stack.startedRegistry });
    if (service.started || stopped.length) say(`stopped what the demo started: ${[service.started && 'streamscore', ...stopped].filter(Boolean).join(', ')}`);
  }
  return summary.duplicates === 0 && summary.missing === 0 && summary.poisonDeadLettered === summary.poisonSent ? 0 : 1;
}
