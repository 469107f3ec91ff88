import crypto from 'node:crypto';
import pino from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { Service } from '../../src/pipeline/service.js';
import { HEADER } from '../../src/sink/output-records.js';
import { waitFor } from '../../src/util/wait.js';
import { kafkaForSuite, readAll } from '../support/kafka.js';
import { avroEncoder, createFraudTopics, fraudConfig, goldenEvents, produce, repo, type Event } from '../support/pipeline-fixtures.js';

describe('sticky canary on the real broker', () => {
  const { kafka, admin } = kafkaForSuite();

  it('a canary at 5 % decides 4–6 % of 20,000 keys, each key meets one model only; promote makes it the primary', async () => {
    const topics = await createFraudTopics(admin, 3);
    const token = crypto.randomBytes(16).toString('hex');
    const base = fraudConfig(topics);
    // Guards out of the way: this test is about the share, test/unit/canary.test.ts about the guards.
    const doc = { ...base, http: { port: 0, host: '127.0.0.1', admin: { token } }, pipelines: [{ ...base.pipelines[0], canary: { maxAlertRateRatio: 1e9 } }] };
    const service = new Service({ config: parseConfig(JSON.stringify(doc), { env: {} }), logger: pino({ level: 'silent' }), registry: new Registry() });
    const golden = goldenEvents('fraud').map((g) => g.event);
    const keys = 20_000;
    try {
      await service.start();
      const url = `http://127.0.0.1:${service.httpPort}`;
      const call = (method: string, route: string, body?: unknown) => fetch(`${url}${route}`, { method, headers: { authorization: `Bearer ${token}` }, body: body === undefined ? undefined : JSON.stringify(body) })
        .then(async (r) => ({ status: r.status, body: await r.json() as Record<string, unknown> }));
      expect(await call('PUT', '/admin/pipelines/fraud/canary', { path: repo('models/fraud-v2.onnx'), share: 0.05 })).toMatchObject({ status: 200, body: { canary: { version: '2.0.0', share: 0.05 } } });
      const { encode } = await avroEncoder(topics.input);
      // Every key twice: the second time it must meet the model it met the first time.
      const events = Array.from({ length: 2 * keys }, (_, i) => ({ key: `card-${i % keys}`, value: encode({ ...golden[i % golden.length]!, transactionId: `c-${i}` } as Event) }));
      await produce(kafka, topics.input, events);
      const metrics = () => fetch(`${url}/metrics`).then((r) => r.text());
      await waitFor(async () => (await metrics()).includes(`streamscore_records_scored_total{pipeline="fraud"} ${2 * keys}\n`), { timeoutMs: 120_000, what: 'every record scored' });
      expect((await call('GET', '/admin/pipelines')).body).toMatchObject({ pipelines: [{ canary: { version: '2.0.0', share: 0.05 }, canaryRemoved: null }] });

      const promoted = await call('POST', '/admin/pipelines/fraud/canary/promote');
      expect(promoted).toMatchObject({ status: 200, body: { previous: { version: '1.0.0' }, current: { version: '2.0.0' } } });
      expect((await call('GET', '/admin/pipelines')).body).toMatchObject({ pipelines: [{ model: { version: '2.0.0' }, canary: null }] });
    } finally {
      await service.close();
    }
    const scored = await readAll(kafka, topics.scored);
    expect(scored).toHaveLength(2 * keys);
    const versionsByKey = new Map<string, Set<string>>();
    for (const m of scored) {
      const key = m.key!.toString();
      versionsByKey.set(key, (versionsByKey.get(key) ?? new Set()).add(String(m.headers![HEADER.modelVersion])));
    }
    expect(versionsByKey.size).toBe(keys);
    expect([...versionsByKey.values()].filter((v) => v.size !== 1)).toEqual([]);
    const share = [...versionsByKey.values()].filter((v) => v.has('2.0.0')).length / keys;
    expect(share).toBeGreaterThanOrEqual(0.04);
    expect(share).toBeLessThanOrEqual(0.06);
  });
});
