import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Consumer, Producer } from 'kafkajs';
import pino from 'pino';
import { KafkaAdmin } from '../../src/kafka/admin.js';
import { KafkaClient } from '../../src/kafka/client.js';
import { TransactionalOutput } from '../../src/kafka/sink.js';
import { groupGeneration } from '../../src/kafka/group-generation.js';
import { setTransactionGroupMetadata, type GroupMetadata } from '../../src/kafka/txn-offset-commit.js';
import { waitFor } from '../../src/util/wait.js';
import { createTopics, kafkaBrokers, kafkaForSuite, uniqueName } from '../support/kafka.js';
import { waitingOutConcurrentTransactions } from '../../src/kafka/concurrent-transactions.js';

/**
 * KIP-447 on the real broker: the offsets an exactly-once transaction commits carry the
 * consumer group's member id and generation (TxnOffsetCommit v3), and the coordinator refuses
 * them from a member a rebalance has moved past, which is what keeps a paused instance (a
 * zombie) from committing partitions another instance owns now. One producer runs all the
 * transactions, as one instance's would.
 */
describe('exactly-once offsets carry the group generation (KIP-447)', () => {
  const { admin } = kafkaForSuite();
  const topic = uniqueName('fencing');
  const group = uniqueName('fencing-g');
  const transactionalId = uniqueName('fencing-txn');
  const consumers: Consumer[] = [];
  let client: KafkaClient;
  let stable: KafkaAdmin;
  let producer: Producer;
  let first: Awaited<ReturnType<typeof join>>;
  let g1: GroupMetadata;

  /** A member of the group, with the member id and generation of each of its joins (read through GROUP_JOIN). */
  async function join() {
    const consumer = client.raw.consumer({ groupId: group, sessionTimeout: 10_000, rebalanceTimeout: 10_000, heartbeatInterval: 500 });
    consumers.push(consumer);
    const joins: { memberId: string; generationId: number }[] = [];
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      const generationId = groupGeneration(e.payload.memberId);
      if (generationId !== undefined) joins.push({ memberId: e.payload.memberId, generationId });
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic] });
    await consumer.run({ autoCommit: false, eachMessage: async () => {} });
    await waitFor(() => joins.length > 0, { timeoutMs: 30_000, what: `${group} joined` });
    return { consumer, joins, latest: () => joins[joins.length - 1]! };
  }

  /** One transaction that commits `offset` for partition 0 of `groupId`; on a refusal it aborts and returns the error. */
  async function commitOffset(offset: number, groupId = group): Promise<{ error?: Error & { type?: string; code?: number }; ms: number }> {
    const txn = await producer.transaction();
    const started = Date.now();
    try {
      // As the service does: right after the last transaction ended its coordinator may still answer CONCURRENT_TRANSACTIONS.
      await waitingOutConcurrentTransactions(() => txn.sendOffsets({ consumerGroupId: groupId, topics: [{ topic, partitions: [{ partition: 0, offset: String(offset) }] }] }));
    } catch (error) {
      const ms = Date.now() - started;
      await txn.abort();
      return { error: error as Error, ms };
    }
    await txn.commit();
    return { ms: Date.now() - started };
  }

  // Read stable: right after a commit the coordinator may still be writing the offsets.
  const committed = (groupId = group) => stable.committedOffset(groupId, { topic, partition: 0 });

  beforeAll(async () => {
    client = new KafkaClient({ brokers: kafkaBrokers(), clientId: 'fencing-test', connectionTimeoutMs: 5_000, requestTimeoutMs: 10_000 }, pino({ level: 'silent' }));
    stable = new KafkaAdmin(client);
    await stable.connect();
    await createTopics(admin, [topic], 2);
    // Offsets past a partition's end would be reset by the members' fetches: commit within it.
    const filler = client.raw.producer();
    await filler.connect();
    await filler.send({ topic, messages: Array.from({ length: 10 }, () => ({ value: 'x', partition: 0 })) });
    await filler.disconnect();
    producer = client.raw.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    first = await join();
    g1 = { ...first.latest(), groupInstanceId: null };
  });

  afterAll(async () => {
    setTransactionGroupMetadata(transactionalId, undefined);
    await Promise.all(consumers.map((c) => c.disconnect()));
    await producer?.disconnect();
    await stable?.disconnect();
  });

  it("(a) commits in the member's current generation", async () => {
    setTransactionGroupMetadata(transactionalId, g1);
    expect((await commitOffset(5)).error).toBeUndefined();
    expect(await committed()).toBe(5n);
  });

  it('(b) after a rebalance, refuses the stale generation (the transaction aborts, the offset stays) and an unknown member; the new generation commits', async () => {
    await join();
    await waitFor(() => first.latest().generationId > g1.generationId, { timeoutMs: 30_000, what: 'the first member to rejoin' });

    setTransactionGroupMetadata(transactionalId, g1);
    const stale = await commitOffset(9);
    expect({ name: stale.error?.name, type: stale.error?.type, code: stale.error?.code }).toEqual({ name: 'KafkaJSProtocolError', type: 'ILLEGAL_GENERATION', code: 22 });
    // Not retried by kafkajs: the refusal comes back in one round trip.
    expect(stale.ms).toBeLessThan(5_000);
    expect(await committed()).toBe(5n);

    setTransactionGroupMetadata(transactionalId, { ...first.latest(), memberId: 'no-such-member', groupInstanceId: null });
    const unknown = await commitOffset(9);
    expect({ name: unknown.error?.name, type: unknown.error?.type, code: unknown.error?.code }).toEqual({ name: 'KafkaJSProtocolError', type: 'UNKNOWN_MEMBER_ID', code: 25 });
    expect(await committed()).toBe(5n);

    setTransactionGroupMetadata(transactionalId, { ...first.latest(), groupInstanceId: null });
    expect((await commitOffset(9)).error).toBeUndefined();
    expect(await committed()).toBe(9n);
  });

  it('(c) without group metadata (generation -1, as the replay sends), commits with no generation check, even to a group with members', async () => {
    setTransactionGroupMetadata(transactionalId, undefined);
    expect((await commitOffset(7)).error).toBeUndefined();
    expect(await committed()).toBe(7n);
    const empty = uniqueName('fencing-empty-g');
    expect((await commitOffset(3, empty)).error).toBeUndefined();
    expect(await committed(empty)).toBe(3n);
  });

  // The committer checks, with no await, that the partitions are still ours, then commits. A
  // generation read after any await in the commit could be that of a rebalance which moved
  // the partitions on, and the coordinator would accept their offsets from this member (a
  // version that waited for an early registration first did exactly that).
  it('(d) the service commits in the generation of the moment it checked its partitions, not one read after a wait', async () => {
    let current: GroupMetadata | undefined = { ...first.latest(), groupInstanceId: null };
    const output = new TransactionalOutput({ client, admin: stable, groupId: group, transactionTimeoutMs: 10_000, transactionalId: uniqueName('fencing-output'), groupMetadata: () => current });
    try {
      await output.open();
      await output.begin();
      const committing = output.commit([{ tp: { topic, partition: 0 }, nextOffset: 8n }], []);
      // What a rebalance does to the member's metadata while the commit waits.
      current = { ...first.latest(), memberId: 'moved-on', groupInstanceId: null };
      await committing;
      expect(await committed()).toBe(8n);
    } finally {
      await output.close();
    }
  });
});
