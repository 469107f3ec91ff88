import fs from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import avro from 'avsc';
import { type ErrorCode, StreamscoreError } from '../errors.js';
import { AvroReader, type Resolved } from './avro-reader.js';
import { avroType } from './avro-types.js';
import type { DecodeResult, EncodedValue, FieldInfo, InputCodec, OutputEncoder } from './codec.js';
import { registryErrorToCoded, type SchemaRegistryClient } from './schema-registry.js';

const MAGIC_BYTE = 0;
const HEADER_BYTES = 5;

/**
 * Confluent wire format (magic 0, 4-byte schema id, Avro body). Each writer schema is
 * fetched once per id and resolved against the pipeline's reader schema, so a producer
 * that added a field with a default still decodes.
 */
export class AvroInputCodec implements InputCodec {
  readonly hasSchema = true;
  private readonly reader: AvroReader;
  private readonly resolved = new Map<number, Resolved>();

  constructor(private readonly registry: SchemaRegistryClient, readerSchemaFile: string) {
    this.reader = AvroReader.fromFile(readerSchemaFile);
  }

  fieldInfo(name: string): FieldInfo | undefined {
    return this.reader.fieldInfo(name);
  }

  private async resolve(id: number): Promise<Resolved> {
    const cached = this.resolved.get(id);
    if (cached) return cached;
    let result: Resolved;
    try {
      const info = await this.registry.getBySubjectAndId('', id);
      result = this.reader.resolve(avroType(info.schema), `writer schema ${id}`);
    } catch (err) {
      const coded = registryErrorToCoded(err, `schema id ${id}`);
      if (!coded.deadLetter) throw coded; // registry trouble: retry later, never dead-letter
      result = { ok: false, error: coded };
    }
    this.resolved.set(id, result);
    return result;
  }

  async decodeBatch(records: readonly EncodedValue[]): Promise<DecodeResult[]> {
    const ids = new Set<number>();
    for (const m of records) {
      if (m.value && m.value.length >= HEADER_BYTES && m.value[0] === MAGIC_BYTE) ids.add(m.value.readInt32BE(1));
    }
    for (const id of ids) if (!this.resolved.has(id)) await this.resolve(id);
    return records.map((m) => this.decodeOne(m.value));
  }

  private decodeOne(value: Buffer | null): DecodeResult {
    if (!value || value.length === 0) return fail('DECODE_EMPTY', 'empty value (tombstone?)');
    if (value[0] !== MAGIC_BYTE) return fail('DECODE_BAD_MAGIC', `first byte is ${value[0]}, not the Confluent magic byte 0`);
    if (value.length < HEADER_BYTES) return fail('DECODE_TRUNCATED', `${value.length} bytes: shorter than the 5-byte wire header`);
    const resolved = this.resolved.get(value.readInt32BE(1))!;
    if (!resolved.ok) return { ok: false, error: resolved.error };
    return this.reader.decode(value.subarray(HEADER_BYTES), resolved.resolver);
  }
}

function fail(code: ErrorCode, message: string): DecodeResult {
  return { ok: false, error: new StreamscoreError(code, message) };
}

/** Encodes output records in Confluent wire format under a schema registered at start. */
// Node's own Buffer pool is 8 KiB, and Buffer.concat took our outputs from it: slabs of the same
// size pin no more memory than that did when one partition's records wait behind a stalled
// transaction while the others' flow.
const SLAB_BYTES = 8 * 1024;

// A concurrent registration becomes readable within milliseconds on an idle registry and took
// longer than one lookup on a loaded CI machine; a really incompatible schema costs ~1.5 s more.
const CONCURRENT_REGISTER_DELAYS_MS = [50, 100, 200, 400, 800];

export class AvroOutputEncoder implements OutputEncoder {
  readonly fields: { name: string; hasDefault: boolean }[];
  private readonly header: Buffer;

  private constructor(private readonly type: avro.Type, schemaId: number) {
    this.header = Buffer.alloc(HEADER_BYTES);
    this.header.writeUInt8(MAGIC_BYTE, 0);
    this.header.writeInt32BE(schemaId, 1);
    this.fields = (type as avro.types.RecordType).fields.map((f) => ({ name: f.name, hasDefault: f.defaultValue() !== undefined }));
  }

  /** Registers the schema under `<topic>-value` (TopicNameStrategy) and returns an encoder for it. */
  static async register(
    registry: SchemaRegistryClient,
    topic: string,
    schemaFile: string,
    retryDelaysMs: readonly number[] = CONCURRENT_REGISTER_DELAYS_MS,
  ): Promise<AvroOutputEncoder> {
    const text = fs.readFileSync(schemaFile, 'utf8');
    const type = avroType(text);
    const subject = `${topic}-value`;
    const info = { schemaType: 'AVRO', schema: JSON.stringify(JSON.parse(text)) };
    for (let attempt = 0; ; attempt++) {
      let conflict: unknown;
      try {
        return new AvroOutputEncoder(type, await registry.register(subject, info));
      } catch (err) {
        if ((err as { status?: number }).status !== 409) throw registryErrorToCoded(err, `registering ${schemaFile} for ${subject}`);
        conflict = err;
      }
      // 409 is also what a registry answers when another instance is registering the same
      // schema at this moment (Apicurio does, before the other's write is visible): that
      // schema's id is the one to use, once it can be read.
      let lookupError: unknown;
      try {
        return new AvroOutputEncoder(type, await registry.getId(subject, info));
      } catch (err) {
        lookupError = err;
      }
      if (attempt >= retryDelaysMs.length) {
        throw new StreamscoreError(
          'SCHEMA_INCOMPATIBLE',
          `output schema ${schemaFile} is incompatible with the one registered for ${subject}: ${(conflict as Error).message} (lookup: ${(lookupError as Error).message})`,
        );
      }
      await delay(retryDelaysMs[attempt]);
    }
  }
  // Outputs are written one after another into shared slabs: one write per record, where
  // toBuffer + concat cost a zeroed buffer and two copies. A slab is garbage once the last
  // record on it is committed and dropped.
  #slab = Buffer.allocUnsafe(0);
  #slabAt = 0;

  encode(record: Record<string, unknown>): Buffer {
    if (this.#slab.length - this.#slabAt < HEADER_BYTES + 1) this.#newSlab(SLAB_BYTES);
    let end = this.#encodeAt(record, this.#slabAt);
    if (end < 0) {
      // avsc answers a short buffer with minus the bytes missing.
      const needed = this.#slab.length - end - this.#slabAt;
      this.#newSlab(Math.max(SLAB_BYTES, needed));
      end = this.#encodeAt(record, 0);
    }
    const encoded = this.#slab.subarray(this.#slabAt, end);
    this.#slabAt = end;
    return encoded;
  }

  #encodeAt(record: Record<string, unknown>, start: number): number {
    this.header.copy(this.#slab, start);
    return this.type.encode(record, this.#slab, start + HEADER_BYTES);
  }

  #newSlab(size: number): void {
    this.#slab = Buffer.allocUnsafe(size);
    this.#slabAt = 0;
  }
}
