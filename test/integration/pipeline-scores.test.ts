import { describe, expect, it } from 'vitest';
import { HEADER } from '../../src/sink/output-records.js';
import { kafkaForSuite, readTopic } from '../support/kafka.js';
import {
  avroEncoder, createFraudTopics, decodeOutput, fraudConfig, goldenEvents, produce, referenceFraudScores, repo, startService, type Event,
} from '../support/pipeline-fixtures.js';

describe('the scorer, end to end on the real broker', () => {
  const { kafka, admin } = kafkaForSuite();

  for (const delivery of ['exactly-once', 'at-least-once'] as const) {
    it(`${delivery}: N records in, exactly N scored out, each equal to the model run directly`, async () => {
      const topics = await createFraudTopics(admin, 3);
      const golden = goldenEvents('fraud');
      const events: Event[] = Array.from({ length: 1200 }, (_, i) => ({ ...golden[i % golden.length]!.event, transactionId: `t-${i}` }));
      const { encode } = await avroEncoder(topics.input);
      await produce(kafka, topics.input, events.map((e) => ({ key: e.cardId as string, value: encode(e) })));

      const service = await startService(fraudConfig(topics, { delivery }));
      try {
        const scored = await readTopic(kafka, topics.scored, { until: (r) => r.length >= events.length, timeoutMs: 60_000 });
        const records = scored.map((m) => ({ m, r: decodeOutput(repo('schemas/scored-transaction.avsc'), m) }));
        const ids = records.map(({ r }) => r.transactionId as string);
        expect(new Set(ids).size).toBe(events.length);

        const reference = await referenceFraudScores(events);
        const threshold = records[0]!.r.threshold as number;
        for (const { m, r } of records) {
          const i = Number((r.transactionId as string).slice(2));
          expect(Math.abs((r.score as number) - reference[i]!)).toBeLessThan(1e-6);
          expect(r.alert).toBe(reference[i]! >= threshold);
          expect(r.model).toEqual({ name: 'fraud-gbdt', version: '1.0.0' });
          expect(m.headers?.[HEADER.modelName]?.toString()).toBe('fraud-gbdt');
          expect(m.key?.toString()).toBe(events[i]!.cardId);
          expect(r.eventTime).toBe(events[i]!.eventTime);
        }
        const expectedAlerts = [...reference].filter((s) => s >= threshold).length;
        expect(expectedAlerts).toBeGreaterThan(0);
        const alerts = await readTopic(kafka, topics.alerts, { until: (r) => r.length >= expectedAlerts });
        expect(alerts).toHaveLength(expectedAlerts);
      } finally {
        await service.close();
      }
      // Closing committed everything: the group's offsets sit at the end of each partition.
      const ends = await admin.fetchTopicOffsets(topics.input);
      const committed = await admin.fetchOffsets({ groupId: topics.group, topics: [topics.input] });
      const byPartition = new Map(committed[0]!.partitions.map((p) => [p.partition, p.offset]));
      for (const end of ends) expect(byPartition.get(end.partition)).toBe(end.high);
    });
  }
});
