import { StreamscoreError, errorMessage } from '../errors.js';
import { classifyTransactionError } from '../kafka/errors.js';
import { MAX_SEND_BYTES, MAX_TRANSACTION_BYTES, type TopicPartition } from '../kafka/records.js';
import type { OffsetToCommit, PipelineOutput } from '../kafka/sink.js';
import type { Clock, Timers } from '../observability/clock.js';
import type { Logger } from '../observability/logger.js';
import { Backoff, type RetryPolicy } from '../util/backoff.js';
import { TroubleReporter } from '../util/trouble.js';
import { type ScoredChunk, chunkBytes } from './chunk-queue.js';
import type { PartitionSink, SinkCommitter } from './partition-sink.js';

export type TransactionResult = 'committed' | 'aborted' | 'fenced';

export interface CommitterOptions {
  output: PipelineOutput;
  /** An open transaction collects batches for this long before it commits. */
  commitIntervalMs: number;
  /**
   * ...or until it holds this many input records: a share of what the pipeline lets wait
   * between fetch and commit, so the next records are fetched and scored while it commits
   * rather than the source pausing for every commit.
   */
  maxRecordsPerTransaction: number;
  retry: RetryPolicy;
  clock: Clock;
  timers: Timers;
  logger: Logger;
  onTransaction: (result: TransactionResult, ms: number) => void;
  /** A retryable failure, about to be tried again (a metric, not a log line). */
  onRetry: (err: StreamscoreError) => void;
  /** After every commit or recovery step: the source may resume partitions now. */
  onSettled: () => void;
  /** The retry budget ran out (report it); `undefined` once the output works again. */
  onTrouble: (err: StreamscoreError | undefined) => void;
}

/** One partition's part in the open transaction. */
interface Part {
  generation: number;
  chunks: ScoredChunk[];
}

/** At-least-once sends in flight at once: the broker works on one while the next is encoded. */
const MAX_SENDS_IN_FLIGHT = 4;

/** A partition left the transaction (revoked, rewound, closed) before it committed: nothing failed on the broker's side. */
class PartitionLeft extends Error {
  constructor() {
    super('a partition was revoked or rewound mid-transaction');
  }
}

/**
 * The commit cadence of one pipeline instance. Inference batches are formed for the model,
 * transactions for Kafka: a transaction opens with the first chunk of any partition, every
 * chunk that comes is taken into it, and it commits, with every partition's offset, when
 * `commitIntervalMs` has passed or its payload cap is reached, while the next batch is
 * already being scored. One transaction at a time for all partitions: on a shared 2-core box
 * requests are what the broker pays for. Any failure retires the output's producer; the
 * partitions in the transaction read their committed offsets again and rewind there.
 */
export class OutputCommitter implements SinkCommitter {
  readonly #sinks = new Set<PartitionSink>();
  /** Failures to open the producer, and failures of transactions: each resets on its own success. */
  readonly #openBackoff: Backoff;
  readonly #commitBackoff: Backoff;
  #state: 'new' | 'opening' | 'open' | 'closed' = 'new';
  #opened: Promise<void> | undefined;
  #loop: Promise<void> | undefined;
  #open = new Map<PartitionSink, Part>();
  /** The transaction under way (and its recovery), for a partition that waits for it to end. */
  #current: Promise<void> | undefined;
  /** Where the next take starts, so a backlog in one partition does not starve the others. */
  #takeFrom = 0;
  #wakeUp: (() => void) | undefined;
  #flushRequested = false;

  readonly #trouble: TroubleReporter;

  constructor(private readonly o: CommitterOptions) {
    this.#openBackoff = new Backoff(o.retry);
    this.#commitBackoff = new Backoff(o.retry);
    this.#trouble = new TroubleReporter({ logger: o.logger, unready: 'the pipeline', onRetry: o.onRetry, onTrouble: o.onTrouble });
  }

  get transactionalId(): string | undefined {
    return this.o.output.transactionalId;
  }

  /** True once the output is open (its producer fenced in) and until a failure retires it. */
  get isOpen(): boolean {
    return this.#state === 'open';
  }

  /** Opens the output, retrying with backoff until it works or the committer is closed. */
  start(): Promise<void> {
    this.#opened ??= this.#openOutput();
    return this.#opened;
  }

  /** Partitions this committer commits for. */
  get partitions(): number {
    return this.#sinks.size;
  }

  register(sink: PartitionSink): void {
    this.#sinks.add(sink);
  }

