import type { PartitionOutput } from '../kafka/sink.js';
import { MAX_SEND_BYTES, MAX_TRANSACTION_BYTES, type TopicPartition } from '../kafka/records.js';
import { ChunkQueue, type ScoredChunk, chunkBytes } from './chunk-queue.js';

export type { ScoredChunk } from './chunk-queue.js';
import { type StreamscoreError, errorMessage } from '../errors.js';
import type { Clock, Timers } from '../observability/clock.js';
import type { Logger } from '../observability/logger.js';
import { Backoff, type RetryPolicy } from '../util/backoff.js';
import { classifyTransactionError } from '../kafka/errors.js';

export type TransactionResult = 'committed' | 'aborted' | 'fenced';

export interface PartitionSinkOptions {
  tp: TopicPartition;
  output: PartitionOutput;
  /** A partition's open transaction collects batches for this long before it commits. */
  commitIntervalMs: number;
  retry: RetryPolicy;
  /** Asks the source to read the partition again from `offset` (and drop what is queued for it). */
  rewind: (offset: bigint) => void;
  clock: Clock;
  timers: Timers;
  logger: Logger;
  onTransaction: (result: TransactionResult, ms: number) => void;
  /** A retryable failure, about to be tried again (a metric, not a log line). */
  onRetry: (err: StreamscoreError) => void;
  /** After every commit or recovery step: the source may resume partitions now. */
  onSettled: () => void;
  /** The retry budget ran out (report it); `undefined` once the sink works again. */
  onTrouble: (err: StreamscoreError | undefined) => void;
}

export type SinkState = 'new' | 'opening' | 'ready' | 'fenced' | 'closed';


