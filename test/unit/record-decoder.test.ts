import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { type BatchContext, type KafkajsDecoder, decodeRecord, kafkajsRecordDecoder } from '../../src/kafka/record-decoder.js';

const require = createRequire(import.meta.url);
const Decoder = require('kafkajs/src/protocol/decoder.js') as new (b: Buffer) => KafkajsDecoder;
const Long = require('kafkajs/src/utils/long.js') as { fromString(s: string): unknown };
const encodeRecord = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (r: object) => { buffer: Buffer };
const { CREATE_TIME, LOG_APPEND_TIME } = require('kafkajs/src/protocol/timestampTypes.js') as { CREATE_TIME: number; LOG_APPEND_TIME: number };

function random(seed: number) {
  let s = seed;
  return () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

/** A record's body as the batch decoder hands it over: after its length. */
function body(record: object): Buffer {
  return new Decoder(encodeRecord(record).buffer).readVarIntBytes()!;
}

function both(bytes: Buffer, context: BatchContext) {
  const ours = new Decoder(bytes);
  const theirs = new Decoder(bytes);
  return { ours: decodeRecord(ours, context), theirs: kafkajsRecordDecoder(theirs, context), oursAt: ours.offset, theirsAt: theirs.offset };
}

describe("record decoding (numbers, not kafkajs's Longs)", () => {
  it('gives the same records as kafkajs for random keys, values, headers, deltas and batch positions', () => {
    const rnd = random(7);
    const bytes = (n: number) => (rnd() < 0.1 ? null : Buffer.from(Array.from({ length: n }, () => Math.floor(rnd() * 256))));
    for (let i = 0; i < 2_000; i++) {
      const headers: Record<string, Buffer | Buffer[]> = {};
      // Header values are never null here: kafkajs's encoder cannot write one.
      const headerValue = (n: number) => bytes(n) ?? Buffer.alloc(0);
      for (let h = 0; h < Math.floor(rnd() * 4); h++) headers[rnd() < 0.1 ? '__proto__' : `h${h}-ü`] = rnd() < 0.3 ? [headerValue(5), headerValue(9)] : headerValue(12);
      // Deltas from 0 to past 2^48 (the number path's limit), negative ones too; offsets and timestamps near 2^53.
      const delta = Math.round((rnd() - 0.2) * 2 ** Math.floor(rnd() * 56));
      const record = { offsetDelta: Math.floor(rnd() * 1e6), timestampDelta: Long.fromString(String(delta)), key: bytes(20), value: bytes(200), headers };
      const near = rnd() < 0.2 ? 2 ** 53 - Math.floor(rnd() * 2e6) : Math.floor(rnd() * 1e12);
      const context: BatchContext = {
        firstOffset: String(near), firstTimestamp: String(1.7e12 + Math.floor(rnd() * 1e9)), maxTimestamp: String(1.8e12),
        timestampType: rnd() < 0.1 ? LOG_APPEND_TIME : CREATE_TIME, magicByte: 2, isControlBatch: rnd() < 0.05,
      };
      const r = both(body(record), context);
      expect(r.ours, `record ${i}`).toEqual(r.theirs);
      expect(r.oursAt).toBe(r.theirsAt);
    }
  });

  it('keeps repeated header names as kafkajs does: the values in order, in an array', () => {
    // kafkajs's encoder writes one header per array element; the decoder gathers them again.
    const r = both(body({ key: null, value: Buffer.from('v'), headers: { a: [Buffer.from('1'), Buffer.from('2'), Buffer.from('4')], b: Buffer.from('3') } }), { firstOffset: '5', firstTimestamp: '1000', magicByte: 2 });
    expect(r.ours).toEqual(r.theirs);
    expect((r.ours as { headers: unknown }).headers).toEqual({ a: [Buffer.from('1'), Buffer.from('2'), Buffer.from('4')], b: Buffer.from('3') });
  });
});
