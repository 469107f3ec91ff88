import type { Admin } from 'kafkajs';
import { setTimeout as delay } from 'node:timers/promises';
import { waitFor } from '../util/wait.js';
import type { KafkaClient } from './client.js';
import { tlsFailure } from './errors.js';
import { type CommittedEntry, PartitionOffsetReader, createKafkajsCluster } from './stable-offsets.js';
import type { TopicPartition } from './records.js';

/** A transaction's offsets settle within milliseconds of its end. */
const UNSTABLE_RETRY_MS = 10;

export interface TopicSpec {
  topic: string;
  numPartitions: number;
  configEntries?: { name: string; value: string }[];
}

/**
 * Creates topics (replication: the broker's default) and waits until every partition has a leader. kafkajs's own wait
 * (waitForLeaders) gives up on UNKNOWN_TOPIC_OR_PARTITION, which a broker that has just
 * started answers for a new topic for a moment; this wait retries through it. Exported for
 * the bench and tests, which keep their own kafkajs admin as an independent observer.
 */
export async function createTopicsAndWait(admin: Admin, topics: TopicSpec[], timeoutMs = 30_000): Promise<void> {
  await admin.createTopics({ waitForLeaders: false, topics: topics.map((t) => ({ ...t, replicationFactor: -1 })) });
  await waitFor(async () => {
    const { topics: meta } = await admin.fetchTopicMetadata({ topics: topics.map((t) => t.topic) });
    return meta.every((m) => m.partitions.length === topics.find((t) => t.topic === m.name)!.numPartitions && m.partitions.every((p) => p.leader >= 0));
  }, { timeoutMs, intervalMs: 100, what: `leaders for ${topics.map((t) => t.topic).join(', ')}` });
}

/** Topics and offsets: what the service, the tools and the tests ask the cluster. */
export class KafkaAdmin {
  readonly #admin: Admin;
  readonly #offsets: PartitionOffsetReader;
  #connected: Promise<void> | undefined;

  constructor(private readonly client: KafkaClient) {
    this.#admin = client.raw.admin();
    this.#offsets = new PartitionOffsetReader(client.raw);
  }

  connect(): Promise<void> {
    this.#connected ??= this.#connect();
    return this.#connected;
  }

  async #connect(): Promise<void> {
    if (this.client.config.ssl) await this.#tlsFirst();
    await this.#admin.connect();
  }

  /**
   * kafkajs retries a failed connection five times over about ten seconds, a certificate it
   * cannot verify included, which no retry fixes. So with TLS one try comes first, without
   * retries: a certificate or alert failure is thrown at once; anything else goes on to the
   * retrying connect.
   */
  async #tlsFirst(): Promise<void> {
    const probe = this.client.withoutConnectionRetries().admin();
    try {
      await probe.connect();
    } catch (err) {
      // A certificate or an alert is final; a hang-up mid-handshake may be a broker going away
      // just then, which the retrying connect (and other brokers) can ride out.
      const tls = tlsFailure(err);
      if (tls && !tls.hungUp) throw err;
    } finally {
      await probe.disconnect().catch(() => {});
    }
  }

  async listTopics(): Promise<string[]> {
    return this.#admin.listTopics();
  }

  async partitions(topic: string): Promise<number[]> {
    const { topics } = await this.#admin.fetchTopicMetadata({ topics: [topic] });
    return topics[0]!.partitions.map((p) => p.partitionId).sort((a, b) => a - b);
  }

  async createTopics(topics: TopicSpec[], timeoutMs = 30_000): Promise<void> {
    await createTopicsAndWait(this.#admin, topics, timeoutMs);
  }

  async deleteTopics(topics: string[]): Promise<void> {
    await this.#admin.deleteTopics({ topics });
  }

  /**
   * The group's committed offset of one partition; -1n when it has none. A stable read
   * (stable-offsets.ts): while a transaction's offsets for the partition are pending the
   * broker says UNSTABLE_OFFSET_COMMIT, and this asks again until they are settled or
   * `timeoutMs` passes.
   */
  async committedOffset(groupId: string, tp: TopicPartition, timeoutMs = 10_000): Promise<bigint> {
    return (await this.committedEntry(groupId, tp, timeoutMs)).offset;
  }

  /** As committedOffset (a stable read), with the metadata string committed alongside the offset. */
  async committedEntry(groupId: string, tp: TopicPartition, timeoutMs = 10_000): Promise<CommittedEntry> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await this.#offsets.readEntry(groupId, tp);
      } catch (err) {
        if ((err as { type?: string }).type !== 'UNSTABLE_OFFSET_COMMIT' || Date.now() >= deadline) throw err;
        await delay(UNSTABLE_RETRY_MS);
      }
    }
  }

  /** Each partition's first offset and end offset, in one request. */
  async offsetRanges(topic: string): Promise<Map<number, { start: bigint; end: bigint }>> {
    const offsets = await this.#admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, { start: BigInt(o.low), end: BigInt(o.high) }]));
  }

  /**
   * Each partition's first offset and high watermark, transactions still being marked included.
   * offsetRanges answers the last stable offset instead: just after a transaction commits, and
   * before the coordinator has written its markers, that stops short of the transaction, so a
   * reader that must see everything written so far (a replay's own output) reads to this.
   */
  async highWatermarkRanges(topic: string): Promise<Map<number, { start: bigint; end: bigint }>> {
    const [stable, ends] = await Promise.all([this.offsetRanges(topic), highWatermarks(this.client.raw, topic)]);
    return new Map([...stable].map(([partition, { start }]) => [partition, { start, end: ends.get(partition) ?? start }]));
  }

  /** Each partition's end offset (the offset the next record will get). */
  async endOffsets(topic: string): Promise<Map<number, bigint>> {
    const offsets = await this.#admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  }

  /**
   * ListOffsets by timestamp, read_committed: per partition, the first offset whose record
   * timestamp is ≥ `timestampMs`; a partition with no such record answers its end offset.
   */
  async offsetsForTimestamp(topic: string, timestampMs: number): Promise<Map<number, bigint>> {
    const offsets = await this.#admin.fetchTopicOffsetsByTimestamp(topic, timestampMs);
    return new Map(offsets.map((o) => [o.partition, BigInt(o.offset)]));
  }

  async disconnect(): Promise<void> {
    this.#connected = undefined;
    await Promise.all([this.#admin.disconnect(), this.#offsets.close()]);
  }
}

/** kafkajs's isolation level that lists offsets to the log's end, open transactions included. */
const READ_UNCOMMITTED = 0;

interface OffsetsCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  findTopicPartitionMetadata(topic: string): { partitionId: number }[];
  fetchTopicsOffset(topics: { topic: string; fromBeginning: boolean; partitions: { partition: number }[] }[]):
    Promise<{ partitions: { partition: number; offset: string }[] }[]>;
}

/** Each partition's high watermark (the log's end, a transaction still being marked included), of a raw kafkajs client. */
export async function highWatermarks(kafka: object, topic: string): Promise<Map<number, bigint>> {
  const cluster = createKafkajsCluster<OffsetsCluster>(kafka, { isolationLevel: READ_UNCOMMITTED, allowAutoTopicCreation: false });
  await cluster.connect();
  try {
    await cluster.addTargetTopic(topic);
    const partitions = cluster.findTopicPartitionMetadata(topic).map((p) => ({ partition: p.partitionId }));
    const [answer] = await cluster.fetchTopicsOffset([{ topic, fromBeginning: false, partitions }]);
    return new Map(answer!.partitions.map((p) => [p.partition, BigInt(p.offset)]));
  } finally {
    await cluster.disconnect();
  }
}
