import type { Admin, Kafka, Message, Producer } from 'kafkajs';
import type { DeliveryMode } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { chaosPoint } from '../kafka/chaos-hook.js';
import { classifyTransactionError } from '../kafka/errors.js';

/** What one input record became: messages per output topic, in input order. */
export interface ScoredChunk {
  generation: number;
  /** Offset of the last input record covered; the commit stores lastOffset + 1. */
  lastOffset: bigint;
  messages: { topic: string; message: Message }[];
  /** How many input records the chunk covers. */
  records: number;
  /** Called after the commit with the commit's time, for metrics. */
  onCommitted?: (committedAtMs: number) => void;
}

export interface PartitionSinkOptions {
  kafka: Kafka;
  admin: Admin;
  groupId: string;
  topic: string;
  partition: number;
  delivery: DeliveryMode;
  transactionTimeoutMs: number;
  /** The shared producer for at-least-once delivery. */
  sharedProducer?: Producer;
  /** Commits the consumer offset (at-least-once). */
  commitOffset: (offset: string) => Promise<void>;
  /** Asks the source to read the partition again from `offset`. */
  rewind: (offset: bigint) => void;
  logger: Logger;
  onTransaction: (result: 'committed' | 'aborted' | 'fenced', ms: number) => void;
}

export type SinkState = 'new' | 'ready' | 'fenced' | 'closed';

// Measured on the local broker (12 messages + offsets per transaction): first retry at 300 ms
// (kafkajs default) 216 ms per send, at 10 ms 16 ms, at 1 ms 5 ms. 25 doublings capped at 2 s
// still ride out about 30 s of broker trouble.
const PRODUCER_RETRY = { initialRetryTime: 2, maxRetryTime: 2_000, retries: 25 };

/**
 * Payload per transaction. kafkajs sends each partition's messages as one record batch, and
 * the broker refuses a batch over message.max.bytes (1 MiB by default); a transaction that
 * gathered a long backlog would be refused, aborted and retried forever.
 */
const MAX_TRANSACTION_BYTES = 512 * 1024;

function chunkBytes(chunk: ScoredChunk): number {
  let n = 0;
  for (const { message } of chunk.messages) {
    n += 64 + (message.value?.length ?? 0) + (message.key?.length ?? 0);
    for (const [k, v] of Object.entries(message.headers ?? {})) n += k.length + String(v).length;
  }
  return n;
}

/**
 * The output side of one input partition. Exactly-once: a transactional producer whose id
 * is derived from group + topic + partition, so a newer owner of the partition fences any
 * older one (kafkajs sends offsets without KIP-447 member fencing, so the transactional id
 * is the only fence). Each transaction carries the scored events, alerts, dead letters and
 * the partition's next offset, committed or aborted as one unit. One transaction at a time.
 */
export class PartitionSink {
  state: SinkState = 'new';
  /** Bumped on every rewind: chunks built before it are stale and dropped. */
  generation = 0;
  /** Next input offset to accept from the source (what is queued is before it). */
  nextOffset = -1n;
  /** The partition's committed offset as this sink last knew it. */
  committedOffset = -1n;
  /** The first offset this sink accepted: where a rewind goes when nothing is committed yet. */
  baseOffset = -1n;
  private producer: Producer | undefined;
  private pending: ScoredChunk[] = [];
  private committing = 0;
  private loop: Promise<void> | undefined;
  private failures = 0;
  readonly transactionalId: string;

  constructor(private readonly opts: PartitionSinkOptions) {
    this.transactionalId = `streamscore-${opts.groupId}-${opts.topic}-${opts.partition}`;
  }

  private get log(): Logger {
    return this.opts.logger;
  }

  /**
   * Fences any earlier owner (its open transaction is completed or aborted by the broker),
   * then reads the committed offset: read after the fence, it cannot go stale.
   */
  async start(): Promise<bigint> {
    if (this.opts.delivery === 'exactly-once') {
      this.producer = this.opts.kafka.producer({
        transactionalId: this.transactionalId,
        idempotent: true,
        maxInFlightRequests: 1,
        transactionTimeout: this.opts.transactionTimeoutMs,
        // Right after a commit the coordinator is still writing markers and answers the next
        // transaction with CONCURRENT_TRANSACTIONS for a few ms; kafkajs's default first retry
        // (300 ms) would add that to every transaction, so retry fast and back off from there.
        retry: PRODUCER_RETRY,
      });
      await this.producer.connect();
      const fence = await this.producer.transaction();
      await fence.abort();
    } else {
      this.producer = this.opts.sharedProducer;
    }
    const [topicOffsets] = await this.opts.admin.fetchOffsets({ groupId: this.opts.groupId, topics: [this.opts.topic] });
    const entry = topicOffsets?.partitions.find((p) => p.partition === this.opts.partition);
    this.committedOffset = BigInt(entry?.offset ?? '-1');
    // Revoked while starting: close() has run, so the producer made here is released here.
    if (this.state === 'closed') {
      if (this.opts.delivery === 'exactly-once') await this.producer?.disconnect().catch(() => {});
      return this.committedOffset;
    }
    this.state = 'ready';
    return this.committedOffset;
  }

