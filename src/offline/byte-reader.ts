import fs from 'node:fs/promises';
import { StreamscoreError } from '../errors.js';

const CHUNK_BYTES = 1 << 20;

/**
 * A file read forwards in chunks, with the unconsumed bytes kept in one buffer: what the
 * JSONL and Avro readers parse from. `offset` is how far into the file they have consumed.
 */
export class ByteReader {
  buf: Buffer = Buffer.alloc(0);
  /** The first unconsumed byte of `buf`. */
  pos = 0;
  eof = false;
  private readAt = 0;

  private constructor(private readonly handle: fs.FileHandle, readonly path: string, readonly sizeBytes: number) {}

  static async open(path: string): Promise<ByteReader> {
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(path, 'r');
      const stat = await handle.stat();
      if (!stat.isFile()) {
        await handle.close();
        throw new Error('not a regular file');
      }
      return new ByteReader(handle, path, stat.size);
    } catch (err) {
      throw new StreamscoreError('INPUT_FILE_UNREADABLE', `cannot read ${path}: ${(err as Error).message}`);
    }
  }

  get available(): number {
    return this.buf.length - this.pos;
  }

  /** File position of `pos`: the bytes consumed so far. */
  get offset(): number {
    return this.readAt - this.available;
  }

  /** Reads until at least `bytes` are available; false if the file ends first. */
  async fill(bytes: number): Promise<boolean> {
    while (this.available < bytes && !this.eof) {
      const chunk = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, bytes - this.available));
      const { bytesRead } = await this.handle.read(chunk, 0, chunk.length, this.readAt);
      if (bytesRead === 0) {
        this.eof = true;
        break;
      }
      this.readAt += bytesRead;
      this.buf = this.available ? Buffer.concat([this.buf.subarray(this.pos), chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
      this.pos = 0;
    }
    return this.available >= bytes;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}
