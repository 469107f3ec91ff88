import { createRequire } from 'node:module';

/**
 * Produce requests encoded in one pass into one buffer of the exact size, installed into
 * kafkajs before it loads (with the request framing in request-framing.ts).
 *
 * kafkajs 2.2.4 builds every record in its own zero-filled 512-byte Encoder, every header in
 * another, every varint through a temporary Buffer and every varlong through BigInt objects,
 * then copies the whole batch up through three nested Encoders that grow by doubling. The
 * profile of a full-speed drain put a fifth of the service's main thread there and in the
 * garbage it leaves. The bytes are the same (test/unit/produce-request.test.ts compares them
 * with kafkajs's own encoder), except that the batch's first and max timestamps are the
 * numeric minimum and maximum where kafkajs sorts timestamps as strings.
 * Produce v4-v7 reuse v3's body in kafkajs, so replacing v3 covers them all. Compressed
 * batches are left to kafkajs.
 */
const require = createRequire(import.meta.url);
const v3Path = require.resolve('kafkajs/src/protocol/requests/produce/v3/request.js');
const kafkajsProduceV3 = require(v3Path) as (args: ProduceArgs) => ProduceRequest;
const crc32C = require('kafkajs/src/protocol/recordBatch/crc32C/index.js') as (b: Buffer) => number;
const Long = require('kafkajs/src/utils/long.js') as { fromValue(v: unknown): { value: bigint } };
const Encoder = require('kafkajs/src/protocol/encoder.js') as { prototype: object };
const { Produce: apiKey } = require('kafkajs/src/protocol/requests/apiKeys.js') as { Produce: number };

type Bytes = Buffer | string;

interface ProduceMessage {
  key?: Bytes | null;
  value: Bytes | null;
  headers?: Record<string, Bytes | Bytes[] | null | undefined>;
  timestamp?: string | number;
}

interface ProduceArgs {
  acks: number;
  timeout: number;
  transactionalId?: string | null;
  producerId?: unknown;
  producerEpoch?: number;
  compression?: number;
  topicData: { topic: string; partitions: { partition: number; firstSequence?: number; messages: ProduceMessage[] }[] }[];
}

interface ProduceRequest {
  apiKey: number;
  apiVersion: number;
  apiName: string;
  expectResponse: () => boolean;
  encode: () => Promise<unknown>;
}

const MAGIC = 2;
const TRANSACTIONAL_ATTRIBUTE = 0x10;
/** Attributes .. FirstSequence: the fixed part of a batch's CRC-covered body. */
const BATCH_BODY_FIXED = 2 + 4 + 8 + 8 + 8 + 2 + 4;
/** FirstOffset, Length, PartitionLeaderEpoch, Magic, CRC. */
const BATCH_HEADER = 8 + 4 + 4 + 1 + 4;

function sizeOfUVarInt(v: number): number {
  let bytes = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    bytes++;
  }
  return bytes;
}

const zigZag32 = (v: number) => ((v << 1) ^ (v >> 31)) >>> 0;
// Numbers hold every delta up to 2^52 ms exactly, far past any real timestamp spread.
const zigZag64 = (v: number) => (v >= 0 ? v * 2 : -v * 2 - 1);

const byteLength = (b: Bytes) => (Buffer.isBuffer(b) ? b.length : Buffer.byteLength(b));
const sizeOfNullableBytes = (length: number) => (length < 0 ? 1 : sizeOfUVarInt(zigZag32(length)) + length);
// A null header value (Kafka allows one, and a dead letter keeps its input's headers) is length -1.
const headerValue = (v: Bytes | null | undefined): Bytes | null => (v == null ? null : Buffer.isBuffer(v) ? v : String(v));

/**
 * What sizing found and writing needs again, for one request at a time (encoding is
 * synchronous): reused, so a request allocates nothing per record for it.
 */
class SizeScratch {
  values = new Float64Array(1 << 14);
  used = 0;

  push(v: number): number {
    if (this.used === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.used] = v;
    return this.used++;
  }
}

const scratch = new SizeScratch();

