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

  it('a guard breach takes the canary off by itself: the next records are all scored by the primary, and GET /admin/pipelines and the metrics say why', async () => {
    const topics = await createFraudTopics(admin, 3);
    const token = crypto.randomBytes(16).toString('hex');
    const base = fraudConfig(topics);
    // fraud-v2 alerts about as often as 1.0.0: a ratio guard of 0.5 must trip once 300 records each side are in.
    const doc = { ...base, http: { port: 0, host: '127.0.0.1', admin: { token } }, pipelines: [{ ...base.pipelines[0], canary: { maxAlertRateRatio: 0.5, minRecords: 300 } }] };
    const service = new Service({ config: parseConfig(JSON.stringify(doc), { env: {} }), logger: pino({ level: 'silent' }), registry: new Registry() });
    const golden = goldenEvents('fraud').map((g) => g.event);
    const { encode } = await avroEncoder(topics.input);
    const batch = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ key: `card-${from + i}`, value: encode({ ...golden[(from + i) % golden.length]!, transactionId: `g-${from + i}` } as Event) }));
    try {
      await service.start();
      const url = `http://127.0.0.1:${service.httpPort}`;
      const headers = { authorization: `Bearer ${token}` };
      expect((await fetch(`${url}/admin/pipelines/fraud/canary`, { method: 'PUT', headers, body: JSON.stringify({ path: repo('models/fraud-v2.onnx'), share: 0.5 }) })).status).toBe(200);
      await produce(kafka, topics.input, batch(0, 4_000));
      const pipelines = async () => ((await (await fetch(`${url}/admin/pipelines`, { headers })).json()) as { pipelines: { canary: unknown; canaryRemoved: { reason: string; message: string } | null }[] }).pipelines[0]!;
      const removed = await waitFor(async () => (await pipelines()).canaryRemoved ?? undefined, { timeoutMs: 60_000, what: 'the guard to remove the canary' });
      expect(removed).toMatchObject({ reason: 'alert_rate', message: expect.stringContaining('canary.maxAlertRateRatio 0.5') });
      expect((await pipelines()).canary).toBeNull();
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toContain('streamscore_canary_removals_total{pipeline="fraud",reason="alert_rate"} 1');
      expect(metrics).toContain('streamscore_canary_share{pipeline="fraud"} 0');
      await produce(kafka, topics.input, batch(4_000, 1_000));
      await waitFor(async () => (await (await fetch(`${url}/metrics`)).text()).includes('streamscore_records_scored_total{pipeline="fraud"} 5000\n'), { timeoutMs: 60_000, what: 'every record scored' });
    } finally {
      await service.close();
    }
    // The 1,000 keys sent after the removal (card-4000 on): every one scored by the primary.
    const late = (await readAll(kafka, topics.scored)).filter((m) => Number(m.key!.toString().slice('card-'.length)) >= 4_000);
    expect(late).toHaveLength(1_000);
    expect(new Set(late.map((m) => String(m.headers![HEADER.modelVersion])))).toEqual(new Set(['1.0.0']));
  });
});
