import type avro from 'avsc';
import { AvroReader } from '../codec/avro-reader.js';
import type { DecodeResult } from '../codec/codec.js';
import type { PipelineConfig } from '../config/types.js';
import { AvroFileSource, AVRO_MAGIC } from './avro-file-source.js';
import { ByteReader } from './byte-reader.js';
import { JsonlSource } from './jsonl-source.js';

/** One row of an input file, decoded or with the coded error a dead letter would carry. */
export interface SourceRow {
  /** JSONL: the line number (from 1); Avro: the record's index in the file (from 0). */
  position: number;
  /** The row's bytes as they are in the file, when they could be told apart. */
  raw: Buffer | null;
  result: DecodeResult;
}

export interface RowSource {
  readonly format: 'jsonl' | 'avro';
  /** What `position` counts: `line` or `record`. */
  readonly positionName: 'line' | 'record';
  readonly sizeBytes: number;
  /** Bytes of the file read into rows so far. */
  readonly bytesDone: number;
  /** Up to `max` rows, in file order; none at the end of the file. */
  next(max: number): Promise<SourceRow[]>;
  close(): Promise<void>;
}

/**
 * Opens an events file: an Avro object container file (by its magic bytes, whatever its
 * name), else JSON lines. Avro records are read as the pipeline's reader schema; a pipeline
 * without one (codec json) reads them as the file's own schema.
 */
export async function openEventFile(path: string, cfg: PipelineConfig): Promise<RowSource> {
  const bytes = await ByteReader.open(path);
  try {
    await bytes.fill(AVRO_MAGIC.length);
    if (bytes.buf.subarray(0, AVRO_MAGIC.length).equals(AVRO_MAGIC)) {
      const readerFor = (writerSchema: avro.Schema) => (cfg.readerSchema ? AvroReader.fromFile(cfg.readerSchema) : new AvroReader(writerSchema));
      return await AvroFileSource.open(bytes, readerFor);
    }
    return new JsonlSource(bytes);
  } catch (err) {
    await bytes.close();
    throw err;
  }
}
