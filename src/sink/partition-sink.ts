import type { TopicPartition } from '../kafka/records.js';
import { ChunkQueue, type ScoredChunk } from './chunk-queue.js';
import { StreamscoreError, errorMessage } from '../errors.js';
import type { Clock, Timers } from '../observability/clock.js';
import type { Logger } from '../observability/logger.js';
import { Backoff, type RetryPolicy } from '../util/backoff.js';
import { TroubleReporter } from '../util/trouble.js';

export type { ScoredChunk } from './chunk-queue.js';

/** What a partition needs of the instance's commit cadence (src/sink/committer.ts). */
export interface SinkCommitter {
  /** The broker's committed offset of the partition, once no transaction holds it open. */
  committedOffset(tp: TopicPartition): Promise<bigint>;
  /** A chunk was queued: the next transaction may begin. */
  wake(): void;
  /** Forgets the sink once the transaction it has records in (if any) has ended. */
  release(sink: PartitionSink): Promise<void>;
}

export interface PartitionSinkOptions {
  tp: TopicPartition;
  committer: SinkCommitter;
  retry: RetryPolicy;
  /** Asks the source to read the partition again from `offset` (and drop what is queued for it). */
  rewind: (offset: bigint) => void;
  clock: Clock;
  timers: Timers;
  logger: Logger;
  /** A retryable failure, about to be tried again (a metric, not a log line). */
  onRetry: (err: StreamscoreError) => void;
  /** After every commit or recovery step: the source may resume partitions now. */
  onSettled: () => void;
  /** The retry budget ran out (report it); `undefined` once the sink works again. */
  onTrouble: (err: StreamscoreError | undefined) => void;
}

export type SinkState = 'new' | 'opening' | 'ready' | 'closed';

/**
 * One input partition's side of the commit cadence: where it stands (committed offset, what
 * it accepted), the scored chunks waiting for the instance's next transaction, and the
 * takeover: read the committed offset from the broker (after the previous owner's transaction
 * has ended) and rewind the partition there. The transactions themselves, one at a time for
 * all partitions, are the committer's.
 */
export class PartitionSink {
  state: SinkState = 'new';
  /** Bumped on every rewind: chunks built before it are stale and dropped. */
  generation = 0;
  /** Next input offset to accept from the source (-1n: the first fetched one). */
  nextOffset = -1n;
  /** The partition's committed offset, as read from the broker or last committed here (-1n: none). */
  committedOffset = -1n;
  /** When this sink last committed (or was made): the stall watchdog's reference. Reopening is not progress. */
  lastProgressMs: number;
  /** The first offset this sink accepted: where a rewind goes when nothing is committed yet. */
  baseOffset = -1n;
  /** Chunks waiting for a transaction: all of the current generation (a rewind empties it). */
  readonly pending = new ChunkQueue();
  /** Input records taken into the open transaction, not committed yet. */
  inTransaction = 0;
  private readonly openBackoff: Backoff;
  private readonly trouble: TroubleReporter;
  private ready: Promise<void> | undefined;

  constructor(private readonly o: PartitionSinkOptions) {
    this.openBackoff = new Backoff(o.retry);
    this.trouble = new TroubleReporter({ logger: o.logger, unready: 'the partition', onRetry: o.onRetry, onTrouble: o.onTrouble });
    this.lastProgressMs = o.clock.now();
  }

  get tp(): TopicPartition {
    return this.o.tp;
  }

  private get log(): Logger {
    return this.o.logger;
  }

  /** Where the records not committed yet begin (-1n: unknown). */
  get uncommittedFrom(): bigint {
    return this.committedOffset >= 0n ? this.committedOffset : this.baseOffset;
  }

  /** Input records accepted and not committed yet (for backpressure and lag). */
  get pendingRecords(): number {
    return this.inTransaction + this.pending.inputs;
  }

  /**
   * Reads the committed offset (waiting out the previous owner's transaction) and rewinds
   * there, retrying with backoff until it works or the sink is closed. Resolves when the sink
   * takes chunks (or is closed).
   */
  start(): Promise<void> {
    this.ready ??= this.open();
    return this.ready;
  }

