import pino from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AvroReader } from '../../src/codec/avro-reader.js';
import { JsonOutputEncoder } from '../../src/codec/json-codec.js';
import type { CanaryConfig } from '../../src/config/types.js';
import { systemClock } from '../../src/observability/clock.js';
import { Metrics } from '../../src/observability/metrics.js';
import type { WorkItem } from '../../src/pipeline/batch-scorer.js';
import { CANARY_BUCKETS, canaryBucket } from '../../src/pipeline/canary.js';
import { ModelSlot } from '../../src/pipeline/model-slot.js';
import { HEADER } from '../../src/sink/output-records.js';
import { fraudPipeline } from '../support/offline-fixtures.js';
import { failRunsOf, fraudItems, holdRunsOf, recordReleases } from '../support/slot-fixtures.js';
import { repo } from '../support/paths.js';

afterEach(() => vi.restoreAllMocks());

const V2 = repo('models/fraud-v2.onnx');

/** `count` records whose keys are card-0 … card-(keys-1), round and round. */
function items(count: number, keys: number): WorkItem[] {
  return fraudItems(count, 5, (_, i) => `card-${i % keys}`);
}

async function openSlot(canary: Partial<CanaryConfig> = {}) {
  const metrics = new Metrics(new Registry());
  const base = fraudPipeline();
  const slot = await ModelSlot.open({
    pipeline: { ...base, canary: { ...base.canary, ...canary } }, schema: AvroReader.fromFile(repo('schemas/card-transaction.avsc')),
    encoderFor: async () => new JsonOutputEncoder(), metrics, clock: systemClock, logger: pino({ level: 'silent' }),
  });
  return { slot, metrics };
}

/** Scores in batches of 256; the model version of each key's scored outputs, and what went where. */
async function run(slot: ModelSlot, all: WorkItem[]) {
  const versionsByKey = new Map<string, Set<string>>();
  const byVersion = new Map<string, number>();
  const deadLettered: string[] = [];
  for (let i = 0; i < all.length; i += 256) {
    for (const chunk of (await slot.score(all.slice(i, i + 256), 0)).values()) {
      chunk.onCommitted?.(Date.now()); // as the sink does once the transaction commits
      for (const r of chunk.records) {
        if (r.topic === 'transactions.dlq') deadLettered.push(String(r.headers![HEADER.errorCode]));
        if (r.topic !== 'transactions.scored') continue;
        const version = String(r.headers![HEADER.modelVersion]);
        byVersion.set(version, (byVersion.get(version) ?? 0) + 1);
        const key = r.key!.toString();
        versionsByKey.set(key, (versionsByKey.get(key) ?? new Set()).add(version));
      }
    }
  }
  return { versionsByKey, byVersion, deadLettered };
}

describe('sticky canary', () => {
  it('decides its share of 20,000 keys within ±1 percentage point, and every key meets one model only', async () => {
    const { slot, metrics } = await openSlot({ maxAlertRateRatio: 1e9 });
    const set = await slot.setCanary(V2, 0.05);
    expect(set.canary).toMatchObject({ version: '2.0.0', share: 0.05, path: V2 });
    // Each key twice over.
    const { versionsByKey, byVersion } = await run(slot, items(40_000, 20_000));
    expect(versionsByKey.size).toBe(20_000);
    expect([...versionsByKey.values()].filter((v) => v.size !== 1)).toEqual([]);
    const canaryKeys = [...versionsByKey.values()].filter((v) => v.has('2.0.0')).length;
    expect(Math.abs(canaryKeys / 20_000 - 0.05)).toBeLessThanOrEqual(0.01);
    expect(byVersion.get('2.0.0')).toBe(2 * canaryKeys);
    const text = await metrics.registry.metrics();
    expect(text).toContain('streamscore_canary_share{pipeline="fraud"} 0.05');
    expect(text).toContain(`streamscore_canary_scored_total{pipeline="fraud"} ${2 * canaryKeys}`);
    await slot.close();
  });

  it('the bucket of a key is the same every time, and a record without a key stays with the primary', () => {
    expect(canaryBucket(Buffer.from('card-42'))).toBe(canaryBucket(Buffer.from('card-42')));
    expect(canaryBucket(null)).toBeUndefined();
    const buckets = Array.from({ length: 1_000 }, (_, i) => canaryBucket(Buffer.from(`k${i}`))!);
    expect(buckets.every((b) => b >= 0 && b < CANARY_BUCKETS)).toBe(true);
  });

  it('a guard breach (alert rate over maxAlertRateRatio × the primary\'s) removes the canary: logged, counted, visible; later batches are all primary', async () => {
    const { slot, metrics } = await openSlot({ maxAlertRateRatio: 0.5, minRecords: 500 });
    await slot.setCanary(V2, 0.5);
    await run(slot, items(4_000, 4_000));
    expect(slot.canary).toBeUndefined();
    expect(slot.canaryRemoval).toMatchObject({ reason: 'alert_rate', model: { version: '2.0.0', path: V2 }, message: expect.stringContaining('canary.maxAlertRateRatio 0.5') });
    expect(await metrics.registry.metrics()).toContain('streamscore_canary_removals_total{pipeline="fraud",reason="alert_rate"} 1');
    expect([...(await run(slot, items(1_000, 1_000))).byVersion.keys()]).toEqual(['1.0.0']);
    await slot.close();
  });

  it('a canary whose inference fails past maxErrorRate is removed (error_rate); its failed records were dead-lettered, not lost', async () => {
    const { slot } = await openSlot({ minRecords: 100 });
    await slot.setCanary(V2, 0.5);
    failRunsOf('2.0.0');
    const { deadLettered, byVersion } = await run(slot, items(2_000, 2_000));
    expect(slot.canary).toBeUndefined();
    expect(slot.canaryRemoval?.reason).toBe('error_rate');
    expect(deadLettered.length).toBeGreaterThan(0);
    expect(new Set(deadLettered)).toEqual(new Set(['INFERENCE_FAILED']));
    expect(byVersion.get('1.0.0')! + deadLettered.length).toBe(2_000);
    await slot.close();
  });

  it('promote: the canary becomes the primary through the swap, and the canary is gone', async () => {
    const { slot } = await openSlot();
    await slot.setCanary(V2, 0.2);
    const promoted = await slot.promoteCanary();
    expect(promoted).toMatchObject({ previous: { version: '1.0.0' }, current: { version: '2.0.0', path: V2 } });
    expect(slot.canary).toBeUndefined();
    expect((await run(slot, items(500, 500))).byVersion).toEqual(new Map([['2.0.0', 500]]));
    await expect(slot.promoteCanary()).rejects.toMatchObject({ code: 'ADMIN_BAD_REQUEST' });
    await expect(slot.setCanary(V2, 0)).rejects.toMatchObject({ code: 'ADMIN_BAD_REQUEST' });
    await slot.close();
  });

  it('closing while a promote waits for a running batch: the batch finishes, both sessions are released once each, nothing serves after', async () => {
    const { slot } = await openSlot();
    await slot.setCanary(V2, 0.5);
    const { open } = holdRunsOf('1.0.0');
    const closed = recordReleases();
    const batch = slot.score(items(200, 200), 0);
    const promoting = slot.promoteCanary();
    // The promote has taken the canary and waits for the running batch when the close comes.
    await vi.waitFor(() => expect(slot.canary).toBeUndefined());
    const closing = slot.close();
    open();
    await batch;
    await closing;
    await expect(promoting).rejects.toMatchObject({ code: 'PIPELINE_NOT_RUNNING' });
    expect(closed.sort()).toEqual(['1.0.0', '2.0.0']);
  });
});