/** Appends one header value's name and value lengths; returns its encoded size. */
function sizeHeader(sizes: SizeScratch, nameLength: number, value: Bytes | null | undefined): number {
  const hv = headerValue(value);
  const valueLength = hv === null ? -1 : byteLength(hv);
  sizes.push(nameLength);
  sizes.push(valueLength);
  return sizeOfNullableBytes(nameLength) + sizeOfNullableBytes(valueLength);
}

/**
 * Sizes one record, appending to `sizes` what writing it needs again: body, timestamp delta,
 * key and value lengths, header count, then each header's name and value lengths. Numbers in
 * one reused array, not objects per record: at full speed these were an eighth of
 * everything the service allocated.
 */
function sizeRecord(m: ProduceMessage, offsetDelta: number, timestampDelta: number, sizes: SizeScratch): number {
  const keyLength = m.key == null ? -1 : byteLength(m.key);
  const valueLength = m.value == null ? -1 : byteLength(m.value);
  const at = sizes.push(0);
  sizes.push(timestampDelta);
  sizes.push(keyLength);
  sizes.push(valueLength);
  sizes.push(0);
  let headerBytes = 0;
  const headers = m.headers;
  for (const name in headers) {
    const v = headers[name];
    const nameLength = Buffer.byteLength(name);
    if (Array.isArray(v)) for (const one of v) headerBytes += sizeHeader(sizes, nameLength, one);
    else headerBytes += sizeHeader(sizes, nameLength, v);
  }
  // Two numbers per header after the record's five.
  const headerCount = (sizes.used - at - 5) / 2;
  const body = 1 + sizeOfUVarInt(zigZag64(timestampDelta)) + sizeOfUVarInt(zigZag32(offsetDelta))
    + sizeOfNullableBytes(keyLength) + sizeOfNullableBytes(valueLength)
    + sizeOfUVarInt(zigZag32(headerCount)) + headerBytes;
  sizes.values[at] = body;
  sizes.values[at + 4] = headerCount;
  return body;
}

class Writer {
  offset = 0;
  constructor(readonly buf: Buffer) {}

