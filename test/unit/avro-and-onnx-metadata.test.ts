import { describe, expect, it } from 'vitest';
import { avroType, decimalBytes, decimalUnscaled } from '../../src/codec/avro-types.js';
import { readOnnxMetadata } from '../../src/inference/onnx-metadata.js';
import { repo } from '../support/paths.js';

describe('Avro logical types', () => {
  const type = avroType({ type: 'record', name: 'M', fields: [{ name: 'amount', type: { type: 'bytes', logicalType: 'decimal', precision: 12, scale: 2 } }] } as never);

  it('round-trips decimals, negative ones and byte-boundary ones included', () => {
    for (const amount of [0, 0.01, -0.01, 1.27, 1.28, -1.28, -1.29, 327.67, 327.68, 123456789.99, -98765.43]) {
      expect((type.fromBuffer(type.toBuffer({ amount })) as { amount: number }).amount).toBe(amount);
    }
  });

  it('writes the two\'s-complement bytes Java and Python read (1.23 → 0x7b, -1.23 → 0x85)', () => {
    expect(type.toBuffer({ amount: 1.23 }).subarray(1)).toEqual(Buffer.from([0x7b]));
    expect(type.toBuffer({ amount: -1.23 }).subarray(1)).toEqual(Buffer.from([0x85]));
    expect(type.toBuffer({ amount: 1.28 }).subarray(1)).toEqual(Buffer.from([0x00, 0x80]));
  });

  /** BigInteger.toByteArray's bytes, the way Java writes an unscaled decimal. */
  function javaBytes(unscaled: bigint): Buffer {
    const n = unscaled < 0n ? -unscaled - 1n : unscaled;
    const bytes = Math.floor(n.toString(2).length / 8) + 1;
    const twos = unscaled < 0n ? (1n << BigInt(bytes * 8)) + unscaled : unscaled;
    return Buffer.from(twos.toString(16).padStart(bytes * 2, '0'), 'hex');
  }

  it('writes and reads the same bytes as BigInteger at every byte length, on both sides of the six-byte number fast path', () => {
    const values: bigint[] = [0n, 1n, -1n, 127n, 128n, -128n, -129n];
    for (let bits = 8; bits <= 53; bits++) {
      const edge = 1n << BigInt(bits - 1);
      values.push(edge - 1n, edge, -edge, -edge - 1n);
    }
    for (let i = 0; i < 2_000; i++) values.push(BigInt(Math.round((Math.random() - 0.5) * 2 ** (1 + (i % 53)))));
    for (const unscaled of values) {
      if (unscaled > BigInt(Number.MAX_SAFE_INTEGER) || unscaled < BigInt(Number.MIN_SAFE_INTEGER)) continue;
      const expected = javaBytes(unscaled);
      expect(decimalBytes(Number(unscaled)), String(unscaled)).toEqual(expected);
      expect(decimalUnscaled(expected), String(unscaled)).toBe(Number(unscaled));
    }
  });
});

describe('readOnnxMetadata', () => {
  it('reads the feature order, name, version and threshold the model declares', () => {
    const { props, modelVersion } = readOnnxMetadata(repo('models/fraud.onnx'));
    expect(props.feature_names?.split(',')).toHaveLength(10);
    expect(props.feature_names?.split(',')[1]).toBe('hourOfDay');
    expect(props.model_name).toBe('fraud-gbdt');
    expect(Number(props.alert_threshold)).toBeGreaterThan(0);
    expect(modelVersion).toBe(1);
  });
});
