import { describe, expect, inject, it } from 'vitest';
import { Registry } from 'prom-client';
import { parseConfig } from '../../src/config/load.js';
import type { StreamscoreError } from '../../src/errors.js';
import { Service } from '../../src/pipeline/service.js';
import { waitFor } from '../../src/util/wait.js';
import { captureLog as capture } from '../support/capture-log.js';
import { kafkaForSuite, readTopic } from '../support/kafka.js';
import { avroEncoder, createFraudTopics, fraudConfig, goldenEvents, produce, type Event, type FraudTopics } from '../support/pipeline-fixtures.js';

const scram = inject('scram');

function scramConfig(topics: FraudTopics, password: string) {
  const base = fraudConfig(topics);
  return parseConfig(JSON.stringify({
    ...base,
    http: { port: 0, host: '127.0.0.1' },
    kafka: { ...base.kafka, brokers: scram!.brokers, sasl: { mechanism: 'scram-sha-512', username: '${KAFKA_USERNAME}', password: '${KAFKA_PASSWORD}' } },
  }), { env: { KAFKA_USERNAME: scram!.username, KAFKA_PASSWORD: password } });
}

describe.skipIf(!scram)('SASL SCRAM-SHA-512 to Kafka', () => {
  const { kafka, admin } = kafkaForSuite();

  it('a wrong password fails at start with a clear, coded error that never shows the password', async () => {
    const topics = await createFraudTopics(admin, 1);
    const wrong = 'not-the-password-3f9a';
    const { logger, text } = capture();
    const service = new Service({ config: scramConfig(topics, wrong), logger, registry: new Registry() });
    const err = await service.start().then(() => undefined, (e: unknown) => e as StreamscoreError);
    await service.close();
    expect(err?.code).toBe('KAFKA_AUTH_FAILED');
    expect(err?.message).toContain(`'${scram!.username}'`);
    expect(err?.message).not.toContain(wrong);
    expect(text()).not.toContain(wrong);
  });

  it('the right password works end to end, and no secret reaches a log line or /metrics', async () => {
    const topics = await createFraudTopics(admin, 1);
    const { encode } = await avroEncoder(topics.input);
    const events = goldenEvents('fraud').slice(0, 50).map((g) => g.event as Event);
    await produce(kafka, topics.input, events.map((e) => ({ key: String(e.cardId), value: encode(e) })));
    const { logger, text } = capture();
    const service = new Service({ config: scramConfig(topics, scram!.password), logger, registry: new Registry() });
    try {
      await service.start();
      const scored = await readTopic(kafka, topics.scored, { until: (r) => r.length >= events.length });
      expect(scored).toHaveLength(events.length);
      const port = await waitFor(() => service.httpPort, { timeoutMs: 5_000, what: 'the HTTP port' });
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toContain('streamscore_records_scored_total');
      expect(metrics).not.toContain(scram!.password);
    } finally {
      await service.close();
    }
    expect(text()).not.toContain(scram!.password);
  });
});
