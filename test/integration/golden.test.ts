import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin, Kafka } from 'kafkajs';
import { parseConfig } from '../../src/config/load.js';
import { transactionGenerator } from '../../src/loadgen/fraud.js';
import { readingGenerator } from '../../src/loadgen/iot.js';
import { HEADER } from '../../src/sink/output-records.js';
import type { Service } from '../../src/pipeline/service.js';
import { waitFor } from '../../src/util/wait.js';
import { createTopics, kafkaBrokers, readAll, schemaRegistryUrl, testKafka, uniqueName } from '../support/kafka.js';
import { avroEncoder, decodeOutput, goldenEvents, produce, repo, startService, type Event } from '../support/pipeline-fixtures.js';

/** How far alert precision/recall on a 10,000-event generated stream may sit from the model card (about 3 standard errors). */
const QUALITY_TOLERANCE = 0.08;
const GENERATED = 10_000;

interface Scenario {
  name: 'fraud' | 'iot';
  schema: string;
  scoredSchema: string;
  alertSchema: string;
  model: string;
  key: string;
  features?: Record<string, unknown>;
  generate: () => { event: Event; positive: boolean };
}

const scenarios: Scenario[] = [
  (() => {
    const next = transactionGenerator(101, 0.02, 'gen');
    return {
      name: 'fraud' as const, schema: 'schemas/card-transaction.avsc', scoredSchema: 'schemas/scored-transaction.avsc', alertSchema: 'schemas/fraud-alert.avsc',
      model: 'models/fraud.onnx', key: 'cardId', features: { columns: { hourOfDay: { from: 'eventTime', transform: 'hourOfDayUtc' } } },
      generate: () => { const g = next(Date.now()); return { event: g.event as unknown as Event, positive: g.fraud }; },
    };
  })(),
  (() => {
    const next = readingGenerator(202, 0.03);
    return {
      name: 'iot' as const, schema: 'schemas/sensor-reading.avsc', scoredSchema: 'schemas/scored-reading.avsc', alertSchema: 'schemas/anomaly-flag.avsc',
      model: 'models/pump-anomaly.onnx', key: 'deviceId',
      generate: () => { const g = next(Date.now()); return { event: g.event as unknown as Event, positive: g.anomalous }; },
    };
  })(),
];

describe('golden: streamscore publishes the training script\'s scores, and alert quality matches the model cards', () => {
  let kafka: Kafka;
  let admin: Admin;
  let service: Service;
  const inputs: Record<string, { topic: string; scored: string; positives: boolean[]; golden: number[] }> = {};

  beforeAll(async () => {
    kafka = testKafka();
    admin = kafka.admin();
    await admin.connect();
    const pipelines = [];
    for (const s of scenarios) {
      const base = uniqueName(`golden-${s.name}`);
      const t = { input: base, scored: `${base}.scored`, alerts: `${base}.alerts`, dlq: `${base}.dlq` };
      await createTopics(admin, Object.values(t), 1);
      const golden = goldenEvents(s.name);
      const generated = Array.from({ length: GENERATED }, s.generate);
      const { encode } = await avroEncoder(t.input, repo(s.schema));
      // Offsets follow the order sent: the 400 fixture events first, then the generated stream.
      await produce(kafka, t.input, [...golden.map((g) => g.event), ...generated.map((g) => g.event)].map((e) => ({ key: String(e[s.key]), value: encode(e) })));
      inputs[s.name] = { topic: t.input, scored: t.scored, positives: generated.map((g) => g.positive), golden: golden.map((g) => g.score) };
      pipelines.push({
        name: s.name, inputs: [t.input], groupId: `${base}-g`, codec: 'avro', readerSchema: repo(s.schema), model: { path: repo(s.model) },
        ...(s.features ? { features: s.features } : {}),
        outputs: { scored: { topic: t.scored, schema: repo(s.scoredSchema) }, alerts: { topic: t.alerts, schema: repo(s.alertSchema) }, deadLetter: { topic: t.dlq } },
      });
    }
    service = await startService(parseConfig(JSON.stringify({
      kafka: { brokers: kafkaBrokers() }, schemaRegistry: { url: schemaRegistryUrl() }, pipelines,
    }), { env: {} }));
  });
  afterAll(async () => {
    await service?.close();
    await admin.disconnect();
  });

  const outputs = new Map<string, Promise<Map<number, { score: number; alert: boolean }>>>();
  function scoresByOffset(s: Scenario): Promise<Map<number, { score: number; alert: boolean }>> {
    if (!outputs.has(s.name)) outputs.set(s.name, readScores(s));
    return outputs.get(s.name)!;
  }

  async function readScores(s: Scenario): Promise<Map<number, { score: number; alert: boolean }>> {
    const { scored, topic } = inputs[s.name]!;
    await waitFor(async () => {
      const [offsets] = await admin.fetchOffsets({ groupId: `${topic}-g`, topics: [topic] });
      return offsets!.partitions[0]!.offset === String(400 + GENERATED);
    }, { timeoutMs: 90_000, what: `${s.name} to commit every input` });
    const messages = await readAll(kafka, scored);
    expect(messages).toHaveLength(400 + GENERATED);
    return new Map(messages.map((m) => {
      const source = String(m.headers?.[HEADER.source]).split('/');
      const r = decodeOutput(repo(s.scoredSchema), m);
      return [Number(source[2]), { score: r.score as number, alert: r.alert as boolean }];
    }));
  }

  for (const s of scenarios) {
    it(`${s.name}: the fixture's 400 events score as the training script's reference, within 1e-5`, async () => {
      const byOffset = await scoresByOffset(s);
      const reference = inputs[s.name]!.golden;
      const worst = Math.max(...reference.map((ref, i) => Math.abs(byOffset.get(i)!.score - ref)));
      expect(worst).toBeLessThan(1e-5);
    });

    it(`${s.name}: alert precision and recall on a generated stream are the model card's, within ${QUALITY_TOLERANCE}`, async () => {
      const byOffset = await scoresByOffset(s);
      const positives = inputs[s.name]!.positives;
      let tp = 0;
      let alerts = 0;
      positives.forEach((positive, i) => {
        const { alert } = byOffset.get(400 + i)!;
        if (alert) alerts++;
        if (alert && positive) tp++;
      });
      const card = JSON.parse(fs.readFileSync(repo('models/metrics.json'), 'utf8'))[s.name].test as { precision: number; recall: number };
      const precision = tp / alerts;
      const recall = tp / positives.filter(Boolean).length;
      expect(Math.abs(precision - card.precision)).toBeLessThan(QUALITY_TOLERANCE);
      expect(Math.abs(recall - card.recall)).toBeLessThan(QUALITY_TOLERANCE);
    });
  }
});
