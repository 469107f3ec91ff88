import type { DriftConfig } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { type FeatureBaseline, type TrainingBaseline, baselineBin } from './onnx-metadata.js';

/** Proportions are floored at this before the log: an empty bin must not make PSI infinite. */
const EPSILON = 1e-4;

/**
 * Population stability index of observed bin counts against expected proportions:
 * Σ (a − e) · ln(a / e). The last count is the "not seen in training" bin (a category training
 * never saw), whose expected proportion is 0.
 */
export function psi(expected: readonly number[], counts: Uint32Array, total: number): number {
  let sum = 0;
  for (let i = 0; i < counts.length; i++) {
    const e = Math.max(expected[i] ?? 0, EPSILON);
    const a = Math.max(counts[i]! / total, EPSILON);
    sum += (a - e) * Math.log(a / e);
  }
  return sum;
}

/** A drift finding: one per feature (or the score) over psiAlert, at most once per window. */
export interface DriftEvent {
  pipeline: string;
  model: { name: string; version: string };
  /** A feature column, or `score`. */
  feature: string;
  psi: number;
  psiAlert: number;
  window: number;
  atMs: number;
}

interface Tracked {
  name: string;
  /** The matrix column it reads; -1 for the score. */
  column: number;
  baseline: FeatureBaseline;
  /** Per bin, plus the unseen-category bin last. */
  counts: Uint32Array;
  /** Records observed since this one last raised an event (Infinity: never). */
  sinceEvent: number;
}

export interface DriftMonitorOptions {
  pipeline: string;
  model: { name: string; version: string; featureNames: readonly string[]; baseline?: TrainingBaseline };
  config: DriftConfig;
  metrics: Metrics;
  logger: Logger;
  now: () => number;
  /** Each event (the pipeline sends them to outputs.drift.topic when set). */
  onEvent?: (event: DriftEvent) => void;
}

/**
 * PSI of each model input and of the score over a sliding window of the last `window` records,
 * against the training baseline the model carries. Each record's bins sit in a ring, so the
 * window slides one record at a time at the cost of a few array writes; PSI is computed every
 * tenth of a window once the window is full.
 */
export class DriftMonitor {
  readonly #tracked: Tracked[];
  readonly #ring: Int32Array;
  readonly #window: number;
  readonly #evaluateEvery: number;
  #next = 0;
  #filled = 0;
  #sinceEvaluation = 0;

  private constructor(private readonly o: DriftMonitorOptions, tracked: Tracked[]) {
    this.#tracked = tracked;
    this.#window = o.config.window;
    this.#ring = new Int32Array(this.#window * tracked.length);
    this.#evaluateEvery = Math.max(1, Math.floor(this.#window / 10));
  }

  /** A monitor for this model, or undefined (with the reason logged) when drift cannot be measured. */
  static for(o: DriftMonitorOptions & { baselineProblem?: string }): DriftMonitor | undefined {
    const { baseline, featureNames } = o.model;
    if (o.config.window === 0) return undefined;
    if (!baseline) {
      o.logger.info({ reason: o.baselineProblem ?? 'the model carries no training_baseline' }, 'drift monitoring unavailable for this model');
      return undefined;
    }
    const tracked: Tracked[] = [];
    featureNames.forEach((name, column) => {
      const b = baseline.features[name];
      if (b) tracked.push({ name, column, baseline: b, counts: new Uint32Array(b.proportions.length + 1), sinceEvent: Infinity });
    });
    tracked.push({ name: 'score', column: -1, baseline: baseline.score, counts: new Uint32Array(baseline.score.proportions.length + 1), sinceEvent: Infinity });
    return new DriftMonitor(o, tracked);
  }

  /** Counts one batch: `rows` rows of `matrix` (row-major, one column per model input) and their scores. */
  observe(matrix: Float32Array, rows: number, scores: Float32Array): void {
    const width = this.o.model.featureNames.length;
    const tracked = this.#tracked;
    const k = tracked.length;
    for (let r = 0; r < rows; r++) {
      // A row the model could not score is dead-lettered, not part of the live population.
      if (Number.isNaN(scores[r])) continue;
      const slot = this.#next * k;
      const full = this.#filled === this.#window;
      for (let t = 0; t < k; t++) {
        const f = tracked[t]!;
        if (full) f.counts[this.#ring[slot + t]!]!--;
        const value = f.column < 0 ? scores[r]! : matrix[r * width + f.column]!;
        const bin = baselineBin(f.baseline, value);
        const at = bin < 0 ? f.counts.length - 1 : bin;
        this.#ring[slot + t] = at;
        f.counts[at]!++;
        f.sinceEvent++;
      }
      this.#next = (this.#next + 1) % this.#window;
      if (!full) this.#filled++;
      if (++this.#sinceEvaluation >= this.#evaluateEvery && this.#filled === this.#window) {
        this.#sinceEvaluation = 0;
        this.#evaluate();
      }
    }
  }

  #evaluate(): void {
    const { metrics, pipeline, config, model } = this.o;
    for (const f of this.#tracked) {
      const value = psi(f.baseline.proportions, f.counts, this.#window);
      if (f.column < 0) metrics.scorePsi.set({ pipeline }, value);
      else metrics.featurePsi.set({ pipeline, feature: f.name }, value);
      if (value > config.psiAlert && f.sinceEvent >= this.#window) {
        f.sinceEvent = 0;
        const event: DriftEvent = { pipeline, model: { name: model.name, version: model.version }, feature: f.name, psi: value, psiAlert: config.psiAlert, window: this.#window, atMs: this.o.now() };
        metrics.driftEvents.inc({ pipeline, feature: f.name });
        this.o.logger.warn({ feature: f.name, psi: +value.toFixed(4), psiAlert: config.psiAlert, window: this.#window }, 'drift: this input no longer looks like the training data');
        this.o.onEvent?.(event);
      }
    }
  }

  /** Removes this monitor's series (the model changed; the next one starts a fresh window). */
  forget(): void {
    const { metrics, pipeline } = this.o;
    metrics.scorePsi.remove({ pipeline });
    for (const f of this.#tracked) if (f.column >= 0) metrics.featurePsi.remove({ pipeline, feature: f.name });
  }
}
