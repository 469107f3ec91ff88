import fs from 'node:fs';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import avro from 'avsc';
import { avroType } from '../codec/avro-types.js';
import { projectRoot } from '../devstack/paths.js';
import { StreamscoreError } from '../errors.js';
import { pacedSteps } from './pacing.js';
import { SCENARIOS, type ScenarioName } from './scenarios.js';

export interface EventFileOptions {
  scenario: ScenarioName;
  file: string;
  /** json: one JSON event per line; avro: an object container file with the scenario's schema. */
  format: 'avro' | 'json';
  /** Events per second; 0 means as fast as the disk takes them. */
  rate: number;
  count?: number;
  durationMs?: number;
  seed: number;
  /** Prefix of event ids: with the same seed and id prefix, a file and a topic get the same events. */
  runId: string;
}

export interface EventFileResult {
  produced: number;
  positives: number;
  elapsedMs: number;
}

/**
 * The load generator's events into a file instead of a topic (`produce --to-file`): the same
 * generator, seed and id prefix as produceLoad, so both give the same events, and a JSONL and
 * an Avro file of one seed hold the same events too.
 */
export async function writeEventFile(opts: EventFileOptions, onProgress?: (produced: number) => void): Promise<EventFileResult> {
  const scenario = SCENARIOS[opts.scenario];
  const next = scenario.generator(opts.seed, opts.runId);
  const out = fs.createWriteStream(opts.file);
  let sink: NodeJS.WritableStream & { write(chunk: unknown): boolean } = out;
  let encoder: avro.streams.BlockEncoder | undefined;
  if (opts.format === 'avro') {
    const type = avroType(fs.readFileSync(`${projectRoot}/${scenario.schemaFile}`, 'utf8'));
    encoder = new avro.streams.BlockEncoder(type, { codec: 'deflate' });
    encoder.pipe(out);
    sink = encoder;
  }
  let failed: Error | undefined;
  for (const s of encoder ? [encoder, out] : [out]) s.on('error', (err: Error) => { failed ??= err; });
  const fail = () => new StreamscoreError('OUTPUT_FILE_FAILED', `writing ${opts.file}: ${failed!.message}`);

  let produced = 0;
  let positives = 0;
  const started = Date.now();
  for await (const { now, n } of pacedSteps(opts)) {
    if (failed) throw fail();
    let lines = '';
    let full = false;
    for (let i = 0; i < n; i++) {
      const { event, positive } = next(now);
      if (positive) positives++;
      if (encoder) full = !encoder.write(event) || full;
      else lines += `${JSON.stringify(event)}\n`;
    }
    if (!encoder) full = !out.write(lines);
    produced += n;
    onProgress?.(produced);
    if (full) await Promise.race([once(sink, 'drain'), finished(out)]).catch(() => undefined); // a failure is in `failed`
  }
  sink.end();
  await finished(out).catch(() => undefined);
  if (failed) throw fail();
  return { produced, positives, elapsedMs: Date.now() - started };
}
