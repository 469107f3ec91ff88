import { createRequire } from 'node:module';
import { setTimeout as delay } from 'node:timers/promises';
import type { KafkaMessage } from 'kafkajs';
import { StreamscoreError, errorMessage } from '../errors.js';
import { Backoff } from '../util/backoff.js';
import type { KafkaClient } from './client.js';
import { toConsumedRecord } from './reader.js';
import { type ConsumedRecord, type TopicPartition, partitionKey } from './records.js';
import { createKafkajsCluster } from './stable-offsets.js';

const require = createRequire(import.meta.url);
/** kafkajs's Batch: the same read_committed filtering (ours, read-committed.ts) the group consumers get. */
const Batch = require('kafkajs/src/consumer/batch.js') as new (topic: string, fetchedOffset: string, data: FetchedPartition) => {
  messages: KafkaMessage[];
  messagesWithinOffset: RawMessage[];
};
const READ_COMMITTED = 1;

interface RawMessage {
  offset: string;
  batchContext?: { firstOffset: string; lastOffsetDelta: number };
}

interface FetchedPartition {
  partition: number;
  highWatermark: string;
  abortedTransactions: { firstOffset: string; producerId: string }[];
  messages: RawMessage[];
}

interface FetchBroker {
  fetch(request: {
    isolationLevel: number; maxWaitTime: number; minBytes: number; maxBytes: number;
    topics: { topic: string; partitions: { partition: number; fetchOffset: string; maxBytes: number }[] }[];
  }): Promise<{ responses: { topicName: string; partitions: FetchedPartition[] }[] }>;
}

interface FetchCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addMultipleTargetTopics(topics: string[]): Promise<void>;
  refreshMetadata(): Promise<void>;
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(args: { nodeId: string }): Promise<FetchBroker>;
}

/** A partition and the offsets to read of it: [start, end). */
export interface PartitionRange {
  readonly tp: TopicPartition;
  readonly start: bigint;
  readonly end: bigint;
}

/** What one fetch gave of one partition. */
export interface RangeBatch {
  readonly tp: TopicPartition;
  /** Committed data records below the range's end, in offset order, copied out of the fetch. */
  readonly records: ConsumedRecord[];
  /** Where the partition's reading stands after this batch (control and aborted records included), at most its end. */
  readonly nextOffset: bigint;
}

export interface PartitionReaderOptions {
  maxWaitMs: number;
  maxBytes: number;
  maxBytesPerPartition: number;
}

/** Failed fetches in a row (each after a metadata refresh) before the reader gives up. */
const FETCH_RETRY = { initialMs: 100, maxMs: 2_000, budget: 8 };

/**
 * Reads fixed offset ranges of partitions by assignment, read_committed, with no consumer
 * group: nothing joins, so no group rebalances. Pull-based: each next() returns one fetch's
 * batches while the following fetch is already on its way, and no more than that one is
 * read ahead, so a slow caller holds at most two fetches (each capped at maxBytes) in memory.
 * Ends given at or below the partitions' last stable offset are always reached.
 */
export class PartitionRangeReader {
  readonly #cluster: FetchCluster;
  readonly #ranges = new Map<string, PartitionRange>();
  readonly #positions = new Map<string, bigint>();
  #connected: Promise<void> | undefined;
  #ahead: Promise<RangeBatch[]> | undefined;

  constructor(client: KafkaClient, ranges: readonly PartitionRange[], private readonly o: PartitionReaderOptions) {
    this.#cluster = createKafkajsCluster<FetchCluster>(client.raw, { metadataMaxAge: 300_000, allowAutoTopicCreation: false, isolationLevel: READ_COMMITTED });
    for (const r of ranges) {
      this.#ranges.set(partitionKey(r.tp), r);
      this.#positions.set(partitionKey(r.tp), r.start);
    }
  }

  /** Where the next fetch of `tp` starts. */
  position(tp: TopicPartition): bigint {
    return this.#positions.get(partitionKey(tp)) ?? -1n;
  }

