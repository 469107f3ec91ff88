import { afterAll, describe, expect, it } from 'vitest';
import type { Producer } from 'kafkajs';
import { registerEarly, registeredEarly } from '../../src/kafka/early-registration.js';
import { createTopics, kafkaForSuite, readAll, uniqueName } from '../support/kafka.js';

const TRANSACTION_APIS = new Set(['AddPartitionsToTxn', 'AddOffsetsToTxn', 'TxnOffsetCommit', 'Produce', 'EndTxn']);

describe('a transaction registers its partitions and offsets while it collects', () => {
  const { kafka, admin } = kafkaForSuite();
  const producers: Producer[] = [];

  afterAll(async () => {
    await Promise.all(producers.map((p) => p.disconnect()));
  });

  /** A transactional producer, and the names of the transaction requests it sends (a retry, CONCURRENT_TRANSACTIONS just after a commit, counted once). */
  async function recordingProducer(transactionalId: string): Promise<{ producer: Producer; requests: string[] }> {
    const producer = kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1 });
    producers.push(producer);
    await producer.connect();
    const requests: string[] = [];
    producer.on(producer.events.REQUEST, ({ payload }) => {
      if (TRANSACTION_APIS.has(payload.apiName) && requests[requests.length - 1] !== payload.apiName) requests.push(payload.apiName);
    });
    return { producer, requests };
  }

  it('registers the partitions the last commit wrote to and the group at once; the commit then sends only TxnOffsetCommit, Produce and EndTxn', async () => {
    const output = uniqueName('early-out');
    const input = uniqueName('early-in');
    const group = uniqueName('early-group');
    await createTopics(admin, [output, input], 4);
    const transactionalId = uniqueName('early-txn');
    const { producer, requests } = await recordingProducer(transactionalId);

    const transaction = async (partitions: number[], nextOffset: number, end: 'commit' | 'abort') => {
      const txn = await producer.transaction();
      await registerEarly(transactionalId, group);
      const early = requests.splice(0);
      const registered = registeredEarly(transactionalId)!.flatMap((t) => t.partitions.map((p) => p.partition)).sort();
      await txn.sendOffsets({ consumerGroupId: group, topics: [{ topic: input, partitions: [{ partition: 0, offset: String(nextOffset) }] }] });
      await txn.send({ topic: output, messages: partitions.map((partition) => ({ partition, value: `${nextOffset}/${partition}` })) });
      await (end === 'commit' ? txn.commit() : txn.abort());
      return { early, registered, atCommit: requests.splice(0) };
    };
    const all = ['TxnOffsetCommit', 'AddPartitionsToTxn', 'Produce', 'EndTxn'];
    const registeredOnly = ['TxnOffsetCommit', 'Produce', 'EndTxn'];

    // Nothing committed before: only the group is registered early.
    expect(await transaction([0, 1], 10, 'commit')).toEqual({ early: ['AddOffsetsToTxn'], registered: [], atCommit: all });
    // Partitions 0 and 1 early; 2 is new, so kafkajs registers it at commit.
    expect(await transaction([1, 2], 20, 'commit')).toEqual({ early: ['AddPartitionsToTxn', 'AddOffsetsToTxn'], registered: [0, 1], atCommit: all });
    // An abort after an early registration leaves nothing behind, and does not change what the next one registers.
    expect(await transaction([3], 25, 'abort')).toEqual({ early: ['AddPartitionsToTxn', 'AddOffsetsToTxn'], registered: [1, 2], atCommit: all });
    expect(await transaction([1, 2], 30, 'commit')).toEqual({ early: ['AddPartitionsToTxn', 'AddOffsetsToTxn'], registered: [1, 2], atCommit: registeredOnly });
    // What the last commit wrote, not every partition ever registered: 0 (written two commits ago) is registered at commit.
    expect(await transaction([0], 40, 'commit')).toEqual({ early: ['AddPartitionsToTxn', 'AddOffsetsToTxn'], registered: [1, 2], atCommit: all });

    const records = await readAll(kafka, output);
    expect(records.map((r) => r.value?.toString()).sort()).toEqual(['10/0', '10/1', '20/1', '20/2', '30/1', '30/2', '40/0']);
    const [offsets] = await admin.fetchOffsets({ groupId: group, topics: [input] });
    expect(offsets!.partitions.find((p) => p.partition === 0)?.offset).toBe('40');
  });

  // kafkajs sends EndTxn only when it registered something itself: a transaction holding only
  // the early AddOffsetsToTxn stayed open on the broker until the coordinator timed it out,
  // fencing the producer.
  it('an abort of a transaction holding only the early offsets ends it on the broker', async () => {
    const transactionalId = uniqueName('early-abort-txn');
    const { producer, requests } = await recordingProducer(transactionalId);
    const txn = await producer.transaction();
    await registerEarly(transactionalId, uniqueName('early-abort-group'));
    await txn.abort();
    expect(requests).toEqual(['AddOffsetsToTxn', 'EndTxn']);
  });
});
