import path from 'node:path';
import pino from 'pino';
import { createRegistryClient } from '../codec/schema-registry.js';
import { loadConfig } from '../config/load.js';
import { limitHeapGrowth } from '../runtime/heap-growth.js';
import { StreamscoreError } from '../errors.js';
import { KafkaClient } from '../kafka/client.js';
import { parseBound } from '../replay/ranges.js';
import { Replay, type ReplayProgress } from '../replay/replay-run.js';
import { formatSummary } from '../replay/summary.js';
import { helpAsked, parseCommandArgs } from './args.js';
import { ProgressLine, fmt } from './progress.js';
import { AnyDecoder } from './tail.js';

export const REPLAY_USAGE = `usage: streamscore replay --config FILE --pipeline NAME --id NAME [options]

Scores a range of a pipeline's input again, with its model or another, into a replay topic,
exactly once. Reads the input partitions by assignment: the live group is not touched. The
range is fixed when a replay first starts; run the same command again (same --id) after a
crash or Ctrl-C and it goes on where it stopped, with no duplicate.

options:
  -c, --config FILE              the service's config
  --pipeline NAME                the pipeline to replay
  --id NAME                      names the replay: transactional id and offsets group <groupId>-replay-<NAME>
  --from earliest|TIME|P:OFFSET,…  first record (default earliest); TIME is ISO 8601, e.g. 2025-01-31T12:00:00Z,
                                 P:OFFSET per partition (TOPIC:P:OFFSET with several inputs)
  --to end|TIME|P:OFFSET,…       where to stop, exclusive (default end: the end when the replay first starts)
  --model PATH                   score with this model (default: the pipeline's)
  --output TOPIC                 default <scored topic>.replay, created with the input's partition count
  --compare                      join with the live scored topic: score agreement, alert confusion matrix
  --max-rate N                   at most N records per second (default: as fast as it goes)
  --json                         the summary as JSON on stdout
  -h, --help                     this text
`;

function progressText(id: string, p: ReplayProgress): string {
  const seconds = p.elapsedMs / 1000;
  const rate = seconds > 0 ? p.records / seconds : 0;
  const share = p.total > 0n ? Number(p.done) / Number(p.total) : 1;
  const etaS = rate > 0 && share < 1 ? (Number(p.total - p.done) / Number(p.done || 1n)) * seconds : 0;
  return `replay ${id}: ${fmt(p.records)} records (${(share * 100).toFixed(1)} %), ${fmt(rate)}/s, ETA ${share >= 1 ? '0' : fmt(etaS)} s`;
}

const shellQuote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

/** `streamscore replay`: exit 0 once the range is replayed (or stopped by a signal, resumable), 1 on an error, 2 on usage. */
export async function replayCommand(args: string[]): Promise<number> {
  if (helpAsked(args, REPLAY_USAGE)) return 0;
  const { values } = parseCommandArgs({
    args,
    options: {
      config: { type: 'string', short: 'c' }, pipeline: { type: 'string' }, id: { type: 'string' },
      from: { type: 'string', default: 'earliest' }, to: { type: 'string', default: 'end' },
      model: { type: 'string' }, output: { type: 'string' }, compare: { type: 'boolean', default: false },
      'max-rate': { type: 'string' }, json: { type: 'boolean', default: false },
    },
  }, REPLAY_USAGE);
  const missing = (['config', 'pipeline', 'id'] as const).filter((o) => !values[o]).map((o) => `--${o}`);
  if (missing.length) throw new StreamscoreError('CLI_USAGE', `streamscore replay: ${missing.join(', ')} required\n${REPLAY_USAGE.trimEnd()}`);
  const maxRate = values['max-rate'] === undefined ? undefined : Number(values['max-rate']);
  if (maxRate !== undefined && !(maxRate > 0)) throw new StreamscoreError('CLI_USAGE', '--max-rate must be a number > 0');
  const from = parseBound(values.from, 'from');
  const to = parseBound(values.to, 'to');

  const config = loadConfig(values.config!);
  limitHeapGrowth();
  const pipeline = config.pipelines.find((p) => p.name === values.pipeline);
  if (!pipeline) throw new StreamscoreError('CLI_USAGE', `no pipeline '${values.pipeline}' in ${values.config} (it has: ${config.pipelines.map((p) => p.name).join(', ')})`);
  // stdout is the summary's: the log goes to stderr, quiet unless asked for.
  const logger = pino({ level: process.env.STREAMSCORE_LOG_LEVEL ?? 'warn', base: { service: 'streamscore' } }, pino.destination(2));
  const client = new KafkaClient(config.kafka, logger, `${config.kafka.clientId}-replay`);
  const registry = config.schemaRegistry ? createRegistryClient(config.schemaRegistry) : undefined;
  const decoder = registry ? new AnyDecoder(registry) : undefined;
  const progress = new ProgressLine();
  let lastProgress: ReplayProgress | undefined;
  const replay = new Replay(
    { id: values.id!, config, pipeline, from, to, modelPath: values.model ? path.resolve(values.model) : undefined, output: values.output, compare: values.compare, maxRatePerSecond: maxRate },
    {
      client, registry, logger,
      decode: (v) => (decoder ? decoder.decode(v) : Promise.resolve(v ? JSON.parse(v.toString('utf8')) : null)),
      onStart: ({ resumed }) => { if (resumed) process.stderr.write(`replay ${values.id}: resuming where the last run stopped; the range its first run fixed applies\n`); },
      onProgress: (p) => {
        lastProgress = p;
        progress.update(progressText(values.id!, p));
      },
    },
  );
  let stopping = false;
  const onSignal = () => {
    if (stopping) process.exit(130);
    stopping = true;
    process.stderr.write(`\nreplay ${values.id}: stopping, committing what was read (again to quit at once)\n`);
    replay.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const summary = await replay.run();
    if (lastProgress) progress.done(progressText(values.id!, lastProgress));
    process.stdout.write(values.json ? `${JSON.stringify(summary)}\n` : formatSummary(summary));
    if (summary.interrupted) process.stderr.write(`replay ${values.id} stopped before its end; to resume, run the same command:\n  streamscore replay ${args.map(shellQuote).join(' ')}\n`);
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
