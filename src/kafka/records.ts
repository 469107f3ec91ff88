/**
 * Client-neutral Kafka types: the only shapes of Kafka data that code outside src/kafka/ sees.
 * Offsets are bigint (Kafka's are 64-bit); keys and values are our own copies, never slices
 * of a fetch buffer, so a queued record does not keep a whole fetch response alive.
 */
export type HeaderValue = Buffer | string;
export type RecordHeaders = Record<string, HeaderValue | undefined>;

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

/** A record read from an input partition. */
export interface ConsumedRecord {
  readonly offset: bigint;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: RecordHeaders;
  readonly timestampMs: number;
}

/** A record to write; with no partition, the client's default partitioner picks one by key. */
export interface OutgoingRecord {
  readonly topic: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: Record<string, HeaderValue>;
  readonly partition?: number;
}

export function partitionKey(tp: TopicPartition): string {
  return `${tp.topic}:${tp.partition}`;
}

/** A header as text, whatever form the client gave it. */
export function headerText(headers: RecordHeaders | undefined, name: string): string | undefined {
  const v = headers?.[name];
  return v === undefined ? undefined : v.toString();
}
