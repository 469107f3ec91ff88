import fs from 'node:fs';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import avro from 'avsc';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { avroType } from '../../src/codec/avro-types.js';
import { StreamscoreError } from '../../src/errors.js';
import { writeEventFile } from '../../src/loadgen/event-file.js';
import { scoreFile } from '../../src/offline/score-file.js';
import { type Event, fraudEvents, fraudPipeline, readJsonl, runStreamscore, scoresById, scratchDir } from '../support/offline-fixtures.js';
import { repo } from '../support/paths.js';
import { referenceFraudScores } from '../support/pipeline-fixtures.js';

const dir = scratchDir('score-file');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const file = (name: string) => path.join(dir, name);
const logger = pino({ level: 'silent' });
const readerSchema = JSON.parse(fs.readFileSync(repo('schemas/card-transaction.avsc'), 'utf8')) as { fields: { name: string }[] } & Record<string, unknown>;
const DAY_MS = 86_400_000;

async function writeAvro(to: string, schema: unknown, records: Event[], codec: 'null' | 'deflate' = 'null', blockSize?: number): Promise<void> {
  const encoder = new avro.streams.BlockEncoder(avroType(schema as avro.Schema), { codec, blockSize });
  const out = fs.createWriteStream(to);
  encoder.pipe(out);
  for (const r of records) encoder.write(r);
  encoder.end();
  await finished(out);
}

const score = (input: string, output: string, modelPath?: string) => scoreFile({ pipeline: fraudPipeline(), input: file(input), output: file(output), modelPath, logger });