  private async open(): Promise<void> {
    this.state = 'opening';
    for (;;) {
      try {
        const committed = await this.o.committer.committedOffset(this.o.tp);
        if (this.state !== 'opening') return;
        // From here to the rewind nothing awaits, so no batch is taken in between at a stale
        // position; whatever was taken before is of an older generation.
        this.generation++;
        this.committedOffset = committed;
        this.state = 'ready';
        this.openBackoff.reset();
        this.trouble.recovered('partition works again');
        // Read again from the committed offset (or, with none, from the first record taken):
        // whatever was fetched or queued before belongs to an earlier owner or an earlier try.
        const from = this.uncommittedFrom;
        this.nextOffset = from;
        this.log.debug({ committed: committed.toString(), rewindTo: from.toString() }, 'partition open');
        if (from >= 0n) this.o.rewind(from);
        return;
      } catch (err) {
        // Closed meanwhile: nothing to report.
        if (this.state !== 'opening') return;
        await this.failed(err instanceof StreamscoreError ? err : new StreamscoreError('KAFKA_REQUEST_FAILED', `reading the committed offset failed: ${errorMessage(err)}`, { cause: err }));
        if (this.state !== 'opening') return;
      }
    }
  }

  /** The first record this sink takes when nothing was committed: where a rewind without a commit goes. */
  accepted(firstOffset: bigint, nextOffset: bigint): void {
    if (this.baseOffset < 0n) this.baseOffset = firstOffset;
    this.nextOffset = nextOffset;
  }

  /** Queues a chunk for the next transaction; a chunk from before the last rewind is dropped. */
  submit(chunk: ScoredChunk): void {
    if (this.state !== 'ready' || chunk.generation !== this.generation) return;
    this.pending.push(chunk);
    this.o.committer.wake();
  }

  /** Takes the oldest queued chunks (up to `maxBytes`, at least one) into the open transaction. */
  take(maxBytes: number): ScoredChunk[] {
    const taken = this.pending.take(maxBytes);
    for (const chunk of taken) this.inTransaction += chunk.inputs;
    return taken;
  }

  /** The transaction with this sink's records up to `nextOffset` committed at `nowMs`. */
  committed(nextOffset: bigint, nowMs: number, chunks: readonly ScoredChunk[]): void {
    this.log.debug({ committed: nextOffset.toString(), inputs: this.inTransaction }, 'committed');
    this.committedOffset = nextOffset;
    this.inTransaction = 0;
    this.lastProgressMs = nowMs;
    for (const chunk of chunks) {
      // Metrics only: a fault in one must not stop the others or look like a failed commit.
      try {
        chunk.onCommitted?.(nowMs);
      } catch (err) {
        this.log.error({ err }, 'counting a committed chunk failed');
      }
    }
  }

  /**
   * The transaction this sink had records in failed: drop everything queued and read the
   * partition again from the offset the broker has committed.
   */
  recover(): Promise<void> {
    this.generation++;
    this.pending.clear();
    this.inTransaction = 0;
    if (this.state !== 'ready') return this.ready ?? Promise.resolve();
    // Not ready from this moment: records fetched meanwhile wait for the rewind, or they
    // would commit ahead of it and again after.
    this.ready = this.open().finally(() => this.o.onSettled());
    return this.ready;
  }

  /** Counts a failure, reports it once the budget is spent, and waits out the backoff. */
  private async failed(err: StreamscoreError): Promise<void> {
    const delayMs = this.trouble.failed(err, this.openBackoff, 'reading the committed offset failed');
    await new Promise<void>((resolve) => this.o.timers.setTimeout(resolve, delayMs));
  }

  /** Stops taking chunks; resolves once the transaction it has records in (if any) has ended and the committer has let it go. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.generation++;
    this.pending.clear();
    await this.o.committer.release(this);
    this.inTransaction = 0;
    this.trouble.withdraw();
  }
}
