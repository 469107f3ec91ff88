import { JsonInputCodec } from '../codec/json-codec.js';
import type { ByteReader } from './byte-reader.js';
import type { RowSource, SourceRow } from './event-source.js';

const NEWLINE = 0x0a;

/** Spaces, tabs and carriage returns only: a blank line, skipped (it still counts as a line). */
function blank(line: Buffer): boolean {
  for (const b of line) if (b !== 0x20 && b !== 0x09 && b !== 0x0d) return false;
  return true;
}

/**
 * JSON lines, one event per line, decoded by the live JSON codec: a line that is not JSON or
 * not an object fails with the code the dead-letter topic would give it.
 */
export class JsonlSource implements RowSource {
  readonly format = 'jsonl';
  readonly positionName = 'line';
  private readonly codec = new JsonInputCodec();
  private line = 0;

  constructor(private readonly bytes: ByteReader) {}

  get sizeBytes(): number {
    return this.bytes.sizeBytes;
  }

  get bytesDone(): number {
    return this.bytes.offset;
  }

  async next(max: number): Promise<SourceRow[]> {
    const lines: { position: number; raw: Buffer }[] = [];
    const b = this.bytes;
    let searchFrom = b.pos;
    while (lines.length < max) {
      const nl = b.buf.indexOf(NEWLINE, searchFrom);
      let end: number;
      if (nl >= 0) {
        end = nl;
      } else if (!b.eof) {
        searchFrom = b.buf.length - b.pos;
        await b.fill(b.available + 1);
        searchFrom += b.pos;
        continue;
      } else if (b.available > 0) {
        end = b.buf.length; // a last line without a newline
      } else {
        break;
      }
      let raw = b.buf.subarray(b.pos, end);
      b.pos = Math.min(end + 1, b.buf.length);
      searchFrom = b.pos;
      this.line++;
      if (raw.length && raw[raw.length - 1] === 0x0d) raw = raw.subarray(0, -1);
      if (!blank(raw)) lines.push({ position: this.line, raw });
    }
    const results = await this.codec.decodeBatch(lines.map((l) => ({ value: l.raw })));
    return lines.map((l, i) => ({ position: l.position, raw: l.raw, result: results[i]! }));
  }

  async close(): Promise<void> {
    await this.bytes.close();
  }
}
