import type { KafkaAdmin } from '../kafka/admin.js';
import { type TopicPartition, partitionKey } from '../kafka/records.js';
import type { Clock, Timers } from '../observability/clock.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { PartitionSink } from '../sink/partition-sink.js';

export interface WatchdogOptions {
  pipeline: string;
  admin: KafkaAdmin;
  topics: readonly string[];
  /** The partitions assigned now, with their sinks. */
  partitions: () => Iterable<{ tp: TopicPartition; sink: PartitionSink | undefined; fetchPosition: bigint }>;
  intervalMs: number;
  stallTimeoutMs: number;
  /** Where a partition with no committed offset and nothing fetched starts reading. */
  startFrom: 'earliest' | 'latest';
  clock: Clock;
  timers: Timers;
  metrics: Metrics;
  logger: Logger;
}

interface Watched {
  tp: TopicPartition;
  /** When the partition was last seen with nothing waiting. */
  idleSinceMs: number;
  stalled: boolean;
  lag: number;
}

/**
 * Lag and liveness on a timer, independent of fetching (a stuck fetch loop cannot freeze
 * the figures): lag = end offset - committed offset, i.e. records fetched and not committed
 * plus records not fetched yet. A
 * partition with lag and no commit for `stallTimeoutMs` is stalled: /readyz names it, the
 * gauge says 1, and one log line says so (and one more when it moves again).
 */
export class StallWatchdog {
  readonly #watched = new Map<string, Watched>();
  readonly #ranges = new Map<string, { start: bigint; end: bigint }>();
  #timer: unknown;
  #stopped = false;
  #refreshing: Promise<void> | undefined;

  constructor(private readonly o: WatchdogOptions) {}

  start(): void {
    this.#schedule();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.o.timers.clearTimeout(this.#timer);
  }

  /** Reasons for /readyz: one per stalled partition. */
  stalledReasons(): string[] {
    return [...this.#watched.values()].filter((w) => w.stalled).map((w) => `partition ${w.tp.topic}/${w.tp.partition} stalled: ${w.lag} records waiting, no commit for over ${Math.round(this.o.stallTimeoutMs / 1000)} s`);
  }

  /** Removes a revoked partition's series. */
  forget(tp: TopicPartition): void {
    const labels = { pipeline: this.o.pipeline, topic: tp.topic, partition: tp.partition };
    this.o.metrics.consumerLag.remove(labels);
    this.o.metrics.partitionStalled.remove(labels);
    this.#watched.delete(partitionKey(tp));
  }

  async #refresh(): Promise<void> {
    await Promise.all(this.o.topics.map(async (topic) => {
      try {
        for (const [partition, range] of await this.o.admin.offsetRanges(topic)) this.#ranges.set(partitionKey({ topic, partition }), range);
      } catch {
        // The broker is away: partitions are judged on what is known, and stall on time.
      }
    }));
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = this.o.timers.setTimeout(() => void this.tick().finally(() => this.#schedule()), this.o.intervalMs);
  }

  /**
   * One round: judge every partition on the offsets known now, and refresh them in the
   * background. A broker that does not answer holds up the refresh (for up to its request
   * timeout and kafkajs's retries), never the judging: that is when stalls must show.
   */
  async tick(): Promise<void> {
    this.#refreshing ??= this.#refresh().finally(() => { this.#refreshing = undefined; });
    if (this.#ranges.size === 0) await this.#refreshing;
    if (this.#stopped) return;
    const now = this.o.clock.now();
    for (const { tp, sink, fetchPosition } of this.o.partitions()) {
      const key = partitionKey(tp);
      let w = this.#watched.get(key);
      if (!w) this.#watched.set(key, (w = { tp, idleSinceMs: now, stalled: false, lag: 0 }));
      const range = this.#ranges.get(key);
      // Lag runs from the committed offset; when nothing beyond it is in flight, from the fetch
      // position instead, which has stepped over transaction markers that never commit; with
      // neither, from where a new group starts reading.
      const from = sink?.uncommittedFrom ?? -1n;
      const inFlight = sink !== undefined && sink.nextOffset > from;
      let position = !inFlight && fetchPosition > from ? fetchPosition : from;
      if (position < 0n && range) position = this.o.startFrom === 'earliest' ? range.start : range.end;
      w.lag = range && position >= 0n && range.end > position ? Number(range.end - position) : 0;
      const labels = { pipeline: this.o.pipeline, topic: tp.topic, partition: tp.partition };
      this.o.metrics.consumerLag.set(labels, w.lag);
      if (w.lag === 0) w.idleSinceMs = now;
      const lastMoved = Math.max(w.idleSinceMs, sink?.lastProgressMs ?? 0);
      const stalled = w.lag > 0 && now - lastMoved > this.o.stallTimeoutMs;
      if (stalled !== w.stalled) {
        if (stalled) this.o.logger.error({ topic: tp.topic, partition: tp.partition, lag: w.lag, sinkState: sink?.state ?? 'none', sinceCommitMs: now - lastMoved }, 'partition stalled: records are waiting and nothing has been committed');
        else this.o.logger.info({ topic: tp.topic, partition: tp.partition }, 'partition moving again');
      }
      w.stalled = stalled;
      this.o.metrics.partitionStalled.set(labels, stalled ? 1 : 0);
    }
  }
}
