import { StreamscoreError } from '../errors.js';
import { KafkaAdmin } from '../kafka/admin.js';
import { writeEventFile } from '../loadgen/event-file.js';
import { produceLoad } from '../loadgen/load-producer.js';
import { SCENARIOS, type ScenarioName } from '../loadgen/scenarios.js';
import { helpAsked, parseCommandArgs } from './args.js';
import { toolClients } from './endpoints.js';
import { ProgressLine, fmt } from './progress.js';

const DEFAULT_TOPIC: Record<ScenarioName, string> = { fraud: 'transactions', iot: 'sensor-readings' };

export const PRODUCE_USAGE = `usage: streamscore produce --scenario fraud|iot (--count N | --duration SECONDS) [options]

Writes generated card transactions (fraud) or pump sensor readings (iot) into a topic, on
KAFKA_BROKERS / SCHEMA_REGISTRY_URL, else the local stack; with --to-file, into a file
(for streamscore score). The same --seed and --run-id give the same events either way.

options:
  --scenario fraud|iot   what to generate
  --topic TOPIC          default: transactions (fraud), sensor-readings (iot)
  --to-file FILE         write to FILE instead of a topic: an Avro object container file
                         (--format avro), or JSON lines (--format json; the default for
                         a FILE ending in .jsonl or .json)
  --rate N               events per second (default 1000 to a topic, 0 to a file; 0: as fast as possible)
  --count N              stop after N events
  --duration SECONDS     stop after this long
  --format avro|json     default avro (through the schema registry)
  --poison-rate P        share of undecodable records, e.g. 0.001 (avro to a topic only; default 0)
  --seed N               default 1
  --run-id ID            prefix of the event ids (default: the scenario and the start time)
  -h, --help             this text
`;

export async function produceCommand(args: string[]): Promise<number> {
  if (helpAsked(args, PRODUCE_USAGE)) return 0;
  const { values } = parseCommandArgs({
    args,
    options: {
      scenario: { type: 'string' }, topic: { type: 'string' }, 'to-file': { type: 'string' }, rate: { type: 'string' },
      count: { type: 'string' }, duration: { type: 'string' }, format: { type: 'string' },
      'poison-rate': { type: 'string', default: '0' }, seed: { type: 'string', default: '1' }, 'run-id': { type: 'string' },
    },
  }, PRODUCE_USAGE);
  const problems: string[] = [];
  const scenario = values.scenario as ScenarioName;
  if (!scenario || !(scenario in SCENARIOS)) problems.push('--scenario must be fraud or iot');
  const num = (name: string, v: string | undefined) => {
    const n = Number(v);
    if (v !== undefined && (!Number.isFinite(n) || n < 0)) problems.push(`--${name} must be a number ≥ 0`);
    return v === undefined ? undefined : n;
  };
  const toFile = values['to-file'];
  const format = values.format ?? (toFile && /\.(jsonl|ndjson|json)$/i.test(toFile) ? 'json' : 'avro');
  const rate = num('rate', values.rate ?? (toFile ? '0' : '1000'))!;
  const count = num('count', values.count);
  const durationS = num('duration', values.duration);
  const poisonRate = num('poison-rate', values['poison-rate'])!;
  if (count === undefined && durationS === undefined) problems.push('give --count N or --duration SECONDS');
  if (format !== 'avro' && format !== 'json') problems.push('--format must be avro or json');
  if (poisonRate > 0 && format !== 'avro') problems.push('--poison-rate needs --format avro');
  if (toFile && poisonRate > 0) problems.push('--poison-rate writes Kafka wire-format poison: not with --to-file');
  if (toFile && values.topic) problems.push('give --topic or --to-file, not both');
  if (problems.length) throw new StreamscoreError('CLI_USAGE', `streamscore produce:\n  ${problems.join('\n  ')}\n${PRODUCE_USAGE.trimEnd()}`);

  const started = Date.now();
  const runId = values['run-id'] ?? `${scenario}-${started.toString(36)}`;
  const durationMs = durationS !== undefined ? durationS * 1000 : undefined;
  const progress = new ProgressLine();
  const target = count !== undefined ? `/${fmt(count)}` : '';
  const what = scenario === 'fraud' ? 'fraudulent' : 'anomalous';
  if (toFile) {
    const result = await writeEventFile({ scenario, file: toFile, format: format as 'avro' | 'json', rate, count, durationMs, seed: Number(values.seed), runId },
      (n) => progress.update(`${toFile}: wrote ${fmt(n)}${target} (${fmt(n / ((Date.now() - started) / 1000))}/s)`));
    progress.done(`${toFile}: wrote ${fmt(result.produced)} events (${format === 'json' ? 'JSON lines' : 'Avro object container'}) in ${(result.elapsedMs / 1000).toFixed(1)} s; ${fmt(result.positives)} ${what}; run id ${runId}`);
    return 0;
  }

  const topic = values.topic ?? DEFAULT_TOPIC[scenario];
  const { kafka, registry } = toolClients('streamscore-produce');
  const admin = new KafkaAdmin(kafka);
  await admin.connect();
  const partitions = (await admin.partitions(topic).catch(() => [])).length;
  await admin.disconnect();
  if (!partitions) throw new StreamscoreError('TOPICS_MISSING', `topic '${topic}' does not exist (create it, or run npm run demo -- --keep)`);

  const producing = Date.now();
  const result = await produceLoad(kafka, registry, {
    scenario, topic, partitions, rate, count, durationMs,
    format: format as 'avro' | 'json', poisonRate, seed: Number(values.seed), runId,
  }, (n) => progress.update(`${topic}: produced ${fmt(n)}${target} (${fmt(n / ((Date.now() - producing) / 1000))}/s)`));
  progress.done(`${topic}: produced ${fmt(result.produced)} events in ${(result.elapsedMs / 1000).toFixed(1)} s (${fmt(result.produced / (result.elapsedMs / 1000))}/s); ${fmt(result.positives)} ${what}, ${fmt(result.poisoned)} poison`);
  return 0;
}
