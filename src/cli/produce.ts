import { StreamscoreError } from '../errors.js';
import { KafkaAdmin } from '../kafka/admin.js';
import { produceLoad } from '../loadgen/load-producer.js';
import { SCENARIOS, type ScenarioName } from '../loadgen/scenarios.js';
import { helpAsked, parseCommandArgs } from './args.js';
import { toolClients } from './endpoints.js';
import { ProgressLine, fmt } from './progress.js';

const DEFAULT_TOPIC: Record<ScenarioName, string> = { fraud: 'transactions', iot: 'sensor-readings' };

export const PRODUCE_USAGE = `usage: streamscore produce --scenario fraud|iot (--count N | --duration SECONDS) [options]

Writes generated card transactions (fraud) or pump sensor readings (iot) into a topic, on
KAFKA_BROKERS / SCHEMA_REGISTRY_URL, else the local stack.

options:
  --scenario fraud|iot   what to generate
  --topic TOPIC          default: transactions (fraud), sensor-readings (iot)
  --rate N               events per second (default 1000; 0: as fast as possible)
  --count N              stop after N events
  --duration SECONDS     stop after this long
  --format avro|json     default avro (through the schema registry)
  --poison-rate P        share of undecodable records, e.g. 0.001 (avro only; default 0)
  --seed N               default 1
  -h, --help             this text
`;

export async function produceCommand(args: string[]): Promise<number> {
  if (helpAsked(args, PRODUCE_USAGE)) return 0;
  const { values } = parseCommandArgs({
    args,
    options: {
      scenario: { type: 'string' }, topic: { type: 'string' }, rate: { type: 'string', default: '1000' },
      count: { type: 'string' }, duration: { type: 'string' }, format: { type: 'string', default: 'avro' },
      'poison-rate': { type: 'string', default: '0' }, seed: { type: 'string', default: '1' },
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
  const rate = num('rate', values.rate)!;
  const count = num('count', values.count);
  const durationS = num('duration', values.duration);
  const poisonRate = num('poison-rate', values['poison-rate'])!;
  if (count === undefined && durationS === undefined) problems.push('give --count N or --duration SECONDS');
  if (values.format !== 'avro' && values.format !== 'json') problems.push('--format must be avro or json');
  if (poisonRate > 0 && values.format !== 'avro') problems.push('--poison-rate needs --format avro');
  if (problems.length) throw new StreamscoreError('CLI_USAGE', `streamscore produce:\n  ${problems.join('\n  ')}\n${PRODUCE_USAGE.trimEnd()}`);

  const topic = values.topic ?? DEFAULT_TOPIC[scenario];
  const { kafka, registry } = toolClients('streamscore-produce');
  const admin = new KafkaAdmin(kafka);
  await admin.connect();
  const partitions = (await admin.partitions(topic).catch(() => [])).length;
  await admin.disconnect();
  if (!partitions) throw new StreamscoreError('TOPICS_MISSING', `topic '${topic}' does not exist (create it, or run npm run demo -- --keep)`);

  const progress = new ProgressLine();
  const target = count !== undefined ? `/${fmt(count)}` : '';
  const started = Date.now();
  const result = await produceLoad(kafka, registry, {
    scenario, topic, partitions, rate, count, durationMs: durationS !== undefined ? durationS * 1000 : undefined,
    format: values.format as 'avro' | 'json', poisonRate, seed: Number(values.seed), runId: `${scenario}-${started.toString(36)}`,
  }, (n) => progress.update(`${topic}: produced ${fmt(n)}${target} (${fmt(n / ((Date.now() - started) / 1000))}/s)`));
  progress.done(`${topic}: produced ${fmt(result.produced)} events in ${(result.elapsedMs / 1000).toFixed(1)} s (${fmt(result.produced / (result.elapsedMs / 1000))}/s); ${fmt(result.positives)} ${scenario === 'fraud' ? 'fraudulent' : 'anomalous'}, ${fmt(result.poisoned)} poison`);
  return 0;
}
