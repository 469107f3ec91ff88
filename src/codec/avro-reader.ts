import fs from 'node:fs';
import avro from 'avsc';
import { StreamscoreError } from '../errors.js';
import { avroType } from './avro-types.js';
import type { DecodeResult, FieldInfo, RecordSchemaView } from './codec.js';

export type Resolved = { ok: true; resolver: avro.Resolver } | { ok: false; error: StreamscoreError };

function fieldInfo(type: avro.Type): FieldInfo {
  let t = type;
  let optional = false;
  if (avro.Type.isType(t, 'union:unwrapped')) {
    const branches = (t as unknown as { types: avro.Type[] }).types.filter((b) => !avro.Type.isType(b, 'null'));
    optional = true;
    if (branches.length !== 1) return { kind: 'other', optional };
    t = branches[0]!;
  }
  if (avro.Type.isType(t, 'logical:timestamp-millis')) return { kind: 'timestamp', optional };
  if (avro.Type.isType(t, 'logical:decimal', 'int', 'long', 'float', 'double')) return { kind: 'number', optional };
  if (avro.Type.isType(t, 'boolean')) return { kind: 'boolean', optional };
  if (avro.Type.isType(t, 'enum')) return { kind: 'enum', symbols: [...(t as avro.types.EnumType).symbols], optional };
  if (avro.Type.isType(t, 'string')) return { kind: 'string', optional };
  return { kind: 'other', optional };
}

/**
 * A pipeline's Avro reader schema: its fields for feature mapping, and the decoding of a
 * body written under another (writer) schema. The live codec (wire format through the
 * registry) and `streamscore score` (object container files) both decode through this, so a
 * record decodes, or fails with the same code and reason, wherever it comes from.
 */
export class AvroReader implements RecordSchemaView {
  readonly hasSchema = true;
  readonly type: avro.Type;
  private readonly fields = new Map<string, FieldInfo>();

  constructor(schema: avro.Schema | string) {
    this.type = avroType(schema);
    for (const f of (this.type as avro.types.RecordType).fields) this.fields.set(f.name, fieldInfo(f.type));
  }

  static fromFile(readerSchemaFile: string): AvroReader {
    return new AvroReader(fs.readFileSync(readerSchemaFile, 'utf8'));
  }

  fieldInfo(name: string): FieldInfo | undefined {
    return this.fields.get(name);
  }

  /** `what` names the writer schema in the error (`writer schema 42`). */
  resolve(writer: avro.Type, what: string): Resolved {
    try {
      return { ok: true, resolver: this.type.createResolver(writer) };
    } catch (err) {
      return { ok: false, error: new StreamscoreError('DECODE_INCOMPATIBLE_SCHEMA', `${what} cannot be read as ${this.type.name ?? 'the reader schema'}: ${(err as Error).message}`) };
    }
  }

  /** One whole body: fromBuffer refuses both a short body and trailing bytes. */
  decode(body: Buffer, resolver: avro.Resolver): DecodeResult {
    try {
      return { ok: true, record: this.type.fromBuffer(body, resolver) as Record<string, unknown> };
    } catch (err) {
      return bodyMismatch(err);
    }
  }

  /**
   * The record that starts at `pos` of a run of records (an object container block): the
   * result and where the next record starts, or end -1 when the rest cannot be read.
   */
  decodeAt(buf: Buffer, pos: number, resolver: avro.Resolver): { result: DecodeResult; end: number } {
    try {
      const { value, offset } = this.type.decode(buf, pos, resolver);
      if (offset < 0) return { result: bodyMismatch(new Error('truncated record')), end: -1 };
      return { result: { ok: true, record: value as Record<string, unknown> }, end: offset };
    } catch (err) {
      return { result: bodyMismatch(err), end: -1 };
    }
  }
}

function bodyMismatch(err: unknown): DecodeResult {
  return { ok: false, error: new StreamscoreError('DECODE_TRUNCATED', `Avro body does not match its schema: ${(err as Error).message}`) };
}
