import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Consumer } from 'kafkajs';
import pino from 'pino';
import { KafkaAdmin } from '../../src/kafka/admin.js';
import { KafkaClient } from '../../src/kafka/client.js';
import { groupGeneration } from '../../src/kafka/group-generation.js';
import { setTransactionGroupMetadata } from '../../src/kafka/txn-offset-commit.js';
import { waitFor } from '../../src/util/wait.js';
import { createTopics, kafkaBrokers, kafkaForSuite, uniqueName } from '../support/kafka.js';

/**
 * KIP-447 on the real broker: the offsets an exactly-once transaction commits carry the
 * consumer group's member id and generation (TxnOffsetCommit v3), and the coordinator refuses
 * them from a member a rebalance has moved past, which is what keeps a paused instance (a
 * zombie) from committing partitions another instance owns now.
 */
describe('exactly-once offsets carry the group generation (KIP-447)', () => {
  const { kafka, admin } = kafkaForSuite();

  /** A member of `group` subscribed to `topic`, with the member id and generation of its latest join. */
  async function join(group: string, topic: string) {
    const consumer = kafka.consumer({ groupId: group, sessionTimeout: 10_000, rebalanceTimeout: 10_000, heartbeatInterval: 500 });
    const joins: { memberId: string; generationId: number }[] = [];
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      const generation = groupGeneration(e.payload.memberId);
      if (generation) joins.push(generation);
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic] });
    await consumer.run({ autoCommit: false, eachMessage: async () => {} });
    await waitFor(() => joins.length > 0, { timeoutMs: 30_000, what: `${group} joined` });
    return { consumer, joins };
  }

  async function commitIn(transactionalId: string, group: string, topic: string, offset: number) {
    const producer = kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const txn = await producer.transaction();
    try {
      await txn.sendOffsets({ consumerGroupId: group, topics: [{ topic, partitions: [{ partition: 0, offset: String(offset) }] }] });
      await txn.commit();
    } catch (err) {
      await txn.abort().catch(() => {});
      throw err;
    } finally {
      await producer.disconnect();
    }
  }

  // Read stable: right after a commit the coordinator may still be writing the offsets.
  const stable = new KafkaAdmin(new KafkaClient({ brokers: kafkaBrokers(), clientId: 'fencing-test', connectionTimeoutMs: 5_000, requestTimeoutMs: 10_000 }, pino({ level: 'silent' })));
  beforeAll(() => stable.connect());
  afterAll(() => stable.disconnect());
  const committed = async (group: string, topic: string) => String(await stable.committedOffset(group, { topic, partition: 0 }));

  it("commits in the member's generation; refuses a stale generation after a rebalance; without a member, no generation is checked", async () => {
    const topic = uniqueName('fencing');
    const group = uniqueName('fencing-g');
    const transactionalId = uniqueName('fencing-txn');
    await createTopics(admin, [topic], 2);
    // Offsets past a partition's end would be reset by the members' fetches: commit within it.
    const filler = kafka.producer();
    await filler.connect();
    await filler.send({ topic, messages: Array.from({ length: 10 }, () => ({ value: 'x', partition: 0 })) });
    await filler.disconnect();
    const consumers: Consumer[] = [];
    try {
      const first = await join(group, topic);
      consumers.push(first.consumer);
      const stale = first.joins[first.joins.length - 1]!;
      setTransactionGroupMetadata(transactionalId, { ...stale, groupInstanceId: null });
      await commitIn(transactionalId, group, topic, 5);
      expect(await committed(group, topic)).toBe('5');

      // A second member joins: the group moves to a new generation.
      const second = await join(group, topic);
      consumers.push(second.consumer);
      await waitFor(() => first.joins.some((j) => j.generationId > stale.generationId), { timeoutMs: 30_000, what: 'the first member to rejoin' });
      const refused = await commitIn(transactionalId, group, topic, 9).then(() => undefined, (err: Error & { type?: string; cause?: { type?: string } }) => err);
      expect(refused).toBeDefined();
      expect(JSON.stringify({ type: refused?.type, cause: refused?.cause?.type, message: refused?.message })).toMatch(/ILLEGAL_GENERATION|generation/i);
      expect(await committed(group, topic)).toBe('5');

      // The current generation commits.
      const current = first.joins[first.joins.length - 1]!;
      setTransactionGroupMetadata(transactionalId, { ...current, groupInstanceId: null });
      await commitIn(transactionalId, group, topic, 9);
      expect(await committed(group, topic)).toBe('9');

      // No member (the replay's case): the coordinator checks no generation.
      setTransactionGroupMetadata(transactionalId, undefined);
      const empty = uniqueName('fencing-empty-g');
      await commitIn(transactionalId, empty, topic, 3);
      expect(await committed(empty, topic)).toBe('3');
    } finally {
      setTransactionGroupMetadata(transactionalId, undefined);
      await Promise.all(consumers.map((c) => c.disconnect()));
    }
  });
});
