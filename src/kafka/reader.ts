import type { Consumer, IHeaders, KafkaMessage } from 'kafkajs';
import { waitFor } from '../util/wait.js';
import { KafkaAdmin } from './admin.js';
import type { KafkaClient } from './client.js';
import type { ConsumedRecord, RecordHeaders, TopicPartition } from './records.js';

export interface RecordReaderOptions {
  topics: readonly string[];
  /** 'end': only records written after start() began. */
  from: 'beginning' | 'end';
  /** Names the throwaway group (`<prefix>-<pid>-<time>`), so it can be told apart in the broker. */
  groupPrefix: string;
  /** One partition's newly read records, in offset order; the next batch waits for it. */
  onRecords(tp: TopicPartition, records: readonly ConsumedRecord[]): void | Promise<void>;
  /** The consumer stopped for good (kafkajs gave up restarting it). Without this, the reader just goes quiet. */
  onCrash?(err: Error): void;
  /** Longest a fetch waits for data; small keeps tools responsive. */
  maxWaitMs?: number;
}

function copyHeaders(headers: IHeaders | undefined): RecordHeaders {
  const out: RecordHeaders = {};
  // for-in, not Object.entries: an array per record per header was a twentieth of a full-speed drain's allocation.
  for (const name in headers) {
    const v = headers[name];
    const first = Array.isArray(v) ? v[0] : v;
    out[name] = Buffer.isBuffer(first) ? Buffer.from(first) : first;
  }
  return out;
}

/** Copies out of the fetch buffer, as ConsumedRecord promises, so a callback may keep what it is given. */
export function toConsumedRecord(m: KafkaMessage): ConsumedRecord {
  return {
    offset: BigInt(m.offset),
    key: m.key ? Buffer.from(m.key) : null,
    value: m.value ? Buffer.from(m.value) : null,
    headers: copyHeaders(m.headers),
    timestampMs: Number(m.timestamp),
  };
}

/**
 * A read_committed reader for the tools (tail, the demo's observer): a throwaway consumer
 * group of one that never commits, so reading moves nobody's offsets.
 */
export class RecordReader {
  #consumer: Consumer | undefined;

  constructor(private readonly client: KafkaClient, private readonly opts: RecordReaderOptions) {}

  /** Resolves once the group is joined: with from 'end', every record written after that is delivered. */
  async start(): Promise<void> {
    // 'end' is taken as offsets before joining, not as kafkajs's 'latest' reset: that reset
    // happens at each partition's first fetch, after join, and records written in between
    // (the demo produces as soon as start() returns) would be skipped.
    const startAt = this.opts.from === 'end' ? await this.endOffsets() : undefined;
    const consumer = this.client.raw.consumer({
      groupId: `${this.opts.groupPrefix}-${process.pid}-${Date.now()}`,
      readUncommitted: false,
      maxWaitTimeInMs: this.opts.maxWaitMs ?? 100,
    });
    this.#consumer = consumer;
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart) this.opts.onCrash?.(payload.error);
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [...this.opts.topics], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const tp = { topic: batch.topic, partition: batch.partition };
        const first = startAt?.get(tp.topic)?.get(tp.partition) ?? 0n;
        const records: ConsumedRecord[] = [];
        for (const m of batch.messages) if (BigInt(m.offset) >= first) records.push(toConsumedRecord(m));
        if (records.length) await this.opts.onRecords(tp, records);
      },
    });
    // run() resolves after the join and before the first fetch, so these seeks skip the
    // backlog; the offset filter above keeps 'end' exact even if a fetch got there first.
    for (const [topic, partitions] of startAt ?? []) {
      for (const [partition, offset] of partitions) consumer.seek({ topic, partition, offset: offset.toString() });
    }
  }

  private async endOffsets(): Promise<Map<string, Map<number, bigint>>> {
    const admin = new KafkaAdmin(this.client);
    await admin.connect();
    try {
      const ends = new Map<string, Map<number, bigint>>();
      // Retried: a topic created a moment ago can answer NOT_LEADER_FOR_PARTITION for a while.
      for (const topic of this.opts.topics) ends.set(topic, await waitFor(() => admin.endOffsets(topic), { timeoutMs: 30_000, intervalMs: 200, what: `end offsets of ${topic}` }));
      return ends;
    } finally {
      await admin.disconnect();
    }
  }

  async stop(): Promise<void> {
    await this.#consumer?.disconnect();
    this.#consumer = undefined;
  }
}
