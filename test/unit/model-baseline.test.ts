import fs from 'node:fs';
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { AvroInputCodec } from '../../src/codec/avro-codec.js';
import { FeatureMapper } from '../../src/inference/features.js';
import { baselineBin, parseTrainingBaseline, readOnnxMetadata, type FeatureBaseline } from '../../src/inference/onnx-metadata.js';
import { repo } from '../support/paths.js';

const models = ['models/fraud.onnx', 'models/fraud-v2.onnx', 'models/pump-anomaly.onnx'];

function expectWellFormed(name: string, b: FeatureBaseline): void {
  const sum = b.proportions.reduce((a, p) => a + p, 0);
  expect(Math.abs(sum - 1), `${name}: proportions sum to ${sum}`).toBeLessThanOrEqual(1e-6);
  expect(b.proportions.every((p) => p >= 0 && p <= 1), name).toBe(true);
  if (b.kind === 'numeric') {
    expect(b.edges).toHaveLength(b.proportions.length + 1);
    for (let i = 1; i < b.edges.length; i++) expect(b.edges[i]!, `${name}: edges ascending`).toBeGreaterThan(b.edges[i - 1]!);
  } else {
    expect(b.categories).toHaveLength(b.proportions.length);
  }
}

describe('training baseline in the model metadata', () => {
  for (const file of models) {
    it(`${file}: every feature and the score have one, proportions summing to 1, edges ascending`, () => {
      const { props } = readOnnxMetadata(repo(file));
      const baseline = parseTrainingBaseline(props)!;
      expect(baseline).toBeDefined();
      expect(baseline.rows).toBeGreaterThan(1000);
      const features = props.feature_names!.split(',');
      expect(Object.keys(baseline.features)).toEqual(features);
      for (const f of features) expectWellFormed(f, baseline.features[f]!);
      expectWellFormed('score', baseline.score);
    });
  }

  it('reads the one-hot inputs and flags of the fraud model as categories, the rest as quantile bins', () => {
    const { features } = parseTrainingBaseline(readOnnxMetadata(repo('models/fraud.onnx')).props)!;
    expect(features.channel).toMatchObject({ kind: 'categorical', categories: [0, 1, 2, 3] });
    expect(features.merchantCategory?.kind).toBe('categorical');
    expect(features.knownDevice).toMatchObject({ kind: 'categorical', categories: [0, 1] });
    expect(features.amount).toMatchObject({ kind: 'numeric' });
    expect(features.amount?.proportions).toHaveLength(10);
  });

  it('is undefined for a model without one, and refuses a malformed one saying why', () => {
    expect(parseTrainingBaseline({ model_name: 'x' })).toBeUndefined();
    expect(() => parseTrainingBaseline({ training_baseline: '{' })).toThrow(/not JSON/);
    expect(() => parseTrainingBaseline({ training_baseline: '{"format":2}' })).toThrow(/unknown format 2/);
    const bad = { format: 1, rows: 10, bins: 2, features: { a: { edges: [0, 2, 1], proportions: [0.5, 0.5] } }, score: { edges: [0, 1], proportions: [1] } };
    expect(() => parseTrainingBaseline({ training_baseline: JSON.stringify(bad) })).toThrow(/features\.a\.edges: need at least 2, ascending/);
    bad.features.a = { edges: [0, 1, 2], proportions: [0.5, 0.4] };
    expect(() => parseTrainingBaseline({ training_baseline: JSON.stringify(bad) })).toThrow(/sum 0\.9/);
  });

  it('bins a live value as the training rows were binned: outer bins open-ended, unseen categories -1', () => {
    const numeric: FeatureBaseline = { kind: 'numeric', edges: [0, 1, 2, 3], proportions: [0.2, 0.3, 0.5] };
    expect([-5, 0, 0.99, 1, 2.5, 3, 99].map((v) => baselineBin(numeric, v))).toEqual([0, 0, 0, 1, 2, 2, 2]);
    const categorical: FeatureBaseline = { kind: 'categorical', categories: [5411, 5812], proportions: [0.6, 0.4] };
    expect([5812, 5411, 7995].map((v) => baselineBin(categorical, v))).toEqual([1, 0, -1]);
  });
});

describe('fraud-gbdt 2.0.0', () => {
  const golden = fs.readFileSync(repo('test/fixtures/fraud-golden.jsonl'), 'utf8').trim().split('\n')
    .map((line) => JSON.parse(line) as { event: Record<string, unknown>; score: number });

  async function score(file: string, features: Float32Array, rows: number, width: number): Promise<Float32Array> {
    const session = await ort.InferenceSession.create(repo(file), { executionProviders: ['cpu'] });
    try {
      const out = await session.run({ features: new ort.Tensor('float32', features, [rows, width]) }, ['score']);
      return out.score!.data as Float32Array;
    } finally {
      await session.release();
    }
  }

  it('is the next version of the same model, with the same inputs, and scores the golden rows differently', async () => {
    const v1 = readOnnxMetadata(repo('models/fraud.onnx'));
    const v2 = readOnnxMetadata(repo('models/fraud-v2.onnx'));
    expect(v2.props.model_version).toBe('2.0.0');
    expect(v2.modelVersion).toBe(2);
    expect(v2.props.model_name).toBe(v1.props.model_name);
    expect(v2.props.feature_names).toBe(v1.props.feature_names);
    expect(Number(v2.props.alert_threshold)).not.toBe(Number(v1.props.alert_threshold));

    const columns = v1.props.feature_names!.split(',');
    const mapping = { columns: { hourOfDay: { from: 'eventTime', transform: 'hourOfDayUtc' as const } }, onMissing: 'dead-letter' as const };
    const mapper = FeatureMapper.build(columns, mapping, new AvroInputCodec({} as never, repo('schemas/card-transaction.avsc')), 'fraud');
    const rows = golden.length;
    const features = new Float32Array(rows * mapper.width);
    golden.forEach((g, i) => expect(mapper.fill(g.event, features, i)).toBeUndefined());

    const s1 = await score('models/fraud.onnx', features, rows, mapper.width);
    const s2 = await score('models/fraud-v2.onnx', features, rows, mapper.width);
    // 1.0.0 reproduces its golden scores, so the rows are built right; 2.0.0 is another model.
    golden.forEach((g, i) => expect(s1[i]).toBeCloseTo(g.score, 6));
    expect(s2).toHaveLength(rows);
    expect([...s2].every((s) => s >= 0 && s <= 1)).toBe(true);
    const differing = [...s2].filter((s, i) => Math.abs(s - s1[i]!) > 1e-6).length;
    expect(differing).toBeGreaterThan(rows / 2);
    expect(Math.max(...[...s2].map((s, i) => Math.abs(s - s1[i]!)))).toBeGreaterThan(0.01);
  });
});