/**
 * The commit cadence of one input partition. Inference batches are formed for the model,
 * transactions for Kafka: a transaction opens with the first chunk, every chunk that comes
 * is sent into it at once, and it commits (with the offset) when `commitIntervalMs` has
 * passed or its payload cap is reached, while the next batch is already being scored. One
 * transaction at a time. Any failure retires the output's producer, re-reads the committed
 * offset from the broker and rewinds the partition there; fencing ends the sink.
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
  /** Chunks waiting for the transaction: all of the current generation (a rewind empties it). */
  private readonly pending = new ChunkQueue();
  /** Input records sent in the open transaction, not committed yet. */
  private inTransaction = 0;
  private wake: (() => void) | undefined;
  private flushRequested = false;
  /** Failures to open the output, and failures of transactions: each resets on its own success. */
  private readonly openBackoff: Backoff;
  private readonly commitBackoff: Backoff;
  private troubled = false;
  private ready: Promise<void> | undefined;
  private loop: Promise<void> | undefined;

  constructor(private readonly o: PartitionSinkOptions) {
    this.openBackoff = new Backoff(o.retry);
    this.commitBackoff = new Backoff(o.retry);
    this.lastProgressMs = o.clock.now();
  }

  get tp(): TopicPartition {
    return this.o.tp;
  }

  get transactionalId(): string | undefined {
    return this.o.output.transactionalId;
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
   * Opens the output (fencing earlier owners), retrying with backoff until it works or the
   * sink is closed. Resolves when the sink takes chunks (or is closed or fenced).
   */
  start(): Promise<void> {
    this.ready ??= this.open();
    return this.ready;
  }

  private async open(): Promise<void> {
    this.state = 'opening';
    for (;;) {
      try {
        const committed = await this.o.output.open();
        if (this.state !== 'opening') {
          await this.o.output.close();
          return;
        }
        // From here to the rewind nothing awaits, so no batch is taken in between at a stale
        // position; whatever was taken before is of an older generation.
        this.generation++;
        this.committedOffset = committed;
        this.state = 'ready';
        this.openBackoff.reset();
        this.clearTrouble();
        // Read again from the committed offset as read after the fence (or, with none, from the
        // first record taken): whatever was fetched or queued before belongs to an earlier owner
        // or an earlier try.
        const from = this.uncommittedFrom;
        this.nextOffset = from;
        this.log.debug({ committed: committed.toString(), rewindTo: from.toString() }, 'partition output open');
        if (from >= 0n) this.o.rewind(from);
        return;
      } catch (err) {
        // Closed meanwhile: nothing to report, close() releases the output.
        if (this.state !== 'opening') return;
        const coded = classifyTransactionError(err);
        if (coded.producerFenced) return this.end(coded);
        await this.failed(coded, this.openBackoff, 'opening the partition output failed');
        if (this.state !== 'opening') return;
      }
    }
  }

  /** The first record this sink takes when nothing was committed: where a rewind without a commit goes. */
  accepted(firstOffset: bigint, nextOffset: bigint): void {
    if (this.baseOffset < 0n) this.baseOffset = firstOffset;
    this.nextOffset = nextOffset;
  }

  /** Queues a chunk for the open transaction; a chunk from before the last rewind is dropped. */
  submit(chunk: ScoredChunk): void {
    if (this.state !== 'ready' || chunk.generation !== this.generation) return;
    this.pending.push(chunk);
    this.loop ??= this.run().finally(() => { this.loop = undefined; });
    this.signal();
  }

  /** Commits what is pending now, without waiting for the interval, and resolves when it is committed (or dropped). */
  async drained(): Promise<void> {
    this.flushRequested = true;
    this.signal();
    while (this.loop) await this.loop;
    this.flushRequested = false;
  }

  private signal(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** Waits until `ms` pass or something is submitted (or the sink closes). */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = this.o.timers.setTimeout(() => { this.wake = undefined; resolve(); }, Math.max(0, ms));
      this.wake = () => { this.o.timers.clearTimeout(timer); resolve(); };
    });
  }

  private async run(): Promise<void> {
    while (this.state === 'ready' && this.pending.length) {
      try {
        await this.transaction();
      } catch (err) {
        await this.recover(classifyTransactionError(err));
      }
    }
  }

  /**
   * One transaction: it opens with the first chunk and commits, with the offset, once
   * `commitIntervalMs` has passed since, or its payload cap is reached, or a flush asks.
   * Exactly-once sends at commit time (one produce request per transaction, not one per
   * batch: on a shared 2-core box requests are what the broker pays for); at-least-once
   * sends each chunk at once (its output is readable on ack) and only commits offsets on
   * the cadence. A backlog is sent in pieces the broker accepts.
   */
  private async transaction(): Promise<void> {
    const started = this.o.clock.now();
    const deadline = started + this.o.commitIntervalMs;
    const generation = this.generation;
    const sent: ScoredChunk[] = [];
    let bytes = 0;
    await this.o.output.begin();
    const take = (): ScoredChunk[] => {
      const batch = this.pending.take(MAX_SEND_BYTES);
      this.inTransaction += batch.reduce((n, c) => n + c.inputs, 0);
      sent.push(...batch);
      bytes += batch.reduce((n, c) => n + chunkBytes(c), 0);
      return batch;
    };
    const send = async (batch: ScoredChunk[]) => {
      await this.o.output.send(batch.flatMap((c) => c.records));
      if (this.state !== 'ready' || generation !== this.generation) throw new Error('partition revoked or rewound mid-transaction');
    };
    for (;;) {
      if (this.o.clock.now() >= deadline || this.flushRequested || bytes + this.pending.bytes >= MAX_TRANSACTION_BYTES) break;
      if (this.pending.bytes && (this.o.output.sendsAtOnce || this.pending.bytes >= MAX_SEND_BYTES)) await send(take());
      else await this.pause(deadline - this.o.clock.now());
    }
    // Due: what is left goes with the commit (a backlog in pieces the broker accepts).
    let final = take();
    while (this.pending.bytes && bytes < MAX_TRANSACTION_BYTES) {
      await send(final);
      final = take();
    }
    const last = sent[sent.length - 1];
    if (!last) return this.o.output.abort();
    await this.o.output.commit(last.lastOffset + 1n, final.flatMap((c) => c.records));
    this.log.debug({ committed: (last.lastOffset + 1n).toString(), inputs: this.inTransaction, generation }, 'committed');
    this.committedOffset = last.lastOffset + 1n;
    this.inTransaction = 0;
    const now = this.o.clock.now();
    this.lastProgressMs = now;
    this.o.onTransaction('committed', now - started);
    for (const chunk of sent) chunk.onCommitted?.(now);
    this.commitBackoff.reset();
    this.clearTrouble();
    this.o.onSettled();
  }

  /**
   * Whatever failed, the transaction is gone: abort it if the producer still can, retire the
   * producer (a new one with the same id fences the old), read the committed offset from the
   * broker and read the partition again from there.
   */
  private async recover(err: StreamscoreError): Promise<void> {
    this.generation++;
    this.pending.clear();
    this.inTransaction = 0;
    if (this.state !== 'ready') return;
    if (err.producerFenced) return this.end(err);
    // Not ready from this moment: records fetched while we back off and fence wait for the
    // reopened output (and its rewind), or they would commit ahead of the rewind and again after.
    this.state = 'opening';
    this.o.onTransaction('aborted', 0);
    this.ready = this.reopen(err);
    await this.ready;
    this.o.onSettled();
  }

  private async reopen(err: StreamscoreError): Promise<void> {
    await this.o.output.abort().catch(() => {});
    await this.failed(err, this.commitBackoff, 'transaction failed; replacing the producer and reading again from the committed offset');
    if (this.state === 'opening') await this.open();
  }

  /** Counts a failure, reports it once a budget is spent, and waits out the backoff. */
  private async failed(err: StreamscoreError, backoff: Backoff, what: string): Promise<void> {
    const delayMs = backoff.fail();
    this.o.onRetry(err);
    const fields = { code: err.code, err: errorMessage(err), failures: backoff.failures, retryInMs: delayMs };
    if (backoff.exhausted && !this.troubled) {
      this.troubled = true;
      this.log.error(fields, `${what}: still failing; the partition is reported unready until it works again`);
      this.o.onTrouble(err);
    } else {
      this.log.debug(fields, what);
    }
    await this.pause(delayMs);
  }

  private clearTrouble(): void {
    if (!this.troubled || this.openBackoff.exhausted || this.commitBackoff.exhausted) return;
    this.troubled = false;
    this.log.info('partition output works again');
    this.o.onTrouble(undefined);
  }

  private end(err: StreamscoreError): void {
    this.log.warn({ code: err.code, transactionalId: this.transactionalId }, 'producer fenced: another instance owns this partition now; dropping it');
    this.o.onTransaction('fenced', 0);
    if (this.troubled) this.o.onTrouble(undefined);
    this.state = 'fenced';
    this.generation++;
    this.pending.clear();
    this.o.onSettled();
  }

  /** Stops taking chunks and releases the producer once the current transaction is done. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.generation++;
    this.pending.clear();
    this.signal();
    await this.loop;
    if (this.troubled) this.o.onTrouble(undefined);
    await this.o.output.close().catch((err: unknown) => this.log.debug({ err: errorMessage(err) }, 'closing the partition output failed'));
  }
}
