import fs from 'node:fs';
import pino from 'pino';
import { loadConfig } from '../config/load.js';
import { StreamscoreError } from '../errors.js';
import { createLogger } from '../observability/logger.js';
import { type ScoreFileSummary, scoreFile } from '../offline/score-file.js';
import { helpAsked, parseCommandArgs } from './args.js';
import { ProgressLine, fmt } from './progress.js';

export const SCORE_USAGE = `usage: streamscore score --config FILE [--pipeline NAME] --input EVENTS --output SCORES [options]

Scores a file of events with a pipeline's features and model, as the live pipeline would,
without Kafka or the schema registry. EVENTS is an Avro object container file (read with its
own schema resolved against the pipeline's reader schema) or JSON lines (one event a line).
SCORES gets one JSON line per scored event; rows the live pipeline would dead-letter go to
SCORES.errors.jsonl with the same error code and reason. Make a file with
streamscore produce --to-file.

options:
  -c, --config FILE     the config (YAML)
  -p, --pipeline NAME   the pipeline whose features and model to use (needed if the config has several)
  -i, --input FILE      the events (.avro or .jsonl)
  -o, --output FILE     the scores (JSON lines); errors to FILE.errors.jsonl
  --model PATH          score with this ONNX model instead of the pipeline's
  --json                print the summary as JSON on stdout
  -h, --help            this text
`;

export async function scoreCommand(args: string[]): Promise<number> {
  if (helpAsked(args, SCORE_USAGE)) return 0;
  const { values } = parseCommandArgs({
    args,
    options: {
      config: { type: 'string', short: 'c' }, pipeline: { type: 'string', short: 'p' },
      input: { type: 'string', short: 'i' }, output: { type: 'string', short: 'o' },
      model: { type: 'string' }, json: { type: 'boolean', default: false },
    },
  }, SCORE_USAGE);
  const problems: string[] = [];
  if (!values.config) problems.push('--config FILE is required');
  if (!values.input) problems.push('--input FILE is required');
  if (!values.output) problems.push('--output FILE is required');
  if (values.model && !fs.existsSync(values.model)) problems.push(`--model ${values.model}: no such file`);
  if (problems.length) throw new StreamscoreError('CLI_USAGE', `streamscore score:\n  ${problems.join('\n  ')}\n${SCORE_USAGE.trimEnd()}`);

  const config = loadConfig(values.config!);
  const names = config.pipelines.map((p) => p.name);
  const pipeline = values.pipeline ? config.pipelines.find((p) => p.name === values.pipeline) : config.pipelines.length === 1 ? config.pipelines[0] : undefined;
  if (!pipeline) {
    const why = values.pipeline ? `no pipeline '${values.pipeline}' in ${values.config}` : `${values.config} has ${names.length} pipelines: choose one with --pipeline`;
    throw new StreamscoreError('CLI_USAGE', `streamscore score: ${why} (${names.join(', ')})`);
  }

  // stdout is for --json; the log (warnings only) goes to stderr.
  const logger = createLogger('warn', { destination: pino.destination(2) });
  const progress = new ProgressLine();
  const summary = await scoreFile({
    pipeline, input: values.input!, output: values.output!, modelPath: values.model, logger,
    onProgress: (p) => progress.update(progressText(values.input!, p.rows, p.bytesDone, p.sizeBytes, p.elapsedMs)),
  });
  progress.done(progressText(values.input!, summary.rows, 1, 1, summary.seconds * 1000));
  if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else process.stdout.write(summaryText(summary));
  return 0;
}

function progressText(input: string, rows: number, bytesDone: number, sizeBytes: number, elapsedMs: number): string {
  const share = sizeBytes > 0 ? bytesDone / sizeBytes : 1;
  const eta = share > 0 && share < 1 ? `, ETA ${Math.ceil((elapsedMs / 1000) * (1 / share - 1))} s` : '';
  return `${input}: ${fmt(rows)} rows (${fmt(rows / Math.max(elapsedMs / 1000, 1e-3))}/s), ${Math.floor(share * 100)} %${eta}`;
}

export function summaryText(s: ScoreFileSummary): string {
  const codes = Object.entries(s.errorsByCode).map(([code, n]) => `${code} ${fmt(n)}`).join(', ');
  const count = (n: number, what: string) => `${fmt(n)} ${what}${n === 1 ? '' : 's'}`;
  return [
    `${s.input} (${s.format}) with ${s.model.name} ${s.model.version}, threshold ${s.threshold}:`,
    `  ${count(s.rows, 'row')}, ${fmt(s.scored)} scored (${count(s.alerts, 'alert')}), ${count(s.errors, 'error')}${codes ? ` (${codes})` : ''}`,
    `  ${s.seconds.toFixed(1)} s, ${fmt(s.rowsPerSecond)} rows/s`,
    `  scores: ${s.output}; errors: ${s.errorsFile}`,
    '',
  ].join('\n');
}
