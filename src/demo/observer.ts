import type { KafkaClient } from '../kafka/client.js';
import { RecordReader } from '../kafka/reader.js';
import { type ConsumedRecord, headerText } from '../kafka/records.js';
import type { SentRecord } from '../loadgen/load-producer.js';
import { HEADER } from '../sink/output-records.js';

export interface ScenarioTally {
  scored: number;
  alerts: number;
  deadLettered: number;
  duplicates: number;
  /** Alerts whose input was a true positive, and all true positives that were scored. */
  truePositiveAlerts: number;
}

/**
 * An independent read_committed reader of every output topic: counts outputs per source
 * record (so duplicates and misses show), and end-to-end latency from the moment an input
 * was handed to the producer (its produce round trip included) to the moment its scored
 * output became readable.
 */
export class OutputObserver {
  /** Outputs per source record, scored or dead-lettered. */
  private readonly outputs = new Map<string, number>();
  private readonly receivedAt = new Map<string, number>();
  private readonly alerted = new Set<string>();
  private readonly alertsPerTopic = new Map<string, number>();
  private readonly deadCodes = new Map<string, string>();
  private reader: RecordReader | undefined;
  /** Latency samples, and beside each the time its input was acknowledged (for the warm-up cut). */
  readonly latencies: number[] = [];
  private readonly latencySentAt: number[] = [];
  /** Set when the reader stopped for good: no more outputs will be seen. */
  failure: Error | undefined;
  private pendingLatency: string[] = [];
  outputsTotal = 0;
  alertsTotal = 0;
  deadTotal = 0;
  firstOutputAt = 0;
  lastOutputAt = 0;

  constructor(private readonly client: KafkaClient, private readonly sent: Map<string, SentRecord>, private readonly topics: { scored: string[]; alerts: string[]; dlq: string[] }) {}

  /** Resolves once the reader has joined: every output written after that is counted. */
  async start(): Promise<void> {
    this.reader = new RecordReader(this.client, {
      topics: [...this.topics.scored, ...this.topics.alerts, ...this.topics.dlq],
      from: 'end',
      groupPrefix: 'streamscore-demo-observer',
      onRecords: ({ topic }, records) => this.observe(topic, records),
      onCrash: (err) => { this.failure = err; },
    });
    await this.reader.start();
  }

  private observe(topic: string, records: readonly ConsumedRecord[]): void {
    const now = Date.now();
    const header = (m: ConsumedRecord, name: string) => String(headerText(m.headers, name));
    for (const m of records) {
      if (this.topics.dlq.includes(topic)) {
        const source = `${header(m, HEADER.sourceTopic)}/${header(m, HEADER.sourcePartition)}/${header(m, HEADER.sourceOffset)}`;
        this.count(source, now);
        this.deadCodes.set(source, header(m, HEADER.errorCode));
        this.deadTotal++;
      } else if (this.topics.alerts.includes(topic)) {
        this.alerted.add(header(m, HEADER.source));
        this.alertsPerTopic.set(topic, (this.alertsPerTopic.get(topic) ?? 0) + 1);
        this.alertsTotal++;
      } else {
        this.count(header(m, HEADER.source), now);
      }
    }
  }

  private count(source: string, now: number): void {
    this.outputs.set(source, (this.outputs.get(source) ?? 0) + 1);
    if (!this.receivedAt.has(source)) {
      this.receivedAt.set(source, now);
      this.pendingLatency.push(source);
    }
    this.outputsTotal++;
    this.firstOutputAt ||= now;
    this.lastOutputAt = now;
  }

  alertsByTopic(topic: string): number {
    return this.alertsPerTopic.get(topic) ?? 0;
  }

  /** Moves outputs whose input acknowledgement is known into the latency samples; returns the new ones. */
  collectLatencies(): number[] {
    const fresh: number[] = [];
    const waiting: string[] = [];
    for (const source of this.pendingLatency) {
      const input = this.sent.get(source);
      if (!input) {
        waiting.push(source);
      } else if (!input.poison) {
        const ms = Math.max(0, this.receivedAt.get(source)! - input.sentAtMs);
        fresh.push(ms);
        // One by one, not push(...fresh): spreading 100k+ arguments overflows the stack.
        this.latencies.push(ms);
        this.latencySentAt.push(input.sentAtMs);
      }
    }
    this.pendingLatency = waiting;
    return fresh;
  }

  /**
   * Latency samples of the inputs sent after the first `warmUpShare` of them (by send time):
   * the first events meet cold caches, fresh connections and the first transactions, and
   * would otherwise dominate the figure of a short run.
   */
  steadyLatencies(warmUpShare: number): number[] {
    const bySendTime = this.latencies.map((_, i) => i).sort((a, b) => this.latencySentAt[a]! - this.latencySentAt[b]!);
    return bySendTime.slice(Math.floor(warmUpShare * bySendTime.length)).map((i) => this.latencies[i]!);
  }

  /** Every input accounted for (scored or dead-lettered)? */
  complete(): boolean {
    for (const source of this.sent.keys()) if (!this.outputs.has(source)) return false;
    return true;
  }

  tally(inputTopic: string): ScenarioTally & { missing: number; poisonMatched: number; poisonSent: number; positives: number } {
    const t = { scored: 0, alerts: 0, deadLettered: 0, duplicates: 0, truePositiveAlerts: 0, missing: 0, poisonMatched: 0, poisonSent: 0, positives: 0 };
    const prefix = `${inputTopic}/`;
    for (const [source, input] of this.sent) {
      if (!source.startsWith(prefix)) continue;
      const n = this.outputs.get(source) ?? 0;
      if (n === 0) t.missing++;
      if (n > 1) t.duplicates += n - 1;
      if (input.poison) {
        t.poisonSent++;
        if (this.deadCodes.get(source) === input.poison) t.poisonMatched++;
      }
      if (this.deadCodes.has(source)) t.deadLettered++;
      else if (n > 0) t.scored++;
      if (this.alerted.has(source)) {
        t.alerts++;
        if (input.positive) t.truePositiveAlerts++;
      }
      if (input.positive) t.positives++;
    }
    return t;
  }

  async stop(): Promise<void> {
    await this.reader?.stop();
  }
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
