import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { createRegistryClient } from '../../src/codec/schema-registry.js';
import { parseConfig } from '../../src/config/load.js';
import { DEFAULTS } from '../../src/config/defaults.js';
import { KafkaClient } from '../../src/kafka/client.js';
import { type SentRecord, produceLoad } from '../../src/loadgen/load-producer.js';
import { Service } from '../../src/pipeline/service.js';
import { HEADER } from '../../src/sink/output-records.js';
import { waitFor } from '../../src/util/wait.js';
import { kafkaBrokers, kafkaForSuite, readAll, readTopic, schemaRegistryUrl } from '../support/kafka.js';
import { runStreamscore, scratchDir } from '../support/offline-fixtures.js';
import { avroEncoder, createFraudTopics, fraudConfig, goldenEvents, produce, repo } from '../support/pipeline-fixtures.js';
import { ServiceProcess } from '../support/service-process.js';
import { metric } from '../support/metrics-text.js';

const dir = scratchDir('model-swap');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));


describe('hot swap of the model on the real broker', () => {
  const { kafka, admin } = kafkaForSuite();

  it('under load (2,000/s) every input is scored once, each partition\'s outputs go 1.0.0 then 2.0.0 in offset order, /readyz stays 200; a corrupt file and a model with other inputs are refused while 2.0.0 serves on', async () => {
    const topics = await createFraudTopics(admin, 3);
    const token = crypto.randomBytes(16).toString('hex');
    const config = parseConfig(JSON.stringify({ ...fraudConfig(topics), http: { port: 0, host: '127.0.0.1', admin: { token } } }), { env: {} });
    const service = new Service({ config, logger: pino({ level: 'silent' }), registry: new Registry() });
    const client = new KafkaClient({ ...DEFAULTS.kafka, brokers: kafkaBrokers(), clientId: 'model-swap-test' }, pino({ level: 'silent' }));
    const sent = new Map<string, SentRecord>();
    const notReady: number[] = [];
    let watching = true;
    try {
      await service.start();
      const base = `http://127.0.0.1:${service.httpPort}`;
      const call = (method: string, route: string, body?: unknown) => fetch(`${base}${route}`, {
        method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
      }).then(async (r) => ({ status: r.status, body: await r.json() as Record<string, unknown> }));
      await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, { timeoutMs: 60_000, intervalMs: 50, what: '/readyz to say ready' });
      // From here on the service must never look unready: a swap is not a restart.
      const watch = (async () => {
        while (watching) {
          const status = (await fetch(`${base}/readyz`)).status;
          if (status !== 200) notReady.push(status);
          await new Promise((r) => setTimeout(r, 50));
        }
      })();

      const loading = produceLoad(client, createRegistryClient({ url: schemaRegistryUrl() }), {
        scenario: 'fraud', topic: topics.input, partitions: 3, rate: 2_000, count: 12_000, format: 'avro', poisonRate: 0.002, seed: 5, runId: `swap-${Date.now().toString(36)}`, sent,
      });
      const scoredSoFar = async () => metric(await (await fetch(`${base}/metrics`)).text(), 'streamscore_records_scored_total');
      await waitFor(async () => (await scoredSoFar()) >= 3_000, { timeoutMs: 60_000, what: '3,000 records scored by 1.0.0' });

      const swapped = await call('PUT', '/admin/pipelines/fraud/model', { path: repo('models/fraud-v2.onnx') });
      expect(swapped.status).toBe(200);
      expect(swapped.body).toMatchObject({ previous: { version: '1.0.0' }, current: { version: '2.0.0', path: repo('models/fraud-v2.onnx'), executionProvider: 'cpu' } });

      const corrupt = path.join(dir, 'corrupt.onnx');
      fs.writeFileSync(corrupt, crypto.randomBytes(4096));
      expect(await call('PUT', '/admin/pipelines/fraud/model', { path: corrupt })).toMatchObject({ status: 422, body: { code: 'MODEL_LOAD_FAILED' } });
      expect(await call('PUT', '/admin/pipelines/fraud/model', { path: repo('models/pump-anomaly.onnx') })).toMatchObject({ status: 409, body: { code: 'MODEL_MISMATCH' } });
      // The same through the CLI a person would use.
      const cliEnv = { STREAMSCORE_ADMIN_TOKEN: token };
      const refused = await runStreamscore(['model', 'swap', '--url', base, '--pipeline', 'fraud', '--path', repo('models/pump-anomaly.onnx')], cliEnv);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('MODEL_MISMATCH');
      const listed = await runStreamscore(['model', 'list', '--url', base], cliEnv);
      expect(listed).toMatchObject({ code: 0 });
      expect(listed.stdout).toContain(`fraud: fraud-gbdt 2.0.0 (cpu) ${repo('models/fraud-v2.onnx')}`);

      const load = await loading;
      await waitFor(async () => (await scoredSoFar()) + metric(await (await fetch(`${base}/metrics`)).text(), 'streamscore_records_dead_lettered_total') >= load.produced, { timeoutMs: 120_000, what: 'every record scored or dead-lettered' });
      watching = false;
      await watch;
      const text = await (await fetch(`${base}/metrics`)).text();
      expect(metric(text, 'streamscore_model_swaps_total', 'result="swapped"')).toBe(1);
      expect(metric(text, 'streamscore_model_swaps_total', 'result="mismatch"')).toBe(2);
      expect(metric(text, 'streamscore_model_swaps_total', 'result="load_failed"')).toBe(1);
      expect(metric(text, 'streamscore_model_info', 'version="2.0.0"')).toBe(1);
      expect(metric(text, 'streamscore_model_info', 'version="1.0.0"')).toBe(0);
    } finally {
      watching = false;
      await service.close();
    }
    expect(notReady).toEqual([]);

    // An independent read_committed reader: one output per input, and per input partition the
    // versions in source-offset order are 1.0.0 … then 2.0.0 …, never back.
    const [scored, dead] = await Promise.all([readAll(kafka, topics.scored), readAll(kafka, topics.dlq)]);
    const outputs = new Map<string, number>();
    for (const m of scored) outputs.set(String(m.headers![HEADER.source]), (outputs.get(String(m.headers![HEADER.source])) ?? 0) + 1);
    for (const m of dead) {
      const source = `${m.headers![HEADER.sourceTopic]}/${m.headers![HEADER.sourcePartition]}/${m.headers![HEADER.sourceOffset]}`;
      outputs.set(source, (outputs.get(source) ?? 0) + 1);
    }
    expect([...sent.keys()].filter((s) => outputs.get(s) !== 1)).toEqual([]);
    expect(outputs.size).toBe(sent.size);
    const byPartition = new Map<string, { offset: number; version: string }[]>();
    for (const m of scored) {
      const [topic, partition, offset] = String(m.headers![HEADER.source]).split('/');
      const list = byPartition.get(`${topic}/${partition}`) ?? [];
      list.push({ offset: Number(offset), version: String(m.headers![HEADER.modelVersion]) });
      byPartition.set(`${topic}/${partition}`, list);
    }
    const versions = new Set<string>();
    for (const [partition, list] of byPartition) {
      const sequence = list.sort((a, b) => a.offset - b.offset).map((o) => o.version);
      sequence.forEach((v) => versions.add(v));
      const firstV2 = sequence.indexOf('2.0.0');
      const lastV1 = sequence.lastIndexOf('1.0.0');
      // The swap came with load flowing into every partition: each has both, old then new.
      expect(firstV2, `${partition}: no 2.0.0 output`).toBeGreaterThan(0);
      expect(lastV1, `${partition}: a 1.0.0 output after a 2.0.0 one`).toBe(firstV2 - 1);
    }
    expect([...versions].sort()).toEqual(['1.0.0', '2.0.0']);
  });

  it('SIGHUP re-reads the config and swaps the model whose section changed; a section naming a model that cannot score is refused and the process scores on', async () => {
    const topics = await createFraudTopics(admin, 2);
    const config = fraudConfig(topics);
    const service = ServiceProcess.start(config, 'sighup');
    try {
      await service.waitForLog('running');
      const logLines = () => service.log().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      const rewrite = (model: string) => fs.writeFileSync(service.configFile, JSON.stringify({ ...config, pipelines: [{ ...config.pipelines[0], model: { ...config.pipelines[0]!.model, path: model } }] }));

      rewrite(repo('models/fraud-v2.onnx'));
      service.signal('SIGHUP');
      await waitFor(() => logLines().find((l) => l.msg === 'model swapped'), { timeoutMs: 30_000, what: "'model swapped' in the log" });
      expect(logLines().find((l) => l.msg === 'model swapped')).toMatchObject({ pipeline: 'fraud', modelVersion: '2.0.0', previous: 'fraud-gbdt 1.0.0' });
      await waitFor(() => logLines().find((l) => l.msg === 'SIGHUP: model sections applied'), { timeoutMs: 10_000, what: 'the SIGHUP summary' });

      rewrite(repo('models/pump-anomaly.onnx'));
      service.signal('SIGHUP');
      const refused = await waitFor(() => logLines().find((l) => l.msg === 'model change refused; what serves is unchanged'), { timeoutMs: 30_000, what: 'the refusal in the log' });
      expect(refused).toMatchObject({ code: 'MODEL_MISMATCH' });
      await waitFor(() => logLines().filter((l) => l.msg === 'SIGHUP: model sections applied').length === 2, { timeoutMs: 10_000, what: 'the second SIGHUP summary' });
      expect(logLines().filter((l) => l.msg === 'SIGHUP: model sections applied').at(-1)).toMatchObject({ refused: ['fraud'], swapped: [] });
      expect(service.running).toBe(true);

      // Still scoring, with 2.0.0.
      const { encode } = await avroEncoder(topics.input);
      const golden = goldenEvents('fraud').map((g) => g.event);
      await produce(kafka, topics.input, golden.slice(0, 20).map((e, i) => ({ key: `k${i}`, value: encode(e) })));
      const scored = await readTopic(kafka, topics.scored, { until: (r) => r.length >= 20, timeoutMs: 60_000 });
      expect(new Set(scored.map((m) => String(m.headers![HEADER.modelVersion])))).toEqual(new Set(['2.0.0']));
      service.signal('SIGTERM');
      expect(await service.exit()).toBe(0);
    } finally {
      await service.kill();
    }
  });
});