  uvarint(v: number): void {
    while (v >= 0x80) {
      this.buf[this.offset++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.offset++] = v;
  }

  bytes(b: Bytes | null, length: number): void {
    this.uvarint(zigZag32(length));
    if (b === null) return;
    if (Buffer.isBuffer(b)) b.copy(this.buf, this.offset);
    else this.buf.write(b, this.offset, length, 'utf8');
    this.offset += length;
  }

  string16(s: string | null): void {
    if (s === null) {
      this.buf.writeInt16BE(-1, this.offset);
      this.offset += 2;
      return;
    }
    const n = Buffer.byteLength(s);
    this.buf.writeInt16BE(n, this.offset);
    this.buf.write(s, this.offset + 2, n, 'utf8');
    this.offset += 2 + n;
  }

  int16(v: number): void {
    this.offset = this.buf.writeInt16BE(v, this.offset);
  }

  int32(v: number): void {
    this.offset = this.buf.writeInt32BE(v, this.offset);
  }

  int64(v: bigint): void {
    this.offset = this.buf.writeBigInt64BE(v, this.offset);
  }
}

interface SizedPartition {
  partition: number;
  firstSequence: number;
  firstTimestamp: number;
  maxTimestamp: number;
  messages: ProduceMessage[];
  /** Where this partition's records start in the scratch sizes, as sizeRecord appends them. */
  sizesAt: number;
  /** The whole batch, FirstOffset included: the record_set's size. */
  size: number;
}

const timestampOf = (m: ProduceMessage) => (m.timestamp == null || m.timestamp === '' ? undefined : Number(m.timestamp));

function sizePartition(p: ProduceArgs['topicData'][number]['partitions'][number], now: number): SizedPartition {
  let first = Infinity;
  let max = -Infinity;
  for (const m of p.messages) {
    const t = timestampOf(m);
    if (t === undefined) continue;
    if (t < first) first = t;
    if (t > max) max = t;
  }
  if (first === Infinity) first = max = now;
  const sizesAt = scratch.used;
  let size = BATCH_HEADER + BATCH_BODY_FIXED + 4;
  p.messages.forEach((m, i) => {
    const body = sizeRecord(m, i, (timestampOf(m) ?? now) - first, scratch);
    size += sizeOfUVarInt(zigZag32(body)) + body;
  });
  return { partition: p.partition, firstSequence: p.firstSequence ?? 0, firstTimestamp: first, maxTimestamp: max, messages: p.messages, sizesAt, size };
}

function writeBatch(w: Writer, p: SizedPartition, producerId: bigint, producerEpoch: number, transactional: boolean): void {
  w.int64(0n);
  w.int32(p.size - 12);
  w.int32(0);
  w.buf[w.offset++] = MAGIC;
  const crcAt = w.offset;
  w.offset += 4;
  const bodyAt = w.offset;
  w.int16(transactional ? TRANSACTIONAL_ATTRIBUTE : 0);
  w.int32(p.messages.length - 1);
  w.int64(BigInt(p.firstTimestamp));
  w.int64(BigInt(p.maxTimestamp));
  w.int64(producerId);
  w.int16(producerEpoch);
  w.int32(p.firstSequence);
  w.int32(p.messages.length);
  const sizes = scratch.values;
  let at = p.sizesAt;
  const writeHeader = (name: string, value: Bytes | null | undefined) => {
    w.bytes(name, sizes[at]!);
    w.bytes(headerValue(value), sizes[at + 1]!);
    at += 2;
  };
  p.messages.forEach((m, offsetDelta) => {
    w.uvarint(zigZag32(sizes[at]!));
    w.buf[w.offset++] = 0;
    w.uvarint(zigZag64(sizes[at + 1]!));
    w.uvarint(zigZag32(offsetDelta));
    w.bytes(m.key ?? null, sizes[at + 2]!);
    w.bytes(m.value ?? null, sizes[at + 3]!);
    w.uvarint(zigZag32(sizes[at + 4]!));
    at += 5;
    // The same walk over the headers as sizeRecord's, so the lengths line up.
    const headers = m.headers;
    for (const name in headers) {
      const v = headers[name];
      if (Array.isArray(v)) for (const one of v) writeHeader(name, one);
      else writeHeader(name, v);
    }
  });
  w.buf.writeUInt32BE(crc32C(w.buf.subarray(bodyAt, w.offset)), crcAt);
}

/** The request body as a kafkajs Encoder (what request framing expects), without copying it again. */
function asEncoder(buf: Buffer): unknown {
  return Object.assign(Object.create(Encoder.prototype) as object, { buf, offset: buf.length });
}

export function encodeProduceRequest(args: ProduceArgs, now = Date.now()): Buffer {
  scratch.used = 0;
  const transactionalId = args.transactionalId ?? null;
  const producerId = Long.fromValue(args.producerId ?? -1).value;
  const producerEpoch = args.producerEpoch ?? 0;
  const topics = args.topicData.map((t) => ({ topic: t.topic, partitions: t.partitions.map((p) => sizePartition(p, now)) }));
  let size = 2 + (transactionalId === null ? 0 : Buffer.byteLength(transactionalId)) + 2 + 4 + 4;
  for (const t of topics) {
    size += 2 + Buffer.byteLength(t.topic) + 4;
    for (const p of t.partitions) size += 4 + 4 + p.size;
  }
  const w = new Writer(Buffer.allocUnsafe(size));
  w.string16(transactionalId);
  w.int16(args.acks);
  w.int32(args.timeout);
  w.int32(topics.length);
  for (const t of topics) {
    w.string16(t.topic);
    w.int32(t.partitions.length);
    for (const p of t.partitions) {
      w.int32(p.partition);
      w.int32(p.size);
      writeBatch(w, p, producerId, producerEpoch, transactionalId !== null);
    }
  }
  if (w.offset !== size) throw new Error(`produce request encoded ${w.offset} bytes, sized ${size}`);
  return w.buf;
}

function produceV3(args: ProduceArgs): ProduceRequest {
  if (args.compression) return kafkajsProduceV3(args);
  return {
    apiKey,
    apiVersion: 3,
    apiName: 'Produce',
    expectResponse: () => args.acks !== 0,
    encode: async () => asEncoder(encodeProduceRequest(args)),
  };
}

/** kafkajs's own v3 request, for the test that compares bytes. */
export const kafkajsProduceRequestV3 = kafkajsProduceV3;

// v4-v7 require v3 when they load, after this: they get ours.
require.cache[v3Path]!.exports = produceV3;
