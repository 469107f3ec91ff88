import crypto from 'node:crypto';
import pino from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { Service } from '../../src/pipeline/service.js';
import { HEADER } from '../../src/sink/output-records.js';
import { waitFor } from '../../src/util/wait.js';
import { createTopics, kafkaForSuite, readAll } from '../support/kafka.js';
import { avroEncoder, createFraudTopics, decodeOutput, fraudConfig, goldenEvents, produce, referenceFraudScores, repo, type Event } from '../support/pipeline-fixtures.js';

const SHADOW_SCHEMA = repo('schemas/shadow-score.avsc');

describe('shadow scoring on the real broker', () => {
  const { kafka, admin } = kafkaForSuite();

  it('the scored topic holds the primary\'s scores as without a shadow; the shadow topic one record per scored input, in the same transactions; the agreement metric equals a recount', async () => {
    const topics = await createFraudTopics(admin, 3);
    const shadowTopic = `${topics.input}.shadow`;
    await createTopics(admin, [shadowTopic], 3);
    const token = crypto.randomBytes(16).toString('hex');
    const base = fraudConfig(topics);
    const doc = {
      ...base, http: { port: 0, host: '127.0.0.1', admin: { token } },
      pipelines: [{ ...base.pipelines[0], outputs: { ...base.pipelines[0]!.outputs, shadow: { topic: shadowTopic, schema: SHADOW_SCHEMA } } }],
    };
    const service = new Service({ config: parseConfig(JSON.stringify(doc), { env: {} }), logger: pino({ level: 'silent' }), registry: new Registry() });
    const events = Array.from({ length: 3_000 }, (_, i) => ({ ...goldenEvents('fraud')[i % 400]!.event, transactionId: `sh-${i}` }) as Event);
    let metrics: string;
    try {
      await service.start();
      const url = `http://127.0.0.1:${service.httpPort}`;
      const set = await fetch(`${url}/admin/pipelines/fraud/shadow`, { method: 'PUT', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ path: repo('models/fraud-v2.onnx') }) });
      expect(set.status).toBe(200);
      const { encode } = await avroEncoder(topics.input);
      await produce(kafka, topics.input, events.map((e, i) => ({ key: `card-${i % 50}`, value: encode(e) })));
      const scored = () => fetch(`${url}/metrics`).then((r) => r.text());
      await waitFor(async () => (await scored()).includes(`streamscore_records_scored_total{pipeline="fraud"} ${events.length}\n`), { timeoutMs: 60_000, what: 'every record scored' });
      metrics = await scored();
    } finally {
      await service.close();
    }

    const [scoredRecords, shadowRecords] = await Promise.all([readAll(kafka, topics.scored), readAll(kafka, shadowTopic)]);
    // Primary scores as the model run directly gives them (to float32 rounding across batch
    // shapes; test/unit/shadow.test.ts shows the same batch scored with and without a shadow is byte-equal).
    const reference = await referenceFraudScores(events);
    const byId = new Map(scoredRecords.map((m) => { const v = decodeOutput(repo('schemas/scored-transaction.avsc'), m); return [String(v.transactionId), v]; }));
    expect(byId.size).toBe(events.length);
    const off = events.filter((e, i) => Math.abs((byId.get(String(e.transactionId))!.score as number) - reference[i]!) > 1e-6);
    expect(off).toEqual([]);
    expect(new Set(scoredRecords.map((m) => String(m.headers![HEADER.modelVersion])))).toEqual(new Set(['1.0.0']));

    // One shadow record per scored input, naming the same source and primary score.
    const scoredBySource = new Map(scoredRecords.map((m) => [String(m.headers![HEADER.source]), decodeOutput(repo('schemas/scored-transaction.avsc'), m)]));
    const shadows = shadowRecords.map((m) => decodeOutput(SHADOW_SCHEMA, m) as { source: { topic: string; partition: number; offset: number }; primaryScore: number; agree: boolean; shadowModel: { version: string } });
    const sources = shadows.map((s) => `${s.source.topic}/${s.source.partition}/${s.source.offset}`);
    expect(new Set(sources).size).toBe(shadows.length);
    expect(sources.sort()).toEqual([...scoredBySource.keys()].sort());
    for (const s of shadows) {
      expect(s.primaryScore).toBe(scoredBySource.get(`${s.source.topic}/${s.source.partition}/${s.source.offset}`)!.score);
      expect(s.shadowModel.version).toBe('2.0.0');
    }
    const agreed = shadows.filter((s) => s.agree).length;
    expect(metrics).toContain(`streamscore_shadow_compared_total{pipeline="fraud"} ${shadows.length}`);
    expect(metrics).toContain(`streamscore_shadow_agreed_total{pipeline="fraud"} ${agreed}`);
    expect(metrics).toContain(`streamscore_shadow_agreement_ratio{pipeline="fraud"} ${agreed / shadows.length}`);
  });
});
