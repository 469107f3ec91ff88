import os from 'node:os';
import type { Producer, Transaction } from 'kafkajs';
import type { KafkaAdmin } from './admin.js';
import { chaosPoint } from './chaos-hook.js';
import type { KafkaClient } from './client.js';
import { StreamscoreError } from '../errors.js';
import { classifyTransactionError } from './errors.js';
import { type RecordProducer, toTopicMessages } from './producer.js';
import { type GroupMetadata, setTransactionGroupMetadata } from './txn-offset-commit.js';
import type { OutgoingRecord, TopicPartition } from './records.js';
import { keyHashPartitioner } from './partitioner.js';
import { waitingOutConcurrentTransactions } from './concurrent-transactions.js';

/** A partition's offset to store with a commit: where its next owner starts reading. */
export interface OffsetToCommit {
  tp: TopicPartition;
  nextOffset: bigint;
}

/**
 * The output side of one pipeline instance, as the commit cadence in src/sink/ sees it: open
 * (fence earlier producers with our id), read a partition's committed offset, begin, send,
 * commit (records and every partition's offset together), abort. Every failure is thrown as a
 * coded StreamscoreError. After any failure the output is opened again before it is used:
 * kafkajs leaves a transactional producer whose EndTxn or abort failed in COMMITTING /
 * ABORTING, where every later transaction throws (kafkajs #1275), so the only sound recovery
 * is a new producer with the same transactional id.
 */
export interface PipelineOutput {
  readonly transactionalId: string | undefined;
  /** Send each chunk as it comes (its output is readable on ack), rather than all at commit time. */
  readonly sendsAtOnce: boolean;
  /** (Re)creates the producer, fencing every earlier one with the same transactional id. */
  open(): Promise<void>;
  /** The broker's committed offset of a partition (-1n: none), once no transaction holds it open. */
  committedOffset(tp: TopicPartition): Promise<bigint>;
  begin(): Promise<void>;
  send(records: readonly OutgoingRecord[]): Promise<void>;
  /** Sends `last` (may be empty) and stores the offsets, atomically with everything sent (exactly-once). */
  commit(offsets: readonly OffsetToCommit[], last: readonly OutgoingRecord[]): Promise<void>;
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
  return client.raw.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1, transactionTimeout: transactionTimeoutMs, retry: PRODUCER_RETRY, createPartitioner: keyHashPartitioner });
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
  /** How long a takeover waits for the previous owner's open transaction to end. */
  transactionTimeoutMs: number;
}

/** How long past the transaction timeout a takeover waits for the coordinator to abort a dead owner's transaction. */
const ABORT_SLACK_MS = 5_000;

let instances = 0;

/**
 * A transactional id no other live process has (host, pid) and a restarted process does not
 * reuse unless it has the same pid (a container's pid 1 does: its restart fences its own
 * earlier transaction at once; otherwise the coordinator aborts it after the transaction timeout).
 */
export function instanceTransactionalId(groupId: string): string {
  return `streamscore-${groupId}-${os.hostname()}-${process.pid}-${instances++}`;
}

/**
 * Exactly-once, KIP-447: one transactional producer for all of the instance's partitions.
 * Zombies are fenced by the consumer group's generation, which every offset commit carries
 * (`groupMetadata`, read when the offsets are sent): a member that lost its partitions in a
 * rebalance has its commit refused and its transaction aborted. A new owner reads a
 * partition's offset with require_stable, so it waits for the previous owner's transaction.
 */
export class TransactionalOutput implements PipelineOutput {
  readonly sendsAtOnce = false;
  #producer: Producer | undefined;
  #txn: Transaction | undefined;

  constructor(
    private readonly o: OutputOptions & { transactionalId: string; groupMetadata: () => GroupMetadata | undefined },
  ) {}

  get transactionalId(): string {
    return this.o.transactionalId;
  }

  async open(): Promise<void> {
    await this.#retire();
    const producer = transactionalProducer(this.o.client, this.transactionalId, this.o.transactionTimeoutMs);
    this.#producer = producer;
    try {
      await fenceEarlierProducers(producer);
    } catch (err) {
      throw classifyTransactionError(err);
    }
  }

  committedOffset(tp: TopicPartition): Promise<bigint> {
    return this.o.admin.committedOffset(this.o.groupId, tp, this.o.transactionTimeoutMs + ABORT_SLACK_MS);
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

  async commit(offsets: readonly OffsetToCommit[], last: readonly OutgoingRecord[]): Promise<void> {
    const txn = this.#open();
    try {
      // Offsets first, records last, then EndTxn at once: a transaction's records hold back
      // the last stable offset of every output partition they land on (read_committed readers
      // see nothing past them) from their append to the commit marker, so that window is kept
      // to one produce and one EndTxn round trip. Sent together, AddOffsetsToTxn and
      // AddPartitionsToTxn make one of them wait out CONCURRENT_TRANSACTIONS: in sequence.
      // The generation is read here, with no await since the caller checked the partitions
      // are still ours: the coordinator refuses it once a rebalance has moved on.
      const group = this.o.groupMetadata();
      if (!group) throw new StreamscoreError('KAFKA_GENERATION_STALE', 'not a member of the consumer group now: offsets cannot be committed');
      setTransactionGroupMetadata(this.transactionalId, group);
      await waitingOutConcurrentTransactions(() => txn.sendOffsets({ consumerGroupId: this.o.groupId, topics: offsetTopics(offsets) }));
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
    setTransactionGroupMetadata(this.transactionalId, undefined);
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

function offsetTopics(offsets: readonly OffsetToCommit[]): { topic: string; partitions: { partition: number; offset: string }[] }[] {
  const byTopic = new Map<string, { partition: number; offset: string }[]>();
  for (const { tp, nextOffset } of offsets) {
    let partitions = byTopic.get(tp.topic);
    if (!partitions) byTopic.set(tp.topic, (partitions = []));
    partitions.push({ partition: tp.partition, offset: nextOffset.toString() });
  }
  return [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
}

/**
 * At-least-once: a shared idempotent producer sends at once; the consumer group's offsets
 * are committed on the same cadence, after the sends they cover are acknowledged.
 */
export class AtLeastOnceOutput implements PipelineOutput {
  readonly transactionalId = undefined;
  readonly sendsAtOnce = true;

  constructor(
    private readonly o: Pick<OutputOptions, 'admin' | 'groupId'> & {
      producer: RecordProducer;
      commitOffsets: (offsets: readonly OffsetToCommit[]) => Promise<void>;
    },
  ) {}

  async open(): Promise<void> {}

  committedOffset(tp: TopicPartition): Promise<bigint> {
    return this.o.admin.committedOffset(this.o.groupId, tp);
  }

  async begin(): Promise<void> {}

  async send(records: readonly OutgoingRecord[]): Promise<void> {
    await this.o.producer.send(records);
  }

  async commit(offsets: readonly OffsetToCommit[], last: readonly OutgoingRecord[]): Promise<void> {
    if (last.length) await this.o.producer.send(last);
    await this.o.commitOffsets(offsets);
  }

  async abort(): Promise<void> {}

  async close(): Promise<void> {}
}
