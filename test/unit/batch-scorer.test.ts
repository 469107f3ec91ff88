import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { Registry } from 'prom-client';
import { JsonOutputEncoder } from '../../src/codec/json-codec.js';
import type { FeatureMapper } from '../../src/inference/features.js';
import type { OnnxModel } from '../../src/inference/model.js';
import { Metrics } from '../../src/observability/metrics.js';
import { systemClock } from '../../src/observability/clock.js';
import { BatchScorer, type ScoringTarget, type WorkItem } from '../../src/pipeline/batch-scorer.js';
import { OutputRecords, HEADER } from '../../src/sink/output-records.js';

const info = { name: 'm', version: '1', executionProvider: 'cpu' as const, featureNames: ['x'] };
/** One feature column: the record's x. */
const mapper = { width: 1, fill: (record: Record<string, unknown>, out: Float32Array, row: number) => { out[row] = record.x as number; } } as unknown as FeatureMapper;
/** A model that fails any run containing a row with x = 666, and scores x / 1000 otherwise. */
let runs = 0;
const model = {
  run: async (m: Float32Array, rows: number) => {
    runs++;
    if (m.subarray(0, rows).includes(666)) throw new Error('bad row');
    return m.subarray(0, rows).map((x) => x / 1000);
  },
} as unknown as OnnxModel;

const sink: ScoringTarget = { generation: 0, tp: { topic: 'in', partition: 0 } };
const scorer = new BatchScorer({
  pipeline: 'p', mapper, model, threshold: 0.5, maxBatchSize: 64,
  scoredOut: new OutputRecords(new JsonOutputEncoder(), info, 'scored'),
  alertOut: new OutputRecords(new JsonOutputEncoder(), info, 'alerts'),
  outputs: { scored: { topic: 'scored' }, alerts: { topic: 'alerts' }, deadLetter: { topic: 'dlq' } },
  metrics: new Metrics(new Registry()), clock: systemClock, logger: pino({ level: 'silent' }),
});

describe('BatchScorer', () => {
  it('an inference failure is bisected: only the rows that fail alone are dead-lettered (INFERENCE_FAILED), the rest are scored', async () => {
    const xs = [1, 2, 666, 4, 5, 6, 666, 8];
    const items: WorkItem[] = xs.map((x, i) => ({
      sink, generation: 0, record: { x },
      input: { offset: BigInt(i), key: null, value: Buffer.from(String(x)), headers: {}, timestampMs: 0 },
    }));
    runs = 0;
    const [chunk] = [...(await scorer.score(items, 0)).values()];
    const byTopic = (t: string) => chunk!.records.filter((r) => r.topic === t);
    expect(byTopic('dlq').map((r) => [r.value!.toString(), r.headers![HEADER.errorCode]])).toEqual([['666', 'INFERENCE_FAILED'], ['666', 'INFERENCE_FAILED']]);
    expect(byTopic('scored').map((r) => JSON.parse(r.value!.toString()).score)).toEqual([1, 2, 4, 5, 6, 8].map((x) => Math.fround(x / 1000)));
    expect(chunk!.inputs).toBe(8);
    expect(chunk!.lastOffset).toBe(7n);
  });

  it('finds one bad row in 64 by bisection, not by a run per row', async () => {
    const items: WorkItem[] = Array.from({ length: 64 }, (_, i) => ({
      sink, generation: 0, record: { x: i === 41 ? 666 : i },
      input: { offset: BigInt(i), key: null, value: null, headers: {}, timestampMs: 0 },
    }));
    runs = 0;
    const [chunk] = [...(await scorer.score(items, 0)).values()];
    expect(chunk!.records.filter((r) => r.topic === 'dlq').map((r) => r.headers![HEADER.sourceOffset])).toEqual(['41']);
    // 1 + 2 per level of a 64-row tree.
    expect(runs).toBeLessThanOrEqual(13);
  });
});
