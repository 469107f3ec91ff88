import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import type { RecordSchemaView } from '../../src/codec/codec.js';
import { AvroReader } from '../../src/codec/avro-reader.js';
import { JsonOutputEncoder } from '../../src/codec/json-codec.js';
import { OnnxModel } from '../../src/inference/model.js';
import { systemClock } from '../../src/observability/clock.js';
import { Metrics } from '../../src/observability/metrics.js';
import { ModelSlot } from '../../src/pipeline/model-slot.js';
import { HEADER } from '../../src/sink/output-records.js';
import { fraudPipeline, scratchDir } from '../support/offline-fixtures.js';
import { fraudItems, holdRunsOf, recordReleases } from '../support/slot-fixtures.js';
import { repo } from '../support/paths.js';

const dir = scratchDir('model-slot');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

const schema: RecordSchemaView = AvroReader.fromFile(repo('schemas/card-transaction.avsc'));
const items = fraudItems(40, 7);

async function openSlot() {
  const metrics = new Metrics(new Registry());
  const slot = await ModelSlot.open({
    pipeline: fraudPipeline(), schema, encoderFor: async () => new JsonOutputEncoder(),
    metrics, clock: systemClock, logger: pino({ level: 'silent' }),
  });
  return { slot, metrics };
}

/** The model version stamped on each scored output of a batch. */
async function versionsOf(scoring: ReturnType<ModelSlot['score']>): Promise<string[]> {
  const [chunk] = [...(await scoring).values()];
  return chunk!.records.filter((r) => r.topic === 'transactions.scored').map((r) => String(r.headers![HEADER.modelVersion]));
}

describe('ModelSlot: hot swap', () => {
  it('a batch running at the swap finishes on the old model, the next runs on the new one, and the old session is released only after', async () => {
    const { slot, metrics } = await openSlot();
    // Holds version 1.0.0's runs at a gate, so one batch is surely inside ONNX Runtime when the swap lands.
    const { open } = holdRunsOf('1.0.0');
    const closed = recordReleases();

    const first = slot.score(items, 0);
    const swapping = slot.swap(repo('models/fraud-v2.onnx'));
    await vi.waitFor(() => expect(slot.info.version).toBe('2.0.0'), { timeout: 20_000 });
    const second = slot.score(items, 0);
    expect(await versionsOf(second)).toEqual(items.map(() => '2.0.0'));
    expect(closed).toEqual([]);

    open();
    expect(await versionsOf(first)).toEqual(items.map(() => '1.0.0'));
    const result = await swapping;
    expect(closed).toEqual(['1.0.0']);
    expect(result.previous).toMatchObject({ name: 'fraud-gbdt', version: '1.0.0', path: repo('models/fraud.onnx') });
    expect(result.current).toMatchObject({ name: 'fraud-gbdt', version: '2.0.0', path: repo('models/fraud-v2.onnx'), executionProvider: 'cpu' });
    expect(result.warmupMs).toBeGreaterThanOrEqual(0);

    const text = await metrics.registry.metrics();
    expect(text).toContain('streamscore_model_info{pipeline="fraud",model="fraud-gbdt",version="2.0.0",execution_provider="cpu"} 1');
    expect(text).not.toContain('version="1.0.0"');
    expect(text).toContain('streamscore_model_swaps_total{pipeline="fraud",result="swapped"} 1');
    await slot.close();
  });

  it('refuses a model with other inputs (MODEL_MISMATCH, each problem listed) and a file that is no model (MODEL_LOAD_FAILED); the old model keeps scoring the same', async () => {
    const { slot, metrics } = await openSlot();
    const scoresOf = async () => [...(await slot.score(items, 0)).values()][0]!.records.map((r) => r.value!.toString());
    const before = await scoresOf();

    const mismatch = await slot.swap(repo('models/pump-anomaly.onnx')).catch((e: unknown) => e);
    expect(mismatch).toMatchObject({ code: 'MODEL_MISMATCH' });
    // The pump model's columns are sensor readings the card transaction does not carry: one line each.
    expect((mismatch as Error).message.split('\n').filter((l) => l.startsWith('  - ')).length).toBeGreaterThan(1);

    const corrupt = path.join(dir, 'corrupt.onnx');
    fs.writeFileSync(corrupt, Buffer.from('this is not an ONNX model'.repeat(40)));
    await expect(slot.swap(corrupt)).rejects.toMatchObject({ code: 'MODEL_LOAD_FAILED' });
    await expect(slot.swap(path.join(dir, 'absent.onnx'))).rejects.toMatchObject({ code: 'MODEL_LOAD_FAILED' });

    expect(slot.serving).toMatchObject({ version: '1.0.0', path: repo('models/fraud.onnx') });
    const after = (await scoresOf()).map((v) => v.replace(/"scoredAt":\d+/, ''));
    expect(after).toEqual(before.map((v) => v.replace(/"scoredAt":\d+/, '')));
    const text = await metrics.registry.metrics();
    expect(text).toContain('streamscore_model_swaps_total{pipeline="fraud",result="mismatch"} 1');
    expect(text).toContain('streamscore_model_swaps_total{pipeline="fraud",result="load_failed"} 2');
    await slot.close();
  });

  it('a path that is no regular file (a FIFO that would block a read forever) is refused at once', async () => {
    const { slot } = await openSlot();
    const fifo = path.join(dir, 'model.fifo');
    execFileSync('mkfifo', [fifo]);
    await expect(slot.swap(fifo)).rejects.toMatchObject({ code: 'MODEL_LOAD_FAILED', message: expect.stringContaining('not a regular file') });
    await expect(slot.swap(dir)).rejects.toMatchObject({ code: 'MODEL_LOAD_FAILED' });
    await slot.close();
  });

  it('closing while a swap loads: close does not wait for it, the candidate never serves and is released', async () => {
    const { slot } = await openSlot();
    const closed = recordReleases();
    let loadStarted!: () => void;
    const loading = new Promise<void>((r) => { loadStarted = r; });
    const load = OnnxModel.load.bind(OnnxModel);
    vi.spyOn(OnnxModel, 'load').mockImplementation(async (cfg, logger) => {
      loadStarted();
      return load(cfg, logger);
    });
    const swapping = slot.swap(repo('models/fraud-v2.onnx'));
    await loading;
    await slot.close();
    expect(closed).toEqual(['1.0.0']);
    await expect(swapping).rejects.toMatchObject({ code: 'PIPELINE_NOT_RUNNING' });
    expect(closed).toEqual(['1.0.0', '2.0.0']);
    await expect(slot.swap(repo('models/fraud-v2.onnx'))).rejects.toMatchObject({ code: 'PIPELINE_NOT_RUNNING' });
  });
});