  committedOffset(tp: TopicPartition): Promise<bigint> {
    return this.o.output.committedOffset(tp);
  }

  wake(): void {
    if (this.#state === 'closed') return;
    this.#loop ??= this.#run().finally(() => { this.#loop = undefined; });
    this.#signal();
  }

  async flush(): Promise<void> {
    this.#flushRequested = true;
    this.#signal();
    while (this.#loop) await this.#loop;
    this.#flushRequested = false;
  }

  async release(sink: PartitionSink): Promise<void> {
    while (this.#open.has(sink) && this.#current) await this.#current;
    this.#sinks.delete(sink);
  }

  #signal(): void {
    const wake = this.#wakeUp;
    this.#wakeUp = undefined;
    wake?.();
  }

  /** Waits until `ms` pass or something is submitted (or the committer closes). */
  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = this.o.timers.setTimeout(() => { this.#wakeUp = undefined; resolve(); }, Math.max(0, ms));
      this.#wakeUp = () => { this.o.timers.clearTimeout(timer); resolve(); };
    });
  }

  #pendingBytes(): number {
    let bytes = 0;
    for (const sink of this.#sinks) if (sink.state === 'ready') bytes += sink.pending.bytes;
    return bytes;
  }

  /** Input records queued and taken into the open transaction. */
  #recordsDue(): number {
    let records = 0;
    for (const sink of this.#sinks) if (sink.state === 'ready') records += sink.pending.inputs + sink.inTransaction;
    return records;
  }

  async #run(): Promise<void> {
    await this.start();
    while (this.#state === 'open' && this.#pendingBytes() > 0) {
      this.#current = this.#transaction().catch((err: unknown) => this.#recover(err));
      await this.#current;
      this.#current = undefined;
    }
  }

