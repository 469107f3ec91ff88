import pino from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { AvroReader } from '../../src/codec/avro-reader.js';
import { JsonOutputEncoder } from '../../src/codec/json-codec.js';
import { type DriftEvent, DriftMonitor, psi } from '../../src/inference/drift.js';
import { systemClock } from '../../src/observability/clock.js';
import { Metrics } from '../../src/observability/metrics.js';
import { ModelSlot } from '../../src/pipeline/model-slot.js';
import { type Event, fraudEvents, fraudPipeline } from '../support/offline-fixtures.js';
import { decodedItems } from '../support/slot-fixtures.js';
import { repo } from '../support/paths.js';

const WINDOW = 4_000;

/** Scores the events in batches of 256 through the fraud pipeline; returns the PSI gauges and drift events. */
async function driftOf(events: Event[]) {
  const metrics = new Metrics(new Registry());
  const drifted: DriftEvent[] = [];
  const pipeline = { ...fraudPipeline(), drift: { window: WINDOW, psiAlert: 0.2 } };
  const slot = await ModelSlot.open({
    pipeline, schema: AvroReader.fromFile(repo('schemas/card-transaction.avsc')), encoderFor: async () => new JsonOutputEncoder(),
    metrics, clock: systemClock, logger: pino({ level: 'silent' }), onDriftEvent: (e) => drifted.push(e),
  });
  const items = decodedItems(events);
  for (let i = 0; i < items.length; i += 256) await slot.score(items.slice(i, i + 256), 0);
  await slot.close();
  const psiByFeature: Record<string, number> = {};
  for (const m of (await metrics.featurePsi.get()).values) psiByFeature[String(m.labels.feature)] = m.value;
  const score = (await metrics.scorePsi.get()).values[0]?.value;
  return { psiByFeature, score, drifted };
}

describe('drift: PSI against the training baseline', () => {
  it('psi is 0 for the expected proportions and grows as they part', () => {
    expect(psi([0.5, 0.5, 0], Uint32Array.from([50, 50, 0]), 100)).toBeCloseTo(0, 6);
    // (0.9-0.5)ln(0.9/0.5) + (0.1-0.5)ln(0.1/0.5)
    expect(psi([0.5, 0.5, 0], Uint32Array.from([90, 10, 0]), 100)).toBeCloseTo(0.4 * Math.log(1.8) - 0.4 * Math.log(0.2), 6);
  });

  it('a stream like the training data stays under 0.1 for every input and the score; no drift event', async () => {
    const { psiByFeature, score, drifted } = await driftOf(fraudEvents(3 * WINDOW, 21, 'drift-same'));
    expect(Object.keys(psiByFeature).sort()).toEqual(['amount', 'amountToAvgRatio', 'channel', 'distanceFromHomeKm', 'foreignCountry', 'hourOfDay', 'knownDevice', 'merchantCategory', 'txCount1h', 'txCount24h']);
    for (const [feature, value] of Object.entries(psiByFeature)) expect(value, feature).toBeLessThan(0.1);
    expect(score).toBeLessThan(0.1);
    expect(drifted).toEqual([]);
  });

  it('one input shifted (amounts tripled) takes that input over 0.2 and no other; one drift event for it per window', async () => {
    const events = fraudEvents(3 * WINDOW, 22, 'drift-shift').map((e) => ({ ...e, amount: tripled(e.amount) }));
    const { psiByFeature, drifted } = await driftOf(events);
    expect(psiByFeature.amount).toBeGreaterThan(0.2);
    for (const [feature, value] of Object.entries(psiByFeature)) if (feature !== 'amount') expect(value, feature).toBeLessThan(0.2);
    const forAmount = drifted.filter((e) => e.feature === 'amount');
    // Windows fill at record 4,000 and slide on to 12,000: at most one event per window's worth of records.
    expect(forAmount.length).toBeGreaterThanOrEqual(1);
    expect(forAmount.length).toBeLessThanOrEqual(3);
    expect(forAmount[0]).toMatchObject({ pipeline: 'fraud', model: { name: 'fraud-gbdt', version: '1.0.0' }, psiAlert: 0.2, window: WINDOW });
  });

  it('a model without a training baseline: drift is unavailable, and the model still runs', () => {
    const monitor = DriftMonitor.for({
      pipeline: 'p', model: { name: 'm', version: '1', featureNames: ['x'] }, config: { window: 100, psiAlert: 0.2 },
      metrics: new Metrics(new Registry()), logger: pino({ level: 'silent' }), now: () => 0,
    });
    expect(monitor).toBeUndefined();
  });
});

/** The event's amount times three, in the same representation the generator uses. */
function tripled(amount: unknown): unknown {
  if (typeof amount === 'number') return amount * 3;
  throw new Error(`unexpected amount representation: ${typeof amount}`);
}
