import { type OutgoingRecord, recordBytes } from '../kafka/records.js';

/** What one inference batch made of one partition's records: output records, in input order. */
export interface ScoredChunk {
  generation: number;
  /** Offset of the last input record covered; the commit stores lastOffset + 1. */
  lastOffset: bigint;
  records: OutgoingRecord[];
  /** How many input records the chunk covers. */
  inputs: number;
  /** Called after the commit with the commit's time, for metrics. */
  onCommitted?: (committedAtMs: number) => void;
  /** The payload size, counted once by the queue. */
  bytes?: number;
}

/** A chunk's payload as the broker will see it, roughly (records, keys, headers, overhead). */
export function chunkBytes(chunk: ScoredChunk): number {
  if (chunk.bytes === undefined) {
    let n = 0;
    for (const r of chunk.records) n += recordBytes(r);
    chunk.bytes = n;
  }
  return chunk.bytes;
}

/** A partition's chunks waiting for its transaction, with their payload and input counts kept up to date. */
export class ChunkQueue {
  #chunks: ScoredChunk[] = [];
  #bytes = 0;
  #inputs = 0;

  get length(): number {
    return this.#chunks.length;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Input records the queued chunks cover. */
  get inputs(): number {
    return this.#inputs;
  }

  push(chunk: ScoredChunk): void {
    this.#chunks.push(chunk);
    this.#bytes += chunkBytes(chunk);
    this.#inputs += chunk.inputs;
  }

  /** The oldest chunks, up to `maxBytes` of payload (at least one, if any). */
  take(maxBytes: number): ScoredChunk[] {
    const taken: ScoredChunk[] = [];
    let bytes = 0;
    while (this.#chunks.length) {
      const size = chunkBytes(this.#chunks[0]!);
      if (taken.length && bytes + size > maxBytes) break;
      const chunk = this.#chunks.shift()!;
      taken.push(chunk);
      bytes += size;
      this.#inputs -= chunk.inputs;
    }
    this.#bytes -= bytes;
    return taken;
  }

  clear(): void {
    this.#chunks = [];
    this.#bytes = 0;
    this.#inputs = 0;
  }
}
