import type { Message, Producer, TopicMessages } from 'kafkajs';
import type { KafkaClient } from './client.js';
import { classifyTransactionError } from './errors.js';
import { type OutgoingRecord, type TopicPartition, partitionKey } from './records.js';
import { keyHashPartitioner } from './partitioner.js';

/** Where a record was written. */
export interface RecordPosition extends TopicPartition {
  readonly offset: bigint;
}

/** Records grouped by topic, in their given order, for one sendBatch; keys, values and headers go through as given. */
export function toTopicMessages(records: readonly OutgoingRecord[]): TopicMessages[] {
  const byTopic = new Map<string, Message[]>();
  for (const r of records) {
    let list = byTopic.get(r.topic);
    if (!list) byTopic.set(r.topic, (list = []));
    // The record itself (kafkajs reads key, value, headers, partition and ignores topic): a copy
    // per record was garbage. kafkajs's types leave out the null header value Kafka allows; our
    // produce encoder writes it (produce-request.ts).
    list.push(r as Message);
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

/**
 * A plain producer for the tools (produce, demo, load generation): idempotent, acks=all,
 * no transactions. The service's outputs go through src/kafka/sink.ts instead.
 */
export class RecordProducer {
  readonly #producer: Producer;

  constructor(client: KafkaClient) {
    // One request in flight keeps each partition's records in the order given, which is what
    // lets send() report every record's offset from its partition's base offset.
    this.#producer = client.raw.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: keyHashPartitioner });
  }

  connect(): Promise<void> {
    return this.#producer.connect();
  }

  /**
   * Sends every record in one request per broker and resolves once all are acknowledged.
   * Resolves with each record's position, in the order given, for records sent to an
   * explicit partition; undefined for those the partitioner placed (which partition it
   * chose is not reported per record).
   */
  async send(records: readonly OutgoingRecord[]): Promise<(RecordPosition | undefined)[]> {
    if (!records.length) return [];
    const results = await this.#producer.sendBatch({ topicMessages: toTopicMessages(records), acks: -1 }).catch((err: unknown) => {
      throw classifyTransactionError(err, 'KAFKA_PRODUCE_FAILED');
    });
    const next = new Map<string, bigint>();
    for (const r of results) next.set(partitionKey({ topic: r.topicName, partition: r.partition }), BigInt(r.baseOffset ?? '-1'));
    return records.map((r) => {
      if (r.partition === undefined) return undefined;
      const tp = { topic: r.topic, partition: r.partition };
      const offset = next.get(partitionKey(tp));
      if (offset === undefined || offset < 0n) return undefined;
      next.set(partitionKey(tp), offset + 1n);
      return { ...tp, offset };
    });
  }

  disconnect(): Promise<void> {
    return this.#producer.disconnect();
  }
}
