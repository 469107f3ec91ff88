import zlib from 'node:zlib';
import avro from 'avsc';
import type { AvroReader } from '../codec/avro-reader.js';
import { avroType } from '../codec/avro-types.js';
import { StreamscoreError } from '../errors.js';
import type { ByteReader } from './byte-reader.js';
import type { RowSource, SourceRow } from './event-source.js';

export const AVRO_MAGIC = Buffer.from('Obj\x01', 'latin1');
const SYNC_BYTES = 16;

const HEADER = avro.Type.forSchema({
  type: 'record', name: 'org.apache.avro.file.Header',
  fields: [
    { name: 'magic', type: { type: 'fixed', name: 'Magic', size: 4 } },
    { name: 'meta', type: { type: 'map', values: 'bytes' } },
    { name: 'sync', type: { type: 'fixed', name: 'Sync', size: SYNC_BYTES } },
  ],
});
const LONG = avro.Type.forSchema('long');

const DECOMPRESS: Record<string, (data: Buffer) => Buffer> = {
  null: (data) => data,
  deflate: (data) => zlib.inflateRawSync(data),
};

function truncated(message: string): SourceRow['result'] {
  return { ok: false, error: new StreamscoreError('DECODE_TRUNCATED', message) };
}

/**
 * An Avro object container file, block by block: its records are decoded with the file's
 * writer schema resolved against the reader schema, as the live codec does for a registry
 * id. A record that does not decode fails with the live codec's code and reason; the rest
 * of its block (whose record boundaries are then unknown) fails with it, and reading goes on
 * at the next block.
 */
export class AvroFileSource implements RowSource {
  readonly format = 'avro';
  readonly positionName = 'record';
  private block: Buffer | undefined;
  private blockPos = 0;
  private blockLeft = 0;
  private index = 0;
  private blocksRead = 0;
  /** Set when the file ends inside a block: nothing after it can be read. */
  private ended = false;

  private constructor(
    private readonly bytes: ByteReader,
    private readonly reader: AvroReader,
    private readonly resolver: avro.Resolver,
    private readonly sync: Buffer,
    private readonly decompress: (data: Buffer) => Buffer,
  ) {}

  static async open(bytes: ByteReader, readerFor: (writerSchema: avro.Schema) => AvroReader): Promise<AvroFileSource> {
    const unreadable = (why: string) => new StreamscoreError('INPUT_FILE_UNREADABLE', `${bytes.path}: ${why}`);
    let header: { value: { meta: Record<string, Buffer>; sync: Buffer }; offset: number };
    for (;;) {
      header = HEADER.decode(bytes.buf, bytes.pos) as typeof header;
      if (header.offset >= 0) break;
      if (!(await bytes.fill(bytes.available + 1))) throw unreadable('the Avro header is cut short');
    }
    bytes.pos = header.offset;
    const codec = header.value.meta['avro.codec']?.toString() ?? 'null';
    const decompress = DECOMPRESS[codec];
    if (!decompress) throw unreadable(`compression '${codec}' is not supported (null and deflate are)`);
    let writerSchema: avro.Schema;
    let writer: avro.Type;
    try {
      writerSchema = JSON.parse(header.value.meta['avro.schema']?.toString() ?? '') as avro.Schema;
      writer = avroType(writerSchema);
    } catch (err) {
      throw unreadable(`the header's schema is not a valid Avro schema: ${(err as Error).message}`);
    }
    const reader = readerFor(writerSchema);
    const resolved = reader.resolve(writer, `the writer schema of ${bytes.path}`);
    // Every record of the file has this schema: one that cannot be read fails the whole run.
    if (!resolved.ok) throw resolved.error;
    return new AvroFileSource(bytes, reader, resolved.resolver, Buffer.from(header.value.sync), decompress);
  }

  get sizeBytes(): number {
    return this.bytes.sizeBytes;
  }

  get bytesDone(): number {
    return this.ended ? this.bytes.sizeBytes : this.bytes.offset;
  }