describe('streamscore score', () => {
  const events = fraudEvents(2000, 42, 'u');

  it('produce --to-file: the JSONL and the Avro file hold the generator\'s events for the seed, and score the same', async () => {
    const opts = { scenario: 'fraud' as const, rate: 0, count: 2000, seed: 42, runId: 'u' };
    await writeEventFile({ ...opts, file: file('gen.jsonl'), format: 'json' });
    await writeEventFile({ ...opts, file: file('gen.avro'), format: 'avro' });
    // The day of eventTime is the day the events were made; the hour (the feature) is the seed's.
    const timeOfDay = (e: Event) => ({ ...e, eventTime: (e.eventTime as number) % DAY_MS });
    expect(readJsonl(file('gen.jsonl')).map(timeOfDay)).toEqual(events.map(timeOfDay));

    const json = await score('gen.jsonl', 'gen.jsonl.scores');
    const avroRun = await score('gen.avro', 'gen.avro.scores');
    expect([json.rows, json.scored, json.errors, avroRun.format, avroRun.rows, avroRun.scored, avroRun.errors]).toEqual([2000, 2000, 0, 'avro', 2000, 2000, 0]);
    const strip = (r: Record<string, unknown>) => ({ ...r, source: undefined, scoredAt: undefined });
    expect(readJsonl(file('gen.avro.scores')).map(strip)).toEqual(readJsonl(file('gen.jsonl.scores')).map(strip));
    expect(json.alerts).toBe(avroRun.alerts);
    expect(json.alerts).toBeGreaterThan(0);
  });

  it('a JSONL and an Avro file of the same events with poison rows: the same scores as the model run directly; bad rows in the errors file with their codes', async () => {
    // JSONL: the events, one a line, with bad lines at known line numbers.
    const lines = events.map((e) => JSON.stringify(e));
    const poison: [number, string, string][] = [
      [10, 'this is not json', 'DECODE_BAD_JSON'],
      [500, '[1, 2, 3]', 'DECODE_NOT_OBJECT'],
      [900, JSON.stringify({ ...events[0], transactionId: 'p-1', channel: 'TELEPATHY' }), 'FEATURE_NOT_NUMERIC'],
      [1300, JSON.stringify({ ...events[0], transactionId: 'p-2', amount: '12.50' }), 'FEATURE_NOT_NUMERIC'],
      [1700, JSON.stringify({ ...events[0], transactionId: 'p-3', txCount1h: undefined }), 'FEATURE_MISSING'],
    ];
    for (const [at, line] of [...poison].reverse()) lines.splice(at, 0, line);
    fs.writeFileSync(file('poison.jsonl'), `${lines.join('\n')}\n\n`); // a trailing blank line is not a row
    // Avro: the events with non-finite features (Avro carries NaN and Infinity, JSON cannot) at known record indexes.
    const records = [...events];
    const nanAt = [0, 777, 1999];
    for (const at of [...nanAt].reverse()) records.splice(at, 0, { ...events[at]!, transactionId: `nan-${at}`, distanceFromHomeKm: at === 777 ? Number.POSITIVE_INFINITY : Number.NaN });
    await writeAvro(file('poison.avro'), readerSchema, records, 'deflate', 4096);

    const json = await score('poison.jsonl', 'poison.jsonl.scores');
    const avroRun = await score('poison.avro', 'poison.avro.scores');
    expect([json.rows, json.scored, json.errors]).toEqual([2005, 2000, 5]);
    expect(json.errorsByCode).toEqual({ DECODE_BAD_JSON: 1, DECODE_NOT_OBJECT: 1, FEATURE_NOT_NUMERIC: 2, FEATURE_MISSING: 1 });
    expect([avroRun.rows, avroRun.scored, avroRun.errors]).toEqual([2003, 2000, 3]);

    const reference = await referenceFraudScores(events);
    const fromJson = scoresById(file('poison.jsonl.scores'));
    const fromAvro = scoresById(file('poison.avro.scores'));
    events.forEach((e, i) => {
      const id = e.transactionId as string;
      expect(fromJson.get(id)).toBe(fromAvro.get(id));
      expect(Math.abs(fromJson.get(id)! - reference[i]!)).toBeLessThan(1e-6);
    });

    const jsonErrors = readJsonl(file('poison.jsonl.scores.errors.jsonl'));
    expect(jsonErrors.map((e) => [(e.source as { line: number }).line, e.code])).toEqual(poison.map(([at, , code], k) => [at + k + 1, code]));
    expect(jsonErrors[0]).toMatchObject({ source: { file: file('poison.jsonl') }, value: 'this is not json', reason: expect.stringContaining('not JSON') });
    expect(jsonErrors[2]!.reason).toBe("field 'channel' (model column 'channel') is 'TELEPATHY', not one of the enum's symbols");
    const avroErrors = readJsonl(file('poison.avro.scores.errors.jsonl'));
    expect(avroErrors.map((e) => [(e.source as { record: number }).record, e.code])).toEqual(nanAt.map((at, k) => [at + k, 'FEATURE_NOT_FINITE']));
    // The row as it was in the file: its Avro body, which decodes to the poisoned event.
    const body = Buffer.from(avroErrors[1]!.valueBase64 as string, 'base64');
    expect((avroType(readerSchema as avro.Schema).fromBuffer(body) as Event).transactionId).toBe('nan-777');
    // Positions of scored rows are rows of the file.
    expect(readJsonl(file('poison.avro.scores'))[0]!.source).toEqual({ file: file('poison.avro'), record: 1 });
  });

  it('an Avro file written with an older, compatible writer schema decodes with the reader schema\'s defaults', async () => {
    // The old schema lacks amountToAvgRatio and knownDevice (defaults 1 and true) and has a field the reader does not know.
    const old = {
      ...readerSchema,
      fields: [...readerSchema.fields.filter((f) => f.name !== 'amountToAvgRatio' && f.name !== 'knownDevice'), { name: 'terminalId', type: 'string' }],
    };
    const some = events.slice(0, 300);
    await writeAvro(file('old.avro'), old, some.map((e) => ({ ...e, terminalId: 'T1' })));
    const filled = some.map((e) => ({ ...e, amountToAvgRatio: 1, knownDevice: true }));
    fs.writeFileSync(file('filled.jsonl'), filled.map((e) => JSON.stringify(e)).join('\n'));

    const old_ = await score('old.avro', 'old.scores');
    await score('filled.jsonl', 'filled.scores');
    expect([old_.scored, old_.errors]).toEqual([300, 0]);
    expect(scoresById(file('old.scores'))).toEqual(scoresById(file('filled.scores')));
    const reference = await referenceFraudScores(filled);
    const fromOld = readJsonl(file('old.scores'));
    fromOld.forEach((r, i) => expect(Math.abs((r.score as number) - reference[i]!)).toBeLessThan(1e-6));
    // The evolved fields change the scores: the file was not read as if it had the reader's schema.
    const asWritten = await referenceFraudScores(some);
    expect(fromOld.some((r, i) => Math.abs((r.score as number) - asWritten[i]!) > 1e-3)).toBe(true);
  });

  it('an Avro file whose writer schema cannot be read as the reader schema fails the run with DECODE_INCOMPATIBLE_SCHEMA', async () => {
    const incompatible = { ...readerSchema, fields: readerSchema.fields.filter((f) => f.name !== 'cardId') }; // cardId has no default
    await writeAvro(file('incompatible.avro'), incompatible, events.slice(0, 10));
    const err = await score('incompatible.avro', 'incompatible.scores').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StreamscoreError);
    expect((err as StreamscoreError).code).toBe('DECODE_INCOMPATIBLE_SCHEMA');
    expect((err as Error).message).toContain('cardId');
  });

  it('an Avro file cut short: the records of its last, partial block are errors (DECODE_TRUNCATED); every earlier one is scored', async () => {
    await writeAvro(file('whole.avro'), readerSchema, events, 'null', 8192);
    const whole = fs.readFileSync(file('whole.avro'));
    fs.writeFileSync(file('cut.avro'), whole.subarray(0, Math.floor(whole.length * 0.6)));
    const cut = await score('cut.avro', 'cut.scores');
    expect(cut.errorsByCode).toEqual({ DECODE_TRUNCATED: cut.errors });
    expect(cut.errors).toBeGreaterThan(0);
    expect(cut.rows).toBe(cut.scored + cut.errors);
    expect(cut.scored).toBeGreaterThan(1000);
    const scored = readJsonl(file('cut.scores'));
    expect(scored.map((r) => r.transactionId)).toEqual(events.slice(0, cut.scored).map((e) => e.transactionId));
    const errors = readJsonl(file('cut.scores.errors.jsonl'));
    expect(errors.map((e) => (e.source as { record: number }).record)).toEqual(Array.from({ length: cut.errors }, (_, i) => cut.scored + i));
    expect(errors[0]!.reason).toContain('the file ends inside the block');
  });

  it('a file that is neither: every line fails as JSON, nothing stops the run', async () => {
    fs.writeFileSync(file('junk.bin'), Buffer.from([0x4f, 0x62, 0x6a, 0x02, 0x0a, 0xff, 0xfe, 0x0a]));
    const junk = await score('junk.bin', 'junk.scores');
    expect([junk.rows, junk.scored, junk.errorsByCode]).toEqual([2, 0, { DECODE_BAD_JSON: 2 }]);
  });

  it.skipIf(!fs.existsSync(repo('models/fraud-v2.onnx')))('--model: another model scores the file, named by its own metadata, the same for JSONL and Avro', async () => {
    await writeAvro(file('v2.avro'), readerSchema, events);
    fs.writeFileSync(file('v2.jsonl'), events.map((e) => JSON.stringify(e)).join('\n'));
    const v2 = repo('models/fraud-v2.onnx');
    const fromAvro = await score('v2.avro', 'v2.avro.scores', v2);
    await score('v2.jsonl', 'v2.jsonl.scores', v2);
    await score('v2.jsonl', 'v1.scores');
    expect(fromAvro.model).toEqual({ name: 'fraud-gbdt', version: '2.0.0', path: v2 });
    expect(readJsonl(file('v2.avro.scores'))[0]!.model).toEqual({ name: 'fraud-gbdt', version: '2.0.0' });
    expect(scoresById(file('v2.avro.scores'))).toEqual(scoresById(file('v2.jsonl.scores')));
    const v1 = scoresById(file('v1.scores'));
    const differ = [...scoresById(file('v2.jsonl.scores'))].filter(([id, s]) => Math.abs(s - v1.get(id)!) > 1e-6).length;
    expect(differ).toBeGreaterThan(1000);
  });
});

describe('streamscore score, the command', () => {
  it('--help prints the usage and exits 0; --json prints the summary on stdout; a missing --input is a usage error (2)', async () => {
    const help = await runStreamscore(['score', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('usage: streamscore score --config FILE');

    const events = file('cli.jsonl');
    const made = await runStreamscore(['produce', '--scenario', 'fraud', '--count', '500', '--seed', '3', '--run-id', 'cli', '--to-file', events]);
    expect(made.code).toBe(0);
    const run = await runStreamscore(['score', '--config', repo('deploy/demo.yaml'), '--pipeline', 'fraud', '--input', events, '--output', file('cli.scores'), '--json']);
    expect(run.code).toBe(0);
    const summary = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(summary).toMatchObject({ format: 'jsonl', pipeline: 'fraud', rows: 500, scored: 500, errors: 0, model: { name: 'fraud-gbdt', version: '1.0.0' } });
    expect(summary.rowsPerSecond).toBeGreaterThan(0);
    expect(run.stderr).toContain('500 rows');
    expect(readJsonl(file('cli.scores'))).toHaveLength(500);

    const usage = await runStreamscore(['score', '--config', repo('deploy/demo.yaml'), '--output', file('x')]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--input FILE is required');
  });
});
