import type { Producer, Transaction } from 'kafkajs';
import type { KafkaClient } from './client.js';
import { classifyTransactionError } from './errors.js';
import { toTopicMessages } from './producer.js';
import { waitingOutConcurrentTransactions } from './concurrent-transactions.js';
import { MAX_SEND_BYTES, type OutgoingRecord, type TopicPartition, recordBytes } from './records.js';
import { fenceEarlierProducers, transactionalProducer } from './sink.js';

/** A consumer offset to store inside a transaction, with the metadata string Kafka keeps beside it. */
export interface OffsetToCommit {
  readonly tp: TopicPartition;
  readonly offset: bigint;
  readonly metadata?: string;
}

/**
 * One transactional producer that writes records and stores consumer offsets of any number
 * of partitions (with metadata) in one transaction: for a job that owns its input by
 * assignment (a replay), where the live pipeline's one-producer-per-partition scheme
 * (sink.ts) is not needed. open() fences every earlier producer with the same id; after any
 * failure the writer must be opened again (kafkajs #1275, see sink.ts).
 */
export class TransactionalWriter {
  #producer: Producer | undefined;
  #txn: Transaction | undefined;
  #bytes = 0;

  constructor(private readonly client: KafkaClient, private readonly o: { transactionalId: string; transactionTimeoutMs: number }) {}

  get transactionalId(): string {
    return this.o.transactionalId;
  }

  /** True while a transaction is open. */
  get inTransaction(): boolean {
    return this.#txn !== undefined;
  }

  /** Payload sent in the open transaction so far, roughly. */
  get transactionBytes(): number {
    return this.#bytes;
  }

  /** (Re)creates the producer: InitProducerId completes or aborts whatever an earlier one with this id left open. */
  async open(): Promise<void> {
    await this.#retire();
    const producer = transactionalProducer(this.client, this.o.transactionalId, this.o.transactionTimeoutMs);
    this.#producer = producer;
    try {
      await fenceEarlierProducers(producer);
    } catch (err) {
      throw classifyTransactionError(err);
    }
  }

  /** Sends into the open transaction (opening one if none is), in sends the broker accepts. */
  async send(records: readonly OutgoingRecord[]): Promise<void> {
    if (!records.length) return;
    try {
      const txn = await this.#begin();
      let from = 0;
      while (from < records.length) {
        let to = from;
        let bytes = 0;
        while (to < records.length && (to === from || bytes + recordBytes(records[to]!) <= MAX_SEND_BYTES)) bytes += recordBytes(records[to++]!);
        await txn.sendBatch({ topicMessages: toTopicMessages(records.slice(from, to)), acks: -1 });
        this.#bytes += bytes;
        from = to;
      }
    } catch (err) {
      throw classifyTransactionError(err);
    }
  }

  /** Stores `offsets` for `groupId` and commits, atomically with everything sent since the transaction began. */
  async commit(groupId: string, offsets: readonly OffsetToCommit[]): Promise<void> {
    try {
      const txn = await this.#begin();
      const byTopic = new Map<string, { partition: number; offset: string; metadata?: string }[]>();
      for (const { tp, offset, metadata } of offsets) {
        if (!byTopic.has(tp.topic)) byTopic.set(tp.topic, []);
        byTopic.get(tp.topic)!.push({ partition: tp.partition, offset: offset.toString(), metadata });
      }
      if (byTopic.size) await waitingOutConcurrentTransactions(() => txn.sendOffsets({ consumerGroupId: groupId, topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })) }));
      await txn.commit();
      this.#txn = undefined;
      this.#bytes = 0;
    } catch (err) {
      throw classifyTransactionError(err);
    }
  }

  /** Best effort: a failure only means the producer must be replaced, which open() does. */
  async abort(): Promise<void> {
    const txn = this.#txn;
    this.#txn = undefined;
    this.#bytes = 0;
    if (txn?.isActive()) await txn.abort();
  }

  async close(): Promise<void> {
    await this.#retire();
  }

  async #begin(): Promise<Transaction> {
    if (!this.#producer) throw new Error('writer not open');
    this.#txn ??= await this.#producer.transaction();
    return this.#txn;
  }

  async #retire(): Promise<void> {
    const producer = this.#producer;
    this.#producer = undefined;
    this.#txn = undefined;
    this.#bytes = 0;
    await producer?.disconnect().catch(() => {});
  }
}