  /** Takes queued chunks of every ready partition, oldest first per partition, up to `maxBytes` in all. */
  #take(maxBytes: number): ScoredChunk[] {
    const taken: ScoredChunk[] = [];
    let bytes = 0;
    const sinks = [...this.#sinks];
    this.#takeFrom = (this.#takeFrom + 1) % Math.max(1, sinks.length);
    for (let i = 0; i < sinks.length; i++) {
      const sink = sinks[(this.#takeFrom + i) % sinks.length]!;
      if (sink.state !== 'ready' || !sink.pending.length || (taken.length && bytes >= maxBytes)) continue;
      let part = this.#open.get(sink);
      if (!part) this.#open.set(sink, (part = { generation: sink.generation, chunks: [] }));
      const chunks = sink.take(Math.max(1, maxBytes - bytes));
      for (const c of chunks) bytes += chunkBytes(c);
      part.chunks.push(...chunks);
      taken.push(...chunks);
    }
    return taken;
  }

  /**
   * One transaction: it opens with the first chunk and commits, with the offsets, once
   * `commitIntervalMs` has passed since, or its payload cap is reached, or a flush asks.
   * Exactly-once sends at commit time (one produce request per transaction, not one per
   * batch); at-least-once sends each chunk at once (its output is readable on ack) and only
   * commits offsets on the cadence. A backlog is sent in pieces the broker accepts.
   */
  async #transaction(): Promise<void> {
    const started = this.o.clock.now();
    const deadline = started + this.o.commitIntervalMs;
    let bytes = 0;
    await this.o.output.begin();
    // Sends under way, each resolving to its error (if any), awaited in order.
    const inFlight: Promise<unknown>[] = [];
    const settle = async (upTo: number) => {
      while (inFlight.length > upTo) {
        const err = await inFlight.shift();
        if (err) throw err;
      }
    };
    const send = (chunks: ScoredChunk[]) => {
      for (const c of chunks) bytes += chunkBytes(c);
      inFlight.push(this.o.output.send(chunks.flatMap((c) => c.records)).then(() => undefined, (err: unknown) => err ?? new Error('send failed')));
      // Exactly-once sends a backlog piece by piece; at-least-once keeps a few sends going.
      return settle(this.o.output.sendsAtOnce ? MAX_SENDS_IN_FLIGHT - 1 : 0);
    };
    for (;;) {
      const pending = this.#pendingBytes();
      if (this.o.clock.now() >= deadline || this.#flushRequested || bytes + pending >= MAX_TRANSACTION_BYTES || this.#recordsDue() >= this.o.maxRecordsPerTransaction || this.#state !== 'open') break;
      if (pending && (this.o.output.sendsAtOnce || pending >= MAX_SEND_BYTES)) await send(this.#take(MAX_SEND_BYTES));
      else await this.#pause(deadline - this.o.clock.now());
    }
    // Due: what is left goes with the commit (a backlog in pieces the broker accepts).
    let final = this.#take(MAX_SEND_BYTES);
    while (this.#pendingBytes() && bytes < MAX_TRANSACTION_BYTES) {
      await send(final);
      final = this.#take(MAX_SEND_BYTES);
    }
    await settle(0);
    const offsets: OffsetToCommit[] = [];
    for (const [sink, part] of this.#open) {
      // Checked with no await before the offsets go: a partition revoked by then is not ours
      // to commit in the generation the output reads now.
      if (sink.state !== 'ready' || sink.generation !== part.generation) throw new PartitionLeft();
      const last = part.chunks[part.chunks.length - 1];
      if (last) offsets.push({ tp: sink.tp, nextOffset: last.lastOffset + 1n });
    }
    if (!offsets.length) {
      this.#open.clear();
      return this.o.output.abort();
    }
    await this.o.output.commit(offsets, final.flatMap((c) => c.records));
    const now = this.o.clock.now();
    const committed = this.#open;
    this.#open = new Map();
    for (const [sink, part] of committed) {
      const last = part.chunks[part.chunks.length - 1];
      if (last && sink.generation === part.generation) sink.committed(last.lastOffset + 1n, now, part.chunks);
    }
    this.o.onTransaction('committed', now - started);
    this.#commitBackoff.reset();
    this.#clearTrouble();
    this.o.onSettled();
  }

  /**
   * Whatever failed, the transaction is gone: abort it if the producer still can, have its
   * partitions read their committed offsets from the broker and rewind there, and replace the
   * producer (a new one with the same id fences the old).
   */
  async #recover(failure: unknown): Promise<void> {
    const involved = [...this.#open.keys()];
    this.#open = new Map();
    if (this.#state !== 'open') return;
    if (failure instanceof PartitionLeft) {
      // An abort ends it, and the producer stays.
      const aborted = await this.o.output.abort().then(() => true, () => false);
      if (aborted) {
        this.o.onTransaction('aborted', 0);
        await Promise.all(involved.map((sink) => sink.recover()));
        return;
      }
    }
    const err = failure instanceof PartitionLeft ? new StreamscoreError('KAFKA_TRANSACTION_FAILED', `${failure.message}, and the abort failed`) : classifyTransactionError(failure);
    this.#state = 'opening';
    await this.o.output.abort().catch(() => {});
    const stale = err.code === 'KAFKA_GENERATION_STALE';
    this.o.onTransaction(err.producerFenced || stale ? 'fenced' : 'aborted', 0);
    if (stale) this.o.logger.info({ code: err.code, partitions: involved.length }, 'transaction aborted: the group rebalanced since its records were read; its partitions are read again from their committed offsets');
    else await this.#failed(err, this.#commitBackoff, 'transaction failed; replacing the producer and reading its partitions again from their committed offsets');
    // The rewinds read offsets with require_stable: they wait for the abort, even one the new producer does.
    for (const sink of involved) void sink.recover();
    if (this.#state === 'opening') await this.#openOutput();
  }

  async #openOutput(): Promise<void> {
    this.#state = 'opening';
    for (;;) {
      try {
        await this.o.output.open();
        if (this.#state !== 'opening') return;
        this.#state = 'open';
        this.#openBackoff.reset();
        this.#clearTrouble();
        this.o.onSettled();
        if (this.#pendingBytes()) this.wake();
        return;
      } catch (err) {
        if (this.#state !== 'opening') return;
        await this.#failed(classifyTransactionError(err), this.#openBackoff, 'opening the output producer failed');
        if (this.#state !== 'opening') return;
      }
    }
  }

  /** Counts a failure, reports it once the budget is spent, and waits out the backoff. */
  async #failed(err: StreamscoreError, backoff: Backoff, what: string): Promise<void> {
    await this.#pause(this.#trouble.failed(err, backoff, what, { transactionalId: this.transactionalId }));
  }

  /** Both the producer and its transactions work again. */
  #clearTrouble(): void {
    if (!this.#openBackoff.exhausted && !this.#commitBackoff.exhausted) this.#trouble.recovered('the output works again');
  }

  /** Stops committing once the current transaction is done, and releases the producer. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#signal();
    await this.#loop;
    this.#trouble.withdraw();
    await this.o.output.close().catch((err: unknown) => this.o.logger.debug({ err: errorMessage(err) }, 'closing the output failed'));
  }
}
