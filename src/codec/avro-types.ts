import avro from 'avsc';

/** Six bytes of two's complement hold ±2^47, exactly representable in a double. */
const EXACT_BYTES = 6;

/**
 * The unscaled value of a decimal's big-endian two's-complement bytes. Amounts take a few
 * bytes: those are read with number arithmetic (BigInt and a hex string per value cost a
 * twentieth of all a full-speed drain allocated); longer ones through BigInt.
 */
export function decimalUnscaled(buf: Uint8Array): number {
  if (buf.length === 0) return 0;
  if (buf.length <= EXACT_BYTES) {
    let unsigned = 0;
    for (let i = 0; i < buf.length; i++) unsigned = unsigned * 256 + buf[i]!;
    return buf[0]! & 0x80 ? unsigned - 2 ** (8 * buf.length) : unsigned;
  }
  let unscaled = BigInt(`0x${Buffer.from(buf.buffer, buf.byteOffset, buf.length).toString('hex')}`);
  if (buf[0]! & 0x80) unscaled -= 1n << BigInt(buf.length * 8);
  return Number(unscaled);
}

/** The fewest big-endian two's-complement bytes that hold `unscaled` (an integer), as Java's BigInteger.toByteArray writes them. */
export function decimalBytes(unscaled: number): Buffer {
  const limit = 2 ** (8 * EXACT_BYTES - 1);
  if (unscaled >= -limit && unscaled < limit) {
    let n = 1;
    while (unscaled >= 2 ** (8 * n - 1) || unscaled < -(2 ** (8 * n - 1))) n++;
    const out = Buffer.allocUnsafe(n);
    let v = unscaled < 0 ? unscaled + 2 ** (8 * n) : unscaled;
    for (let i = n - 1; i >= 0; i--) {
      out[i] = v % 256;
      v = Math.floor(v / 256);
    }
    return out;
  }
  let big = BigInt(unscaled);
  const negative = big < 0n;
  const bytes: number[] = [];
  // Little-endian bytes of the two's-complement value, stopping once the sign is represented.
  for (;;) {
    const byte = Number(big & 0xffn);
    bytes.push(byte);
    big >>= 8n;
    if ((!negative && big === 0n && !(byte & 0x80)) || (negative && big === -1n && byte & 0x80)) break;
  }
  return Buffer.from(bytes.reverse());
}

/**
 * Avro `decimal` (bytes: big-endian two's-complement unscaled value) as a JS number: the
 * service only needs amounts as model features and in output records, and a double holds
 * any 12-digit, 2-decimal amount exactly enough for that.
 */
class DecimalType extends avro.types.LogicalType {
  readonly scale: number;
  readonly precision: number | undefined;

  constructor(schema: avro.Schema, opts?: unknown) {
    super(schema, opts);
    this.scale = (schema as { scale?: number }).scale ?? 0;
    this.precision = (schema as { precision?: number }).precision;
  }

  // A schema exported from the type (an object container file's header) must keep the
  // scale, or a reader would take the unscaled value for the amount.
  protected override _export(schema: avro.Schema): void {
    const attrs = schema as { precision?: number; scale?: number };
    if (this.precision !== undefined) attrs.precision = this.precision;
    attrs.scale = this.scale;
  }

  protected override _fromValue(buf: Buffer): number {
    return decimalUnscaled(buf) / 10 ** this.scale;
  }

  protected override _toValue(value: unknown): Buffer {
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new TypeError(`not a decimal: ${String(value)}`);
    return decimalBytes(Math.round(value * 10 ** this.scale));
  }

  protected override _resolve(type: avro.Type): ((value: unknown) => unknown) | undefined {
    if (type instanceof DecimalType && type.scale === this.scale) return (v) => v;
    if (avro.Type.isType(type, 'bytes')) return (v) => this._fromValue(v as Buffer);
    return undefined;
  }
}

/**
 * Timestamps stay epoch-millisecond numbers (no Date objects on the hot path); declaring
 * the logical type keeps it in the schema when types are exported and registered.
 */
class TimestampMillisType extends avro.types.LogicalType {
  protected override _fromValue(value: number): number {
    return value;
  }
  protected override _toValue(value: unknown): number {
    if (typeof value !== 'number') throw new TypeError(`not a timestamp-millis number: ${String(value)}`);
    return value;
  }
  protected override _resolve(type: avro.Type): ((value: unknown) => unknown) | undefined {
    if (avro.Type.isType(type, 'long', 'int', 'logical:timestamp-millis')) return (v) => v;
    return undefined;
  }
}

const logicalTypes = { decimal: DecimalType, 'timestamp-millis': TimestampMillisType } as unknown as Record<string, new (schema: avro.Schema, opts?: unknown) => avro.types.LogicalType>;

/** Every Avro type in the service is built here, so logical types behave the same everywhere. */
export function avroType(schema: avro.Schema | string): avro.Type {
  const parsed = typeof schema === 'string' ? (JSON.parse(schema) as avro.Schema) : schema;
  return avro.Type.forSchema(parsed, { logicalTypes, wrapUnions: false } as Parameters<typeof avro.Type.forSchema>[1]);
}
