import { describe, expect, it } from 'vitest';
import { AvroInputCodec } from '../../src/codec/avro-codec.js';
import { JsonInputCodec } from '../../src/codec/json-codec.js';
import { StreamscoreError } from '../../src/errors.js';
import { FeatureMapper } from '../../src/inference/features.js';
import { repo } from '../support/paths.js';

const columns = ['amount', 'hourOfDay', 'merchantCategory', 'channel', 'distanceFromHomeKm', 'txCount1h', 'txCount24h', 'amountToAvgRatio', 'foreignCountry', 'knownDevice'];
const avroCodec = () => new AvroInputCodec({} as never, repo('schemas/card-transaction.avsc'));
const mapping = { columns: { hourOfDay: { from: 'eventTime', transform: 'hourOfDayUtc' as const } }, onMissing: 'dead-letter' as const };

describe('FeatureMapper', () => {
  it('builds rows in the model order: booleans 0/1, enums by symbol index, calendar transforms', () => {
    const mapper = FeatureMapper.build(columns, mapping, avroCodec(), 'fraud');
    const out = new Float32Array(columns.length);
    const record = {
      amount: 12.5, eventTime: Date.UTC(2026, 0, 5, 3, 59), merchantCategory: 5411, channel: 'ATM', distanceFromHomeKm: 4.5,
      txCount1h: 2, txCount24h: 5, amountToAvgRatio: 1.25, foreignCountry: true, knownDevice: false,
    };
    expect(mapper.fill(record, out, 0)).toBeUndefined();
    expect([...out]).toEqual([12.5, 3, 5411, 2, 4.5, 2, 5, 1.25, 1, 0]);
  });

  it('refuses to start when the model and the reader schema disagree, listing every problem', () => {
    let err: unknown;
    try {
      FeatureMapper.build([...columns, 'accountId', 'cardAge'], { columns: { ...mapping.columns, nonsense: {} }, onMissing: 'dead-letter' }, avroCodec(), 'fraud');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StreamscoreError);
    expect((err as StreamscoreError).code).toBe('FEATURES_MISMATCH');
    const message = (err as Error).message;
    expect(message).toContain('features.columns.nonsense: the model has no such column');
    expect(message).toContain("column 'accountId': field 'accountId' is a string, which cannot be a model input");
    expect(message).toContain("column 'cardAge': the reader schema has no field 'cardAge'");
  });

  it('dead-letters missing, non-numeric and non-finite values with their codes', () => {
    const mapper = FeatureMapper.build(['a', 'b'], { columns: {}, onMissing: 'dead-letter' }, new JsonInputCodec(), 'json');
    const out = new Float32Array(2);
    expect(mapper.fill({ a: 1 }, out, 0)?.code).toBe('FEATURE_MISSING');
    expect(mapper.fill({ a: 1, b: 'x' }, out, 0)?.code).toBe('FEATURE_NOT_NUMERIC');
    expect(mapper.fill({ a: Number.POSITIVE_INFINITY, b: 1 }, out, 0)?.code).toBe('FEATURE_NOT_FINITE');
    expect(mapper.fill({ a: 1, b: 2 }, out, 0)?.deadLetter).toBeUndefined();
    const zeroing = FeatureMapper.build(['a', 'b'], { columns: {}, onMissing: 'zero' }, new JsonInputCodec(), 'json');
    expect(zeroing.fill({ a: 7 }, out, 0)).toBeUndefined();
    expect([...out]).toEqual([7, 0]);
  });
});