  get topic(): string {
    return this.opts.topic;
  }

  get partition(): number {
    return this.opts.partition;
  }

  /** Input records waiting for, or inside, a transaction (for backpressure). */
  get pendingRecords(): number {
    let n = this.committing;
    for (const c of this.pending) n += c.records;
    return n;
  }

  /** Queues a chunk for commit; a chunk from before the last rewind is dropped. */
  submit(chunk: ScoredChunk): void {
    if (this.state !== 'ready' || chunk.generation !== this.generation) return;
    this.pending.push(chunk);
    this.loop ??= this.drain().finally(() => { this.loop = undefined; });
  }

  /** Resolves when everything submitted so far is committed (or dropped). */
  async drained(): Promise<void> {
    while (this.loop) await this.loop;
  }

  private async drain(): Promise<void> {
    while (this.pending.length && this.state === 'ready') {
      // What is waiting goes into one transaction (commits cost per transaction, not per
      // message), up to a size the broker accepts as one record batch per partition.
      const chunks = this.takeChunks();
      if (!chunks.length) continue;
      this.committing = chunks.reduce((n, c) => n + c.records, 0);
      try {
        await this.commit(chunks);
      } finally {
        this.committing = 0;
      }
    }
  }

  private takeChunks(): ScoredChunk[] {
    const taken: ScoredChunk[] = [];
    let bytes = 0;
    while (this.pending.length) {
      const chunk = this.pending[0]!;
      if (chunk.generation !== this.generation) {
        this.pending.shift();
        continue;
      }
      const size = chunkBytes(chunk);
      if (taken.length && bytes + size > MAX_TRANSACTION_BYTES) break;
      taken.push(this.pending.shift()!);
      bytes += size;
    }
    return taken;
  }

  private async commit(chunks: ScoredChunk[]): Promise<void> {
    const started = Date.now();
    const lastOffset = chunks[chunks.length - 1]!.lastOffset;
    const nextOffset = (lastOffset + 1n).toString();
    const byTopic = new Map<string, Message[]>();
    for (const chunk of chunks) {
      for (const { topic, message } of chunk.messages) {
        let list = byTopic.get(topic);
        if (!list) byTopic.set(topic, (list = []));
        list.push(message);
      }
    }
    const topicMessages = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
    const producer = this.producer!;
    try {
      if (this.opts.delivery === 'exactly-once') {
        const txn = await producer.transaction();
        try {
          await txn.sendBatch({ topicMessages, acks: -1 });
          chaosPoint('after-send');
          await txn.sendOffsets({ consumerGroupId: this.opts.groupId, topics: [{ topic: this.opts.topic, partitions: [{ partition: this.opts.partition, offset: nextOffset }] }] });
          chaosPoint('after-offsets');
          const committing = txn.commit();
          chaosPoint('during-commit');
          await committing;
        } catch (err) {
          const coded = classifyTransactionError(err);
          if (!coded.producerFenced && txn.isActive()) await txn.abort().catch((abortErr: unknown) => this.log.warn({ err: abortErr }, 'abort failed'));
          throw coded;
        }
      } else {
        await producer.sendBatch({ topicMessages, acks: -1 });
        await this.opts.commitOffset(nextOffset);
      }
      this.committedOffset = lastOffset + 1n;
      this.failures = 0;
      const now = Date.now();
      this.opts.onTransaction('committed', now - started);
      for (const chunk of chunks) chunk.onCommitted?.(now);
    } catch (err) {
      const coded = classifyTransactionError(err);
      if (coded.producerFenced) {
        this.log.warn({ transactionalId: this.transactionalId }, 'producer fenced: another instance owns this partition now; dropping it');
        this.opts.onTransaction('fenced', Date.now() - started);
        this.state = 'fenced';
        this.generation++;
        this.pending = [];
        return;
      }
      this.opts.onTransaction('aborted', Date.now() - started);
      this.failures++;
      this.log.warn({ err: coded.message, code: coded.code, failures: this.failures, rewindTo: this.committedOffset.toString() }, 'transaction aborted; reprocessing from the committed offset');
      this.rewind();
      // Back off so a broker outage is not a hot loop (100 ms doubling to 5 s).
      await new Promise((r) => setTimeout(r, Math.min(5_000, 100 * 2 ** Math.min(this.failures, 6))));
    }
  }

  /** Forgets everything not committed and has the source read again from the committed offset. */
  rewind(): void {
    this.generation++;
    this.pending = [];
    const from = this.committedOffset >= 0n ? this.committedOffset : this.baseOffset;
    this.nextOffset = from;
    this.opts.rewind(from);
  }

  /** Stops taking chunks and releases the producer once the current transaction is done. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    const wasFenced = this.state === 'fenced';
    this.state = 'closed';
    this.generation++;
    this.pending = [];
    await this.drained();
    if (this.opts.delivery === 'exactly-once' && this.producer) {
      await this.producer.disconnect().catch((err: unknown) => { if (!wasFenced) this.log.warn({ err }, 'producer disconnect failed'); });
    }
  }
}
