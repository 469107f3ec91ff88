import { type ErrorCode, StreamscoreError } from '../errors.js';
import type { DecodeResult, EncodedValue, FieldInfo, InputCodec, OutputEncoder } from './codec.js';

/** UTF-8 JSON objects, one per message. No schema: features are checked per record. */
export class JsonInputCodec implements InputCodec {
  readonly hasSchema = false;

  fieldInfo(): FieldInfo | undefined {
    return undefined;
  }

  async decodeBatch(records: readonly EncodedValue[]): Promise<DecodeResult[]> {
    return records.map((m) => {
      if (!m.value || m.value.length === 0) return fail('DECODE_EMPTY', 'empty value (tombstone?)');
      let parsed: unknown;
      try {
        parsed = JSON.parse(m.value.toString('utf8'));
      } catch (err) {
        return fail('DECODE_BAD_JSON', `not JSON: ${(err as Error).message}`);
      }
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return fail('DECODE_NOT_OBJECT', 'JSON value is not an object');
      return { ok: true, record: parsed as Record<string, unknown> };
    });
  }
}

function fail(code: ErrorCode, message: string): DecodeResult {
  return { ok: false, error: new StreamscoreError(code, message) };
}

export class JsonOutputEncoder implements OutputEncoder {
  readonly fields: { name: string; hasDefault: boolean }[] = [];
  encode(record: Record<string, unknown>): Buffer {
    return Buffer.from(JSON.stringify(record));
  }
}
