import type { Consumer, Kafka } from 'kafkajs';
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
 * was acknowledged by the broker to the moment its scored output became readable.
 */
export class OutputObserver {
  /** Outputs per source record, scored or dead-lettered. */
  private readonly outputs = new Map<string, number>();
  private readonly receivedAt = new Map<string, number>();
  private readonly alerted = new Set<string>();
  private readonly alertsPerTopic = new Map<string, number>();
  private readonly deadCodes = new Map<string, string>();
  private consumer: Consumer | undefined;
  readonly latencies: number[] = [];
  private pendingLatency: string[] = [];
  outputsTotal = 0;
  alertsTotal = 0;
  deadTotal = 0;
  firstOutputAt = 0;
  lastOutputAt = 0;

  constructor(private readonly kafka: Kafka, private readonly sent: Map<string, SentRecord>, private readonly topics: { scored: string[]; alerts: string[]; dlq: string[] }) {}

  async start(): Promise<void> {
    this.consumer = this.kafka.consumer({ groupId: `streamscore-demo-observer-${process.pid}-${Date.now()}`, maxWaitTimeInMs: 100 });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [...this.topics.scored, ...this.topics.alerts, ...this.topics.dlq], fromBeginning: false });
    const joined = new Promise<void>((resolve) => this.consumer!.on(this.consumer!.events.GROUP_JOIN, () => resolve()));
    await this.consumer.run({
      eachBatch: async ({ batch }) => {
        const now = Date.now();
        for (const m of batch.messages) {
          if (this.topics.dlq.includes(batch.topic)) {
            const source = `${m.headers?.[HEADER.sourceTopic]}/${m.headers?.[HEADER.sourcePartition]}/${m.headers?.[HEADER.sourceOffset]}`;
            this.count(source, now);
            this.deadCodes.set(source, String(m.headers?.[HEADER.errorCode]));
            this.deadTotal++;
          } else if (this.topics.alerts.includes(batch.topic)) {
            this.alerted.add(String(m.headers?.[HEADER.source]));
            this.alertsPerTopic.set(batch.topic, (this.alertsPerTopic.get(batch.topic) ?? 0) + 1);
            this.alertsTotal++;
          } else {
            this.count(String(m.headers?.[HEADER.source]), now);
          }
        }
      },
    });
    await joined;
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
      if (!input) waiting.push(source);
      else if (!input.poison) fresh.push(Math.max(0, this.receivedAt.get(source)! - input.sentAtMs));
    }
    this.pendingLatency = waiting;
    // A loop, not push(...fresh): spreading 100k+ arguments overflows the stack.
    for (const ms of fresh) this.latencies.push(ms);
    return fresh;
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
    await this.consumer?.disconnect();
  }
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
