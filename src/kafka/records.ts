/**
 * Client-neutral Kafka types: the only shapes of Kafka data that code outside src/kafka/ sees.
 * Offsets are bigint (Kafka's are 64-bit); keys and values are our own copies, never slices
 * of a fetch buffer, so a queued record does not keep a whole fetch response alive.
 */
/** A header's value; Kafka allows a null one (kafkajs decodes it as null). */
export type HeaderValue = Buffer | string | null;
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
  return v == null ? undefined : v.toString();
}

/**
 * Payload per send: kafkajs sends each partition's messages as one record batch, and the
 * broker refuses a batch over message.max.bytes (1 MiB by default): sends stay under half of it.
 */
export const MAX_SEND_BYTES = 512 * 1024;
/** Payload per transaction: past this a transaction commits before its interval is up. */
export const MAX_TRANSACTION_BYTES = 4 * 1024 * 1024;

/** A record's size for send and transaction caps and queue accounting: payload plus a fixed allowance. */
export function recordBytes(r: OutgoingRecord): number {
  let n = 64 + (r.value?.length ?? 0) + (r.key?.length ?? 0);
  const headers = r.headers;
  // for-in: Object.entries made an array per record per header (a sixteenth of a full-speed drain's allocation).
  for (const k in headers) n += k.length + (headers[k]?.length ?? 0);
  return n;
}
