import fs from 'node:fs';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type avro from 'avsc';
import { avroType } from '../codec/avro-types.js';
import type { OutputEncoder } from '../codec/codec.js';
import { StreamscoreError } from '../errors.js';

/**
 * A scored record as one JSON line: the fields of the pipeline's output schema (the same
 * copied from the input as live, everything when it has none), with `source` the row of the
 * file (`{file, line}` or `{file, record}`) where live it is a topic position.
 */
export class JsonLinesOutputEncoder implements OutputEncoder {
  readonly fields: { name: string; hasDefault: boolean }[];

  constructor(schemaFile: string | undefined, private readonly positionName: 'line' | 'record') {
    this.fields = schemaFile
      ? (avroType(fs.readFileSync(schemaFile, 'utf8')) as avro.types.RecordType).fields.map((f) => ({ name: f.name, hasDefault: f.defaultValue() !== undefined }))
      : [];
  }

  encode(record: Record<string, unknown>): Buffer {
    // OutputRecords built this record for us alone: its source can be replaced in place.
    const source = record.source as { topic: string; offset: string | number };
    record.source = { file: source.topic, [this.positionName]: Number(source.offset) };
    return Buffer.from(JSON.stringify(record));
  }
}

/** The scores file and `<scores>.errors.jsonl`, written in order, waiting when the disk is behind. */
export class ScoreFileWriter {
  readonly errorsFile: string;
  private readonly scores: fs.WriteStream;
  private readonly errors: fs.WriteStream;
  private failed: Error | undefined;

  private constructor(readonly scoresFile: string) {
    this.errorsFile = `${scoresFile}.errors.jsonl`;
    this.scores = fs.createWriteStream(scoresFile);
    // Written even when empty, so an errors file left by an earlier run is never taken for this one's.
    this.errors = fs.createWriteStream(this.errorsFile);
    for (const s of [this.scores, this.errors]) s.on('error', (err) => { this.failed ??= err; });
  }

  private check(): void {
    if (this.failed) throw new StreamscoreError('OUTPUT_FILE_FAILED', `writing ${this.scoresFile}: ${this.failed.message}`);
  }

  static async open(scoresFile: string): Promise<ScoreFileWriter> {
    const writer = new ScoreFileWriter(scoresFile);
    try {
      await Promise.all([once(writer.scores, 'open'), once(writer.errors, 'open')]);
    } catch (err) {
      writer.scores.destroy();
      writer.errors.destroy();
      throw new StreamscoreError('OUTPUT_FILE_FAILED', `cannot write ${scoresFile} and ${writer.errorsFile}: ${(err as Error).message}`);
    }
    return writer;
  }

  /** `scored`: lines with their newlines. */
  async write(scored: Buffer[], errors: string[]): Promise<void> {
    this.check();
    const waits: Promise<unknown>[] = [];
    if (scored.length && !this.scores.write(Buffer.concat(scored))) waits.push(once(this.scores, 'drain'));
    if (errors.length && !this.errors.write(errors.join(''))) waits.push(once(this.errors, 'drain'));
    await Promise.all(waits).catch(() => undefined);
    this.check();
  }

  async close(): Promise<void> {
    await Promise.all([this.scores, this.errors].map((s) => finished(s.end()).catch(() => undefined)));
    this.check();
  }
}
