import type { PipelineConfig } from '../config/types.js';
import type { OutgoingRecord } from '../kafka/records.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { HEADER } from '../sink/output-records.js';
import type { ScoredChunk } from '../sink/partition-sink.js';
import type { Scorer } from './scoring.js';

/** Canary shares are decided in buckets of 0.01 %. */
export const CANARY_BUCKETS = 10_000;

/**
 * The bucket a Kafka key falls in, the same in every process and every run: FNV-1a over the
 * key's bytes (not the partitioner's murmur2, so the canary's keys do not line up with
 * partitions). A record without a key has no bucket and stays with the primary.
 */
export function canaryBucket(key: Buffer | null): number | undefined {
  if (!key) return undefined;
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % CANARY_BUCKETS;
}

export type CanaryGuards = PipelineConfig['canary'];

/** Why a canary was taken off: a guard it broke, with the figures. */
export interface CanaryRemoval {
  reason: 'alert_rate' | 'error_rate';
  message: string;
  atMs: number;
  model: { name: string; version: string; path: string };
}

interface Tally {
  scored: number;
  alerts: number;
  failed: number;
}

/**
 * A candidate that decides a fixed share of keys: its scores and alerts are the real outputs
 * for them, stamped with its version. The keys are chosen by a stable hash, so a card always
 * meets the same model. Its alert rate and inference error rate are watched against the
 * primary's over the same time; past a guard (after `minRecords` of each) it must come off.
 */
export class Canary {
  readonly #buckets: number;
  readonly #canary: Tally = { scored: 0, alerts: 0, failed: 0 };
  readonly #primary: Tally = { scored: 0, alerts: 0, failed: 0 };

  constructor(readonly scorer: Scorer, readonly path: string, readonly share: number, private readonly o: { pipeline: string; guards: CanaryGuards; metrics: Metrics; logger: Logger }) {
    this.#buckets = Math.round(share * CANARY_BUCKETS);
  }

  takes(key: Buffer | null): boolean {
    const bucket = canaryBucket(key);
    return bucket !== undefined && bucket < this.#buckets;
  }

  /** Counts one batch's outputs of each side; the guard the canary broke, if it broke one. */
  observe(primary: Iterable<ScoredChunk>, canary: Iterable<ScoredChunk>, topics: PipelineConfig['outputs'], nowMs: number): CanaryRemoval | undefined {
    count(this.#primary, primary, topics);
    for (const chunk of canary) {
      const t: Tally = { scored: 0, alerts: 0, failed: 0 };
      count(t, [chunk], topics);
      this.#canary.scored += t.scored;
      this.#canary.alerts += t.alerts;
      this.#canary.failed += t.failed;
      // The metric says what the topics hold: counted when the chunk commits, not when scored.
      const then = chunk.onCommitted;
      chunk.onCommitted = (at) => {
        then?.(at);
        this.o.metrics.canaryScored.inc({ pipeline: this.o.pipeline }, t.scored);
      };
    }
    const { guards } = this.o;
    const c = this.#canary;
    const p = this.#primary;
    const info = this.scorer.model.info;
    const model = { name: info.name, version: info.version, path: this.path };
    const canaryRows = c.scored + c.failed;
    if (canaryRows < guards.minRecords) return undefined;
    const errorRate = c.failed / canaryRows;
    if (errorRate > guards.maxErrorRate) {
      return { reason: 'error_rate', atMs: nowMs, model, message: `inference failed for ${c.failed} of ${canaryRows} canary records (${pct(errorRate)}), over canary.maxErrorRate ${pct(guards.maxErrorRate)}` };
    }
    if (p.scored < guards.minRecords) return undefined;
    const canaryRate = c.alerts / c.scored;
    const primaryRate = p.alerts / p.scored;
    // A primary that never alerted gives no ratio: any canary alert rate over one alert in minRecords counts as over.
    const ratio = primaryRate > 0 ? canaryRate / primaryRate : canaryRate > 1 / guards.minRecords ? Infinity : 0;
    if (ratio > guards.maxAlertRateRatio) {
      return { reason: 'alert_rate', atMs: nowMs, model, message: `canary alert rate ${pct(canaryRate)} is ${ratio.toFixed(2)}× the primary's ${pct(primaryRate)}, over canary.maxAlertRateRatio ${guards.maxAlertRateRatio}` };
    }
    return undefined;
  }
}

function count(t: Tally, chunks: Iterable<ScoredChunk>, topics: PipelineConfig['outputs']): void {
  for (const chunk of chunks) {
    for (const r of chunk.records as OutgoingRecord[]) {
      if (r.topic === topics.scored.topic) t.scored++;
      else if (r.topic === topics.alerts.topic) t.alerts++;
      else if (r.topic === topics.deadLetter.topic && String(r.headers?.[HEADER.errorCode]) === 'INFERENCE_FAILED') t.failed++;
    }
  }
}

function pct(x: number): string {
  return `${(x * 100).toFixed(2)} %`;
}

/** One partition's outputs of a batch scored by two models: both sides' records, one commit. */
export function mergeChunks(a: ScoredChunk, b: ScoredChunk): ScoredChunk {
  const hooks = [a.onCommitted, b.onCommitted].filter((f) => f !== undefined);
  return {
    generation: a.generation,
    lastOffset: a.lastOffset > b.lastOffset ? a.lastOffset : b.lastOffset,
    // Keys never cross from one model to the other, so each key's records stay in offset order.
    records: [...a.records, ...b.records],
    inputs: a.inputs + b.inputs,
    onCommitted: (at) => { for (const f of hooks) f(at); },
  };
}
