import type { Clock, Timers } from '../observability/clock.js';
import { type BatchPolicy, decideBatch } from './decide.js';

export interface BatcherOptions<T> {
  policy: BatchPolicy;
  /** Runs one batch; must not throw (failures are the handler's to route). */
  handle: (items: T[], waitedMs: number) => Promise<void>;
  clock: Clock;
  timers: Timers;
  /** Told the queue length after each dispatch, so the source can resume paused partitions. */
  onDequeued?: (queued: number) => void;
}

/**
 * The timer driver around decideBatch: a FIFO queue (so order within a partition holds from
 * input to output), one timer for the next deadline, and a flush for shutdown. The queue has
 * no hard cap: the source pauses partitions when it grows past its bound, so nothing fetched
 * is ever dropped.
 */
export class Batcher<T> {
  private items: T[] = [];
  private enqueuedAt: number[] = [];
  private head = 0;
  private inFlight = 0;
  private flushing = false;
  private closed = false;
  private timer: unknown;
  private idleWaiters: (() => void)[] = [];
  constructor(private readonly opts: BatcherOptions<T>) {}

  get queued(): number {
    return this.items.length - this.head;
  }

  enqueue(batch: readonly T[]): void {
    if (batch.length === 0) return;
    const now = this.opts.clock.now();
    for (const item of batch) {
      this.items.push(item);
      this.enqueuedAt.push(now);
    }
    this.pump();
  }

  /** Dispatches everything queued without waiting, and resolves once nothing is queued or running. */
  async flush(): Promise<void> {
    this.flushing = true;
    this.pump();
    await this.idle();
    this.flushing = false;
  }

  /** Resolves when the queue is empty and no batch is running. */
  idle(): Promise<void> {
    if (this.queued === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Drops everything queued for which `drop` says so (a partition was revoked or rewound). */
  discard(drop: (item: T) => boolean): number {
    const keptItems: T[] = [];
    const keptAt: number[] = [];
    for (let i = this.head; i < this.items.length; i++) {
      if (!drop(this.items[i]!)) {
        keptItems.push(this.items[i]!);
        keptAt.push(this.enqueuedAt[i]!);
      }
    }
    const dropped = this.queued - keptItems.length;
    this.items = keptItems;
    this.enqueuedAt = keptAt;
    this.head = 0;
    this.pump();
    return dropped;
  }

  private pump(): void {
    if (this.closed) return;
    for (;;) {
      const decision = decideBatch({
        queued: this.queued,
        oldestEnqueuedAtMs: this.queued ? this.enqueuedAt[this.head] : undefined,
        nowMs: this.opts.clock.now(),
        inFlight: this.inFlight,
        // One batch at a time, always: a second batch of the same partition could finish first
        // and reach its sink out of order. This is what keeps per-key order, so it is no option.
        maxInFlight: 1,
        flushing: this.flushing,
      }, this.opts.policy);
      if (decision.kind === 'dispatch') {
        this.dispatch(decision.size);
        continue;
      }
      this.clearTimer();
      if (decision.kind === 'wait') this.timer = this.opts.timers.setTimeout(() => { this.timer = undefined; this.pump(); }, decision.ms);
      if (decision.kind === 'idle' && this.queued === 0 && this.inFlight === 0) this.wakeIdle();
      return;
    }
  }

  private dispatch(size: number): void {
    const end = this.head + size;
    const batch = this.items.slice(this.head, end);
    const waitedMs = this.opts.clock.now() - this.enqueuedAt[this.head]!;
    this.head = end;
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.enqueuedAt = this.enqueuedAt.slice(this.head);
      this.head = 0;
    }
    this.inFlight++;
    this.opts.onDequeued?.(this.queued);
    void this.opts.handle(batch, waitedMs).finally(() => {
      this.inFlight--;
      this.pump();
    });
  }

  private clearTimer(): void {
    if (this.timer !== undefined) {
      this.opts.timers.clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Dispatches nothing more, even when a batch in flight finishes (its model may be released next). */
  close(): void {
    this.closed = true;
    this.clearTimer();
  }
}
