import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { Registry } from 'prom-client';
import { parseConfig } from '../../src/config/load.js';
import { Service } from '../../src/pipeline/service.js';
import { waitFor } from '../../src/util/wait.js';
import { kafkaForSuite, readTopic } from '../support/kafka.js';
import { avroEncoder, createFraudTopics, fraudConfig, goldenEvents, produce, type Event } from '../support/pipeline-fixtures.js';
import { metric } from '../support/metrics-text.js';

/** A logger whose lines the test can read. */
function capturedLogger(level = 'info') {
  const lines: string[] = [];
  const stream = new Writable({ write(chunk, _enc, done) { lines.push(...chunk.toString().trim().split('\n')); done(); } });
  return { logger: pino({ level }, stream), lines };
}


describe('operating it: /metrics, /readyz, /healthz, logs', () => {
  const { kafka, admin } = kafkaForSuite();

  it('/readyz flips as the model loads and partitions arrive; /metrics counts what was sent; logs stay per lifecycle', async () => {
    const topics = await createFraudTopics(admin, 2);
    const golden = goldenEvents('fraud').map((g) => g.event);
    const { encode } = await avroEncoder(topics.input);
    const good = 300;
    const messages = Array.from({ length: good }, (_, i) => ({ key: `card-${i % 9}`, value: encode({ ...golden[i % golden.length]!, transactionId: `m-${i}` } as Event) }));
    messages.push({ key: 'bad', value: Buffer.from('not avro') }, { key: 'bad', value: Buffer.from([0, 0, 0, 0]) });
    await produce(kafka, topics.input, messages);

    const { logger, lines } = capturedLogger();
    const base = fraudConfig(topics);
    const config = parseConfig(JSON.stringify({ ...base, http: { port: 0, host: '127.0.0.1' } }), { env: {} });
    const service = new Service({ config, logger, registry: new Registry() });
    const seen: number[] = [];
    const starting = service.start();
    try {
      const port = await waitFor(() => service.httpPort, { timeoutMs: 10_000, intervalMs: 5, what: 'the HTTP port' });
      const url = (path: string) => `http://127.0.0.1:${port}${path}`;
      await waitFor(async () => {
        const res = await fetch(url('/readyz'));
        if (seen.at(-1) !== res.status) seen.push(res.status);
        return res.status === 200;
      }, { timeoutMs: 60_000, intervalMs: 20, what: '/readyz to say ready' });
      await starting;
      expect(seen[0]).toBe(503);
      expect(seen.at(-1)).toBe(200);
      expect((await fetch(url('/healthz'))).status).toBe(200);

      await waitFor(async () => metric(await (await fetch(url('/metrics'))).text(), 'streamscore_records_scored_total') >= good, { timeoutMs: 60_000, what: 'every record to be scored' });
      const text = await (await fetch(url('/metrics'))).text();
      expect(metric(text, 'streamscore_records_consumed_total')).toBe(good + 2);
      expect(metric(text, 'streamscore_records_scored_total')).toBe(good);
      expect(metric(text, 'streamscore_records_dead_lettered_total')).toBe(2);
      expect(metric(text, 'streamscore_records_dead_lettered_total', 'code="DECODE_BAD_MAGIC"')).toBe(1);
      expect(metric(text, 'streamscore_records_dead_lettered_total', 'code="DECODE_TRUNCATED"')).toBe(1);
      expect(metric(text, 'streamscore_end_to_end_latency_ms_count')).toBe(good + 2);
      expect(metric(text, 'streamscore_transactions_total', 'result="committed"')).toBeGreaterThan(0);
      expect(metric(text, 'streamscore_model_info', 'execution_provider="cpu"')).toBe(1);
      expect(metric(text, 'streamscore_assigned_partitions')).toBe(2);
      expect(text).toContain('streamscore_process_resident_memory_bytes');
      const alertsCommitted = (await readTopic(kafka, topics.alerts, { until: (r) => r.length >= metric(text, 'streamscore_alerts_total') })).length;
      expect(metric(text, 'streamscore_alerts_total')).toBe(alertsCommitted);
    } finally {
      await starting.catch(() => {});
      await service.close();
    }
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    // One line per lifecycle event, never one per record.
    expect(parsed.filter((l) => l.level === 30).length).toBeLessThan(30);
    expect(parsed.some((l) => l.msg === 'model loaded' && l.pipeline === 'fraud' && l.modelVersion === '1.0.0' && l.executionProvider === 'cpu')).toBe(true);
    expect(parsed.some((l) => l.msg === 'partition taken over' && l.pipeline === 'fraud' && l.modelVersion === '1.0.0' && typeof l.partition === 'number')).toBe(true);
  });
});