  /** Every partition has been fetched to its end (what was fetched may not all have been taken by next() yet). */
  get fetchedAll(): boolean {
    return [...this.#ranges].every(([key, r]) => this.#positions.get(key)! >= r.end);
  }

  /** The next fetch's batches (only partitions it gave something of); undefined once every range is read. */
  async next(): Promise<RangeBatch[] | undefined> {
    for (;;) {
      const current = this.#ahead ?? (this.fetchedAll ? undefined : this.#fetch());
      this.#ahead = undefined;
      if (!current) return undefined;
      const batches = await current;
      if (!this.fetchedAll) {
        this.#ahead = this.#fetch();
        // Awaited by the next call; until then a failure must not count as unhandled.
        this.#ahead.catch(() => {});
      }
      if (batches.length) return batches;
    }
  }

  async close(): Promise<void> {
    await this.#ahead?.catch(() => {});
    this.#ahead = undefined;
    if (this.#connected) await this.#cluster.disconnect().catch(() => {});
    this.#connected = undefined;
  }

  async #fetch(): Promise<RangeBatch[]> {
    const backoff = new Backoff(FETCH_RETRY);
    for (;;) {
      try {
        return await this.#fetchOnce();
      } catch (err) {
        if (err instanceof StreamscoreError) throw err;
        if ((err as { type?: string }).type === 'OFFSET_OUT_OF_RANGE') {
          throw new StreamscoreError('KAFKA_OFFSET_OUT_OF_RANGE', `a fetch fell outside its partition's offsets (records deleted by retention while being read?): ${errorMessage(err)}`, { cause: err });
        }
        const wait = backoff.fail();
        if (backoff.exhausted) throw new StreamscoreError('KAFKA_REQUEST_FAILED', `fetching ${[...this.#ranges.keys()].join(', ')} failed ${backoff.failures} times: ${errorMessage(err)}`, { cause: err });
        await delay(wait);
        // A moved leader or a new topic: the next try asks with fresh metadata.
        await this.#cluster.refreshMetadata().catch(() => {});
      }
    }
  }

  async #fetchOnce(): Promise<RangeBatch[]> {
    await this.#connect();
    const open = [...this.#ranges.values()].filter((r) => this.#positions.get(partitionKey(r.tp))! < r.end);
    const byBroker = new Map<string, Map<string, number[]>>();
    for (const topic of new Set(open.map((r) => r.tp.topic))) {
      const wanted = open.filter((r) => r.tp.topic === topic).map((r) => r.tp.partition);
      const leaders = this.#cluster.findLeaderForPartitions(topic, wanted);
      if (Object.values(leaders).flat().length !== wanted.length) throw new Error(`no leader known for some partitions of ${topic}`);
      for (const [nodeId, partitions] of Object.entries(leaders)) {
        if (!byBroker.has(nodeId)) byBroker.set(nodeId, new Map());
        byBroker.get(nodeId)!.set(topic, partitions);
      }
    }
    const responses = await Promise.all([...byBroker].map(async ([nodeId, topics]) => {
      const broker = await this.#cluster.findBroker({ nodeId });
      return broker.fetch({
        isolationLevel: READ_COMMITTED, maxWaitTime: this.o.maxWaitMs, minBytes: 1, maxBytes: this.o.maxBytes,
        topics: [...topics].map(([topic, partitions]) => ({
          topic,
          partitions: partitions.map((partition) => ({ partition, fetchOffset: this.position({ topic, partition }).toString(), maxBytes: this.o.maxBytesPerPartition })),
        })),
      });
    }));
    const batches: RangeBatch[] = [];
    for (const { responses: topics } of responses) {
      for (const { topicName: topic, partitions } of topics) {
        for (const data of partitions) {
          const batch = this.#batch({ topic, partition: data.partition }, data);
          if (batch) batches.push(batch);
        }
      }
    }
    return batches;
  }

  /** One partition's part of a fetch: its committed records in range, and how far it moved the position. */
  #batch(tp: TopicPartition, data: FetchedPartition): RangeBatch | undefined {
    const key = partitionKey(tp);
    const range = this.#ranges.get(key);
    const from = this.#positions.get(key);
    if (!range || from === undefined) return undefined;
    const batch = new Batch(tp.topic, from.toString(), data);
    const raw = batch.messagesWithinOffset;
    if (!raw.length) {
      // Nothing more to read and the log ends short of the range: it was truncated (an unclean
      // leader election) or deleted since the range was fixed. Fetching again would wait forever.
      const logEnd = BigInt(data.highWatermark);
      if (logEnd >= 0n && logEnd <= from && from < range.end) {
        throw new StreamscoreError('KAFKA_OFFSET_OUT_OF_RANGE', `${key}: the log now ends at offset ${logEnd}, short of the range being read (to ${range.end}): records were truncated or deleted since the range was fixed`);
      }
      return undefined;
    }
    // The record batch's own last offset, not its last record's: compaction and control
    // batches leave offsets with no data record, and reading must move past them.
    const last = raw[raw.length - 1]!;
    const batchEnd = last.batchContext ? BigInt(last.batchContext.firstOffset) + BigInt(last.batchContext.lastOffsetDelta) + 1n : BigInt(last.offset) + 1n;
    const nextOffset = batchEnd < range.end ? batchEnd : range.end;
    this.#positions.set(key, nextOffset);
    const records = batch.messages.filter((m) => BigInt(m.offset) < range.end).map(toConsumedRecord);
    return { tp, records, nextOffset };
  }

  #connect(): Promise<void> {
    this.#connected ??= (async () => {
      await this.#cluster.connect();
      await this.#cluster.addMultipleTargetTopics([...new Set([...this.#ranges.values()].map((r) => r.tp.topic))]);
    })().catch((err: unknown) => {
      this.#connected = undefined;
      throw err;
    });
    return this.#connected;
  }
}
