import pino from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { DriftEvent } from '../../src/inference/drift.js';
import { Service } from '../../src/pipeline/service.js';
import { waitFor } from '../../src/util/wait.js';
import { createTopics, kafkaForSuite, readAll } from '../support/kafka.js';
import { type Event, fraudEvents } from '../support/offline-fixtures.js';
import { avroEncoder, createFraudTopics, fraudConfig, produce } from '../support/pipeline-fixtures.js';

/** The value of the first sample of a metric whose labels contain `match`; undefined when there is none. */
function metric(text: string, name: string, match: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(match));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('drift on the real broker', () => {
  const { kafka, admin } = kafkaForSuite();

  it('generated traffic with amounts tripled: amount\'s PSI goes over 0.2 and no other input\'s; the drift events on outputs.drift.topic name amount', async () => {
    const topics = await createFraudTopics(admin, 3);
    const driftTopic = `${topics.input}.drift`;
    await createTopics(admin, [driftTopic], 1);
    const base = fraudConfig(topics);
    const doc = { ...base, pipelines: [{ ...base.pipelines[0], drift: { window: 2_000, psiAlert: 0.2 }, outputs: { ...base.pipelines[0]!.outputs, drift: { topic: driftTopic } } }] };
    const service = new Service({ config: parseConfig(JSON.stringify(doc), { env: {} }), logger: pino({ level: 'silent' }), registry: new Registry(), http: false });
    const events: Event[] = fraudEvents(6_000, 31, 'drift-broker').map((e) => ({ ...e, amount: (e.amount as number) * 3 }));
    let text: string;
    try {
      await service.start();
      const { encode } = await avroEncoder(topics.input);
      await produce(kafka, topics.input, events.map((e) => ({ key: String(e.cardId), value: encode(e) })));
      await waitFor(async () => (await service.metrics.registry.metrics()).includes(`streamscore_records_scored_total{pipeline="fraud"} ${events.length}\n`), { timeoutMs: 60_000, what: 'every record scored' });
      text = await service.metrics.registry.metrics();
    } finally {
      await service.close();
    }
    expect(metric(text, 'streamscore_feature_psi', 'feature="amount"')).toBeGreaterThan(0.2);
    for (const feature of ['hourOfDay', 'merchantCategory', 'channel', 'distanceFromHomeKm', 'txCount1h', 'txCount24h', 'amountToAvgRatio', 'foreignCountry', 'knownDevice']) {
      expect(metric(text, 'streamscore_feature_psi', `feature="${feature}"`), feature).toBeLessThan(0.2);
    }
    const drift = (await readAll(kafka, driftTopic)).map((m) => JSON.parse(m.value!.toString()) as DriftEvent);
    expect(drift.some((e) => e.feature === 'amount' && e.psi > 0.2 && e.window === 2_000)).toBe(true);
    expect(drift.filter((e) => e.feature !== 'amount' && e.feature !== 'score')).toEqual([]);
  });
});
