import crypto from 'node:crypto';
import type { EachMessagePayload, Kafka } from 'kafkajs';
import { waitFor } from '../../src/util/wait.js';
import { highWatermarks as listHighWatermarks } from '../../src/kafka/admin.js';

/** Topic names are unique per test so tests never see each other's records. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${crypto.randomBytes(3).toString('hex')}`;
}

export interface ReadOptions {
  readUncommitted?: boolean;
  /** Stop once this predicate holds for the records read so far. */
  until: (records: EachMessagePayload['message'][]) => boolean;
  timeoutMs?: number;
}

/** Reads a topic from the beginning with a fresh group until `until` holds. */
export async function readTopic(kafka: Kafka, topic: string, opts: ReadOptions): Promise<EachMessagePayload['message'][]> {
  // A short fetch wait: the default 5 s would make each read of a quiet topic wait that long.
  const consumer = kafka.consumer({ groupId: uniqueName('reader'), readUncommitted: opts.readUncommitted ?? false, maxWaitTimeInMs: 250 });
  const records: EachMessagePayload['message'][] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => { records.push(message); } });
    await waitFor(() => opts.until(records), { timeoutMs: opts.timeoutMs ?? 30_000, what: () => `records on ${topic} (have ${records.length})` });
  } finally {
    await consumer.disconnect();
  }
  return records;
}

export type ReadRecord = EachMessagePayload['message'] & { partition: number };

/**
 * The high watermark of each partition. kafkajs's admin lists offsets read_committed, which
 * answers the last stable offset: just after a transaction commits, and before the
 * coordinator has written its markers, that is still the offset before the transaction.
 */
export function highWatermarks(kafka: Kafka, topic: string): Promise<Map<number, bigint>> {
  return listHighWatermarks(kafka, topic);
}

/**
 * Reads a topic from the beginning to its high watermarks when called, under read_committed:
 * call it once the writers are done, to see everything, duplicates included. A transaction
 * committed but not yet marked is waited for, not missed. Batches of only control records
 * count as progress too.
 */
export async function readAll(kafka: Kafka, topic: string, timeoutMs = 60_000): Promise<ReadRecord[]> {
  const ends = await highWatermarks(kafka, topic);
  const positions = new Map<number, bigint>([...ends.keys()].map((p) => [p, 0n]));
  const consumer = kafka.consumer({ groupId: uniqueName('read-all'), maxWaitTimeInMs: 250 });
  const records: ReadRecord[] = [];
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    positions.set(payload.partition, BigInt(payload.lastOffset) + 1n);
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message, partition }) => { records.push({ ...message, partition }); } });
    await waitFor(() => [...ends].every(([p, end]) => (positions.get(p) ?? 0n) >= end), {
      timeoutMs, what: () => `${topic} read to its end (${records.length} records so far)`,
    });
  } finally {
    await consumer.disconnect();
  }
  return records;
}