  async next(max: number): Promise<SourceRow[]> {
    const rows: SourceRow[] = [];
    while (rows.length < max) {
      if (this.blockLeft === 0 && !(await this.nextBlock(rows))) break;
      if (this.blockLeft === 0) continue; // an empty block, or one that was lost
      const start = this.blockPos;
      const { result, end } = this.reader.decodeAt(this.block!, start, this.resolver);
      if (end < 0) {
        // Where the next record starts is unknown: the rest of the block fails with this one.
        rows.push({ position: this.index++, raw: null, result });
        for (let left = this.blockLeft - 1; left > 0; left--) rows.push({ position: this.index++, raw: null, result });
        this.blockLeft = 0;
        continue;
      }
      rows.push({ position: this.index++, raw: this.block!.subarray(start, end), result });
      this.blockPos = end;
      this.blockLeft--;
    }
    return rows;
  }

  /**
   * Reads the next block into `block`; false at the end of the file. A block cut short or
   * followed by the wrong sync marker yields error rows for what it claimed to hold.
   */
  private async nextBlock(rows: SourceRow[]): Promise<boolean> {
    const b = this.bytes;
    if (this.ended || !(await b.fill(1))) return false;
    this.blocksRead++;
    let count: { value: number; offset: number };
    let size: { value: number; offset: number };
    for (;;) {
      count = LONG.decode(b.buf, b.pos) as typeof count;
      size = count.offset >= 0 ? (LONG.decode(b.buf, count.offset) as typeof size) : { value: 0, offset: -1 };
      if (size.offset >= 0) break;
      if (!(await b.fill(b.available + 1))) {
        this.lose(1, `block ${this.blocksRead}: the file ends inside the block's header`, rows);
        this.ended = true;
        return false;
      }
    }
    const dataStart = size.offset - b.pos;
    const whole = dataStart + size.value + SYNC_BYTES;
    // A corrupt header can claim anything: never more error rows than it has bytes.
    const claimed = Math.max(1, Math.min(count.value, size.value));
    if (count.value < 0 || size.value < 0 || b.offset + whole > b.sizeBytes) {
      this.lose(claimed, `block ${this.blocksRead}: the file ends inside the block (it claims ${whole} bytes, ${b.sizeBytes - b.offset} are left)`, rows);
      this.ended = true;
      return false;
    }
    await b.fill(whole);
    const data = b.buf.subarray(b.pos + dataStart, b.pos + dataStart + size.value);
    const sync = b.buf.subarray(b.pos + dataStart + size.value, b.pos + whole);
    if (!sync.equals(this.sync)) {
      // The block's count and size cannot be trusted: one error row, then on from the next sync marker.
      this.lose(1, `block ${this.blocksRead}: not followed by the file's sync marker (the file is corrupt from byte ${b.offset})`, rows);
      b.pos += 1;
      await this.resync();
      return true;
    }
    b.pos += whole;
    try {
      this.block = this.decompress(data);
    } catch (err) {
      this.lose(claimed, `block ${this.blocksRead}: cannot be decompressed: ${(err as Error).message}`, rows);
      return true;
    }
    this.blockPos = 0;
    this.blockLeft = count.value;
    return true;
  }

  /** Skips to just after the next sync marker, or to the end of the file. */
  private async resync(): Promise<void> {
    const b = this.bytes;
    for (;;) {
      const at = b.buf.indexOf(this.sync, b.pos);
      if (at >= 0) {
        b.pos = at + SYNC_BYTES;
        return;
      }
      // Keep a marker's worth of bytes, in case one straddles the chunk boundary.
      b.pos = Math.max(b.pos, b.buf.length - SYNC_BYTES + 1);
      if (!(await b.fill(b.available + 1))) {
        b.pos = b.buf.length;
        return;
      }
    }
  }

  /** A block whose records cannot be read: one error row per record it claimed. */
  private lose(count: number, reason: string, rows: SourceRow[]): void {
    const result = truncated(reason);
    for (let i = 0; i < Math.max(1, count); i++) rows.push({ position: this.index++, raw: null, result });
    this.blockLeft = 0;
  }

  async close(): Promise<void> {
    await this.bytes.close();
  }
}
