import { createRequire } from 'node:module';

/**
 * Fetched records decoded with number arithmetic, installed into kafkajs before it loads.
 * kafkajs 2.2.4 reads every record's timestamp delta through 64-bit Long objects (a dozen
 * per record), adds offsets and timestamps as Longs, and builds the headers object by
 * spreading it once per header. At full speed that was a tenth of everything the service
 * allocated. The records are the same objects with the same values
 * (test/unit/record-decoder.test.ts decodes random records with both); a record whose
 * numbers a double cannot hold exactly (a delta of over 2^48, an offset or timestamp past
 * 2^53) is left to kafkajs's own decoder.
 */
const require = createRequire(import.meta.url);
const modulePath = require.resolve('kafkajs/src/protocol/recordBatch/record/v0/decoder.js');
const { LOG_APPEND_TIME } = require('kafkajs/src/protocol/timestampTypes.js') as { LOG_APPEND_TIME: number };

export interface KafkajsDecoder {
  buffer: Buffer;
  offset: number;
  readInt8(): number;
  readVarInt(): number;
  readVarIntBytes(): Buffer | null;
  readVarIntString(): string | null;
}

export interface BatchContext {
  firstOffset?: string;
  firstTimestamp?: string;
  maxTimestamp?: string;
  timestampType?: number;
  magicByte?: number;
  isControlBatch?: boolean;
}

type Headers = Record<string, Buffer | null | (Buffer | null)[]>;
type RecordDecoder = (decoder: KafkajsDecoder, batchContext?: BatchContext) => unknown;

export const kafkajsRecordDecoder = require(modulePath) as RecordDecoder;

/** A batch's first offset and timestamp as numbers, parsed once per batch (NaN: not exact). */
const batchNumbers = new WeakMap<BatchContext, { firstOffset: number; firstTimestamp: number }>();

function exact(text: string | undefined): number {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : Number.NaN;
}

/** A zig-zag varlong of at most 7 bytes (49 bits: exact in a double), or undefined with the decoder where it was. */
function readSmallVarLong(d: KafkajsDecoder): number | undefined {
  const start = d.offset;
  let result = 0;
  let scale = 1;
  for (let i = 0; i < 7; i++) {
    const byte = d.buffer[d.offset++]!;
    result += (byte & 0x7f) * scale;
    if (byte < 0x80) return result % 2 === 0 ? result / 2 : -(result + 1) / 2;
    scale *= 128;
  }
  d.offset = start;
  return undefined;
}

function setHeader(headers: Headers, name: string, value: Buffer | null): void {
  const had = headers[name];
  const merged = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value];
  // As kafkajs's computed keys do: an own property even for '__proto__'.
  if (name === '__proto__') Object.defineProperty(headers, name, { value: merged, enumerable: true, writable: true, configurable: true });
  else headers[name] = merged;
}

export const decodeRecord: RecordDecoder = (decoder, batchContext = {}) => {
  let numbers = batchNumbers.get(batchContext);
  if (!numbers) batchNumbers.set(batchContext, (numbers = { firstOffset: exact(batchContext.firstOffset), firstTimestamp: exact(batchContext.firstTimestamp) }));
  const start = decoder.offset;
  const attributes = decoder.readInt8();
  const timestampDelta = readSmallVarLong(decoder);
  const offsetDelta = timestampDelta === undefined ? 0 : decoder.readVarInt();
  const offset = numbers.firstOffset + offsetDelta;
  const logAppend = batchContext.timestampType === LOG_APPEND_TIME && batchContext.maxTimestamp;
  const timestamp = logAppend ? batchContext.maxTimestamp : numbers.firstTimestamp + timestampDelta!;
  if (timestampDelta === undefined || !Number.isSafeInteger(offset) || (!logAppend && !Number.isSafeInteger(timestamp))) {
    decoder.offset = start;
    return kafkajsRecordDecoder(decoder, batchContext);
  }
  const key = decoder.readVarIntBytes();
  const value = decoder.readVarIntBytes();
  const headers: Headers = {};
  const headerCount = decoder.readVarInt();
  for (let i = 0; i < headerCount; i++) {
    const name = decoder.readVarIntString()!;
    setHeader(headers, name, decoder.readVarIntBytes());
  }
  return {
    magicByte: batchContext.magicByte,
    attributes,
    timestamp: String(timestamp),
    offset: String(offset),
    key,
    value,
    headers,
    isControlRecord: batchContext.isControlBatch ?? false,
    batchContext,
  };
};

// kafkajs's record batch decoder requires this module when it loads, after this: it gets ours.
require(modulePath);
require.cache[modulePath]!.exports = decodeRecord;
