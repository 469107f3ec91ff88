import pino from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AvroReader } from '../../src/codec/avro-reader.js';
import { JsonOutputEncoder } from '../../src/codec/json-codec.js';
import { parseConfig } from '../../src/config/load.js';
import type { PipelineConfig } from '../../src/config/types.js';
import { systemClock } from '../../src/observability/clock.js';
import { Metrics } from '../../src/observability/metrics.js';
import { ModelSlot } from '../../src/pipeline/model-slot.js';
import { HEADER } from '../../src/sink/output-records.js';
import { fraudPipeline } from '../support/offline-fixtures.js';
import { failRunsOf, fraudItems } from '../support/slot-fixtures.js';
import { repo } from '../support/paths.js';

afterEach(() => vi.restoreAllMocks());

const items = fraudItems(2000, 11);

function withShadowTopic(p: PipelineConfig): PipelineConfig {
  return { ...p, outputs: { ...p.outputs, shadow: { topic: 'transactions.shadow' } } };
}

async function openSlot(pipeline = withShadowTopic(fraudPipeline())) {
  const metrics = new Metrics(new Registry());
  const slot = await ModelSlot.open({
    pipeline, schema: AvroReader.fromFile(repo('schemas/card-transaction.avsc')), encoderFor: async () => new JsonOutputEncoder(),
    metrics, clock: systemClock, logger: pino({ level: 'silent' }),
  });
  return { slot, metrics };
}

async function outputs(slot: ModelSlot) {
  const [chunk] = [...(await slot.score(items, 0)).values()];
  const on = (topic: string) => chunk!.records.filter((r) => r.topic === topic);
  // scoredAt is the wall clock at scoring: everything else must match.
  const strip = (v: Buffer) => v.toString().replace(/"scoredAt":\d+/, '"scoredAt":0');
  return {
    scored: on('transactions.scored').map((r) => strip(r.value!)),
    alerts: on('fraud-alerts').map((r) => strip(r.value!)),
    shadow: on('transactions.shadow').map((r) => ({ ...JSON.parse(r.value!.toString()) as { primaryAlert: boolean; shadowAlert: boolean; agree: boolean }, version: String(r.headers![HEADER.modelVersion]) })),
    commit: () => chunk!.onCommitted?.(Date.now()),
  };
}

describe('shadow scoring', () => {
  it('scores the same rows as the primary: primary outputs unchanged, one shadow record per scored input with both scores, agreement counted on commit', async () => {
    const { slot: plain } = await openSlot();
    const without = await outputs(plain);
    const { slot: v2 } = await openSlot(withShadowTopic(fraudPipeline(repo('models/fraud-v2.onnx'))));
    const v2Scores = (await outputs(v2)).scored.map((v) => (JSON.parse(v) as { score: number }).score);

    const { slot, metrics } = await openSlot();
    const set = await slot.setShadow(repo('models/fraud-v2.onnx'));
    expect(set.shadow).toMatchObject({ name: 'fraud-gbdt', version: '2.0.0', path: repo('models/fraud-v2.onnx') });
    expect(slot.shadow?.version).toBe('2.0.0');
    const withShadow = await outputs(slot);
    expect(withShadow.scored).toEqual(without.scored);
    expect(withShadow.alerts).toEqual(without.alerts);
    expect(withShadow.shadow).toHaveLength(items.length);
    withShadow.shadow.forEach((s, i) => {
      const primary = JSON.parse(without.scored[i]!) as { score: number; threshold: number };
      expect(s).toMatchObject({
        source: { topic: 'transactions', partition: 0, offset: i }, primaryScore: primary.score, shadowScore: v2Scores[i],
        primaryModel: { name: 'fraud-gbdt', version: '1.0.0' }, shadowModel: { name: 'fraud-gbdt', version: '2.0.0' }, version: '2.0.0',
        primaryAlert: primary.score >= primary.threshold, agree: s.primaryAlert === s.shadowAlert,
      });
    });
    const agreed = withShadow.shadow.filter((s) => s.agree).length;
    expect(agreed).toBeLessThan(items.length); // two real models do disagree somewhere in 2,000 events
    withShadow.commit();
    const text = await metrics.registry.metrics();
    expect(text).toContain(`streamscore_shadow_compared_total{pipeline="fraud"} ${items.length}`);
    expect(text).toContain(`streamscore_shadow_agreed_total{pipeline="fraud"} ${agreed}`);
    expect(text).toContain(`streamscore_shadow_agreement_ratio{pipeline="fraud"} ${agreed / items.length}`);

    expect(await slot.clearShadow()).toMatchObject({ version: '2.0.0' });
    expect((await outputs(slot)).shadow).toEqual([]);
    await Promise.all([plain.close(), v2.close(), slot.close()]);
  });

  it('a failing shadow run is counted; the primary outputs are unchanged and no shadow record is written', async () => {
    const { slot, metrics } = await openSlot();
    const without = await outputs(slot);
    await slot.setShadow(repo('models/fraud-v2.onnx'));
    failRunsOf('2.0.0');
    const failing = await outputs(slot);
    expect(failing.scored).toEqual(without.scored);
    expect(failing.shadow).toEqual([]);
    expect(await metrics.registry.metrics()).toContain('streamscore_shadow_failures_total{pipeline="fraud"} 1');
    await slot.close();
  });

  it('refused: other feature columns (MODEL_MISMATCH), no shadow topic in the config (ADMIN_BAD_REQUEST); nothing changes', async () => {
    const { slot } = await openSlot();
    await expect(slot.setShadow(repo('models/pump-anomaly.onnx'))).rejects.toMatchObject({ code: 'MODEL_MISMATCH' });
    expect(slot.shadow).toBeUndefined();
    const { slot: noTopic } = await openSlot(fraudPipeline());
    await expect(noTopic.setShadow(repo('models/fraud-v2.onnx'))).rejects.toMatchObject({ code: 'ADMIN_BAD_REQUEST', message: expect.stringContaining('outputs.shadow.topic') });
    await Promise.all([slot.close(), noTopic.close()]);
  });

  it('model.shadow in the config scores beside the model from the start; without outputs.shadow the config is refused', async () => {
    const base = withShadowTopic(fraudPipeline());
    const { slot } = await openSlot({ ...base, model: { ...base.model, shadow: repo('models/fraud-v2.onnx') } });
    expect(slot.shadow).toMatchObject({ version: '2.0.0' });
    expect((await outputs(slot)).shadow).toHaveLength(items.length);
    await slot.close();
    const doc = { kafka: { brokers: ['127.0.0.1:9'] }, schemaRegistry: { url: 'http://127.0.0.1:9' }, pipelines: [{ ...fraudPipeline(), model: { path: repo('models/fraud.onnx'), shadow: repo('models/fraud-v2.onnx') } }] };
    expect(() => parseConfig(JSON.stringify(doc), { env: {} })).toThrow(/\/pipelines\/0\/model\/shadow: needs outputs.shadow/);
  });
});
