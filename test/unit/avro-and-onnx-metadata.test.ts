import { describe, expect, it } from 'vitest';
import { avroType } from '../../src/codec/avro-types.js';
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
