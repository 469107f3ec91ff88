import type { Producer, Transaction } from 'kafkajs';
import type { KafkaAdmin } from './admin.js';
import { chaosPoint } from './chaos-hook.js';
import type { KafkaClient } from './client.js';
import { classifyTransactionError } from './errors.js';
import { type RecordProducer, toTopicMessages } from './producer.js';
import type { OutgoingRecord, TopicPartition } from './records.js';

/**
 * The output side of one input partition, as the commit cadence in src/sink/ sees it:
 * open (fence + read the committed offset from the broker), begin, send, commit, abort.
 * Every failure is thrown as a coded StreamscoreError. After any failure the output is
 * opened again before it is used: kafkajs leaves a transactional producer whose EndTxn or
 * abort failed in COMMITTING / ABORTING, where every later transaction throws (kafkajs
 * #1275), so the only sound recovery is a new producer with the same transactional id.
 */
export interface PartitionOutput {
  readonly transactionalId: string | undefined;
  /** Send each chunk as it comes (its output is readable on ack), rather than all at commit time. */
  readonly sendsAtOnce: boolean;
  /** (Re)creates the producer, fencing every earlier one, and reads the committed offset (-1n: none). */
  open(): Promise<bigint>;
  begin(): Promise<void>;
  send(records: readonly OutgoingRecord[]): Promise<void>;
  /**
   * Sends `last` (may be empty) and stores `nextOffset` as the partition's committed offset,
   * atomically with everything sent (exactly-once).
   */
  commit(nextOffset: bigint, last: readonly OutgoingRecord[]): Promise<void>;
  /** Best effort: a failure here only means the producer must be replaced, which open() does. */
  abort(): Promise<void>;
  close(): Promise<void>;
}

// Right after a commit the coordinator is still writing markers and answers the next
// transaction with CONCURRENT_TRANSACTIONS for a few ms; kafkajs's default first retry
// (300 ms) would add that to every transaction, so retry fast and back off from there.
// 10 doublings capped at 1 s ride out a few seconds; longer trouble is the sink's to retry.
const PRODUCER_RETRY = { initialRetryTime: 2, maxRetryTime: 1_000, retries: 10 };

/** A transactional producer for `transactionalId`, to be fenced in before use. */
export function transactionalProducer(client: KafkaClient, transactionalId: string, transactionTimeoutMs: number): Producer {
  return client.raw.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1, transactionTimeout: transactionTimeoutMs, retry: PRODUCER_RETRY });
}

/** Connects; InitProducerId then completes or aborts whatever an earlier producer with the id left open, and fences it. */
export async function fenceEarlierProducers(producer: Producer): Promise<void> {
  await producer.connect();
  const fence = await producer.transaction();
  await fence.abort();
}

interface OutputOptions {
  client: KafkaClient;
  admin: KafkaAdmin;
  groupId: string;
  tp: TopicPartition;
  transactionTimeoutMs: number;
}

/**
 * Exactly-once: one transactional producer per input partition, its id derived from group +
 * topic + partition. kafkajs sends offsets without KIP-447 member fencing, so the
 * transactional id is the only fence: a newer owner's open() fences every older one.
 */
export class TransactionalOutput implements PartitionOutput {
  readonly transactionalId: string;
  readonly sendsAtOnce = false;
  #producer: Producer | undefined;
  #txn: Transaction | undefined;

  constructor(private readonly o: OutputOptions) {
    this.transactionalId = `streamscore-${o.groupId}-${o.tp.topic}-${o.tp.partition}`;
  }

  async open(): Promise<bigint> {
    await this.#retire();
    const producer = transactionalProducer(this.o.client, this.transactionalId, this.o.transactionTimeoutMs);
    this.#producer = producer;
    try {
      await fenceEarlierProducers(producer);
      // Read after the fence, the committed offset cannot move under us any more.
      return await this.o.admin.committedOffset(this.o.groupId, this.o.tp);
    } catch (err) {
      throw classifyTransactionError(err);
    }
  }

  async begin(): Promise<void> {
    try {
      this.#txn = await this.#live().transaction();
    } catch (err) {
      throw classifyTransactionError(err);
    }
  }

  async send(records: readonly OutgoingRecord[]): Promise<void> {
    try {
      await this.#open().sendBatch({ topicMessages: toTopicMessages(records), acks: -1 });
      chaosPoint('after-send');
    } catch (err) {
      throw classifyTransactionError(err);
    }
  }

  async commit(nextOffset: bigint, last: readonly OutgoingRecord[]): Promise<void> {
    const txn = this.#open();
    try {
      // Offsets first, records last, then EndTxn at once: a transaction's records hold back
      // the last stable offset of every output partition they land on (read_committed readers
      // see nothing past them) from their append to the commit marker, so that window is kept
      // to one produce and one EndTxn round trip. Sent together, AddOffsetsToTxn and
      // AddPartitionsToTxn make one of them wait out CONCURRENT_TRANSACTIONS: in sequence.
      await txn.sendOffsets({ consumerGroupId: this.o.groupId, topics: [{ topic: this.o.tp.topic, partitions: [{ partition: this.o.tp.partition, offset: nextOffset.toString() }] }] });
      chaosPoint('after-offsets');
      if (last.length) await txn.sendBatch({ topicMessages: toTopicMessages(last), acks: -1 });
      chaosPoint('after-send');
      const committing = txn.commit();
      chaosPoint('during-commit');
      await committing;
      this.#txn = undefined;
    } catch (err) {
      throw classifyTransactionError(err);
    }
  }

  async abort(): Promise<void> {
    const txn = this.#txn;
    this.#txn = undefined;
    if (txn?.isActive()) await txn.abort();
  }

  async close(): Promise<void> {
    await this.#retire();
  }

  #live(): Producer {
    if (!this.#producer) throw new Error('output not open');
    return this.#producer;
  }

  #open(): Transaction {
    if (!this.#txn) throw new Error('no open transaction');
    return this.#txn;
  }

  async #retire(): Promise<void> {
    const producer = this.#producer;
    this.#producer = undefined;
    this.#txn = undefined;
    // A producer stuck in COMMITTING / ABORTING, or fenced, may fail to say goodbye: it is dropped either way.
    await producer?.disconnect().catch(() => {});
  }
}

/**
 * At-least-once: a shared idempotent producer sends at once; the consumer group's offset
 * is committed on the same cadence, after the sends it covers are acknowledged.
 */
export class AtLeastOnceOutput implements PartitionOutput {
  readonly transactionalId = undefined;
  readonly sendsAtOnce = true;

  constructor(
    private readonly o: Omit<OutputOptions, 'client' | 'transactionTimeoutMs'> & {
      producer: RecordProducer;
      commitOffset: (tp: TopicPartition, nextOffset: bigint) => Promise<void>;
    },
  ) {}

  open(): Promise<bigint> {
    return this.o.admin.committedOffset(this.o.groupId, this.o.tp);
  }

  async begin(): Promise<void> {}

  async send(records: readonly OutgoingRecord[]): Promise<void> {
    await this.o.producer.send(records);
  }

  async commit(nextOffset: bigint, last: readonly OutgoingRecord[]): Promise<void> {
    if (last.length) await this.o.producer.send(last);
    await this.o.commitOffset(this.o.tp, nextOffset);
  }

  async abort(): Promise<void> {}

  async close(): Promise<void> {}
}
