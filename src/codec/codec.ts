export type DecodedRecord = Record<string, unknown>;

/** What a codec reads of a record: its value. A ConsumedRecord (src/kafka/records.ts) is one. */
export interface EncodedValue {
  readonly value: Buffer | null;
}

/** Either the decoded record, or the coded error that sends this message to the dead-letter topic. */
export type DecodeResult = { ok: true; record: DecodedRecord } | { ok: false; error: import('../errors.js').StreamscoreError };

/** What a codec knows of records before it reads any: enough to check and build feature mappings. */
export interface RecordSchemaView {
  /** Enum symbols of a field in the reader schema, for feature mapping; undefined if not an enum. */
  fieldInfo(name: string): FieldInfo | undefined;
  /** True when the codec knows every field (Avro); JSON knows none up front. */
  readonly hasSchema: boolean;
}

export interface InputCodec extends RecordSchemaView {
  /**
   * Decodes a batch. Per-record faults come back as results; a fault of the codec's own
   * infrastructure (registry unreachable) rejects, so nothing is dead-lettered for it.
   */
  decodeBatch(records: readonly EncodedValue[]): Promise<DecodeResult[]>;
}

export interface FieldInfo {
  kind: 'number' | 'boolean' | 'enum' | 'timestamp' | 'string' | 'other';
  symbols?: string[];
  optional: boolean;
}

export interface OutputEncoder {
  encode(record: DecodedRecord): Buffer;
  /** Output field names, so the pipeline can check at start that it can fill each one. */
  readonly fields: { name: string; hasDefault: boolean }[];
}
