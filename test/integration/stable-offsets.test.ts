import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { KafkaAdmin } from '../../src/kafka/admin.js';
import { KafkaClient } from '../../src/kafka/client.js';
import { createTopics, kafkaBrokers, kafkaForSuite, uniqueName } from '../support/kafka.js';

describe('committed offsets are read stable (OffsetFetch v7, require_stable)', () => {
  const { kafka, admin: testAdmin } = kafkaForSuite();

  /** A fresh topic and group, the port's admin, and a transactional producer; `body` runs with them, then all are closed. */
  async function withTransaction(partitions: number, body: (t: { topic: string; group: string; admin: KafkaAdmin; txn: Awaited<ReturnType<ReturnType<typeof kafka.producer>['transaction']>> }) => Promise<void>) {
    const topic = uniqueName('stable');
    const group = uniqueName('stable-g');
    await createTopics(testAdmin, [topic], partitions);
    const client = new KafkaClient({ brokers: kafkaBrokers(), clientId: 'stable-test', connectionTimeoutMs: 5_000, requestTimeoutMs: 10_000 }, pino({ level: 'silent' }));
    const admin = new KafkaAdmin(client);
    await admin.connect();
    const producer = kafka.producer({ transactionalId: uniqueName('stable-txn'), idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      await body({ topic, group, admin, txn: await producer.transaction() });
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
  }

  it('while a transaction carrying a group offset is open, the read waits for it; after the commit it returns the new offset', async () => {
    await withTransaction(1, async ({ topic, group, admin, txn }) => {
      expect(await admin.committedOffset(group, { topic, partition: 0 })).toBe(-1n);
      await txn.send({ topic, messages: [{ value: 'x' }] });
      await txn.sendOffsets({ consumerGroupId: group, topics: [{ topic, partitions: [{ partition: 0, offset: '42' }] }] });
      let read: bigint | undefined;
      const reading = admin.committedOffset(group, { topic, partition: 0 }).then((v) => { read = v; });
      // A read that is not stable answers at once with -1 (the offset before the transaction).
      // Nothing can be awaited for "did not answer", so this one wait is a fixed time.
      await new Promise((r) => setTimeout(r, 500));
      expect(read).toBeUndefined();
      await txn.commit();
      await reading;
      expect(read).toBe(42n);
    });
  });

  it("one partition's read is not held up by another partition's open transaction (reads ask for their own partition)", async () => {
    await withTransaction(2, async ({ topic, group, admin, txn }) => {
      await txn.send({ topic, messages: [{ value: 'x', partition: 1 }] });
      await txn.sendOffsets({ consumerGroupId: group, topics: [{ topic, partitions: [{ partition: 1, offset: '7' }] }] });
      // Partition 1's offset is pending; partition 0's read answers at once (a short timeout proves it).
      expect(await admin.committedOffset(group, { topic, partition: 0 }, 1_000)).toBe(-1n);
      await txn.abort();
      expect(await admin.committedOffset(group, { topic, partition: 1 })).toBe(-1n);
    });
  });
});
