import type { OutputEncoder } from '../codec/codec.js';
import type { PipelineConfig } from '../config/types.js';
import { StreamscoreError, errorMessage } from '../errors.js';
import { OnnxModel } from '../inference/model.js';
import type { OutgoingRecord } from '../kafka/records.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { HEADER, type SourceRef } from '../sink/output-records.js';
import { type OutputEncoderFor, warmUpModel, warmUpSizes, withModel } from './scoring.js';

export interface ShadowOptions {
  pipeline: string;
  /** Time its warm-up runs took. */
  warmUpMs: number;
  model: OnnxModel;
  /** The shadow's own alert threshold (its metadata), else the pipeline's. */
  threshold: number;
  encoder: OutputEncoder;
  topic: string;
  metrics: Metrics;
  logger: Logger;
}

/** What one scored input's shadow comparison adds to its chunk. */
export interface ShadowComparison {
  record: OutgoingRecord;
  agree: boolean;
  /** |shadow score − primary score| */
  difference: number;
}

/**
 * A candidate model scoring the primary's feature rows, batch by batch. It never alerts and
 * never dead-letters: its results only go to the shadow topic, and a failing run is counted and
 * logged (once per failing streak) while the primary outputs go on unchanged.
 */
export class Shadow {
  #failing = false;
  #compared = 0;
  #agreed = 0;

  constructor(private readonly o: ShadowOptions) {}

  get model(): OnnxModel {
    return this.o.model;
  }

  get warmUpMs(): number {
    return this.o.warmUpMs;
  }

  /** The shadow's scores for the first `rows` rows, or undefined when its run failed. */
  async run(matrix: Float32Array, rows: number): Promise<Float32Array | undefined> {
    const { metrics, pipeline } = this.o;
    const started = performance.now();
    try {
      const scores = await this.o.model.run(matrix, rows);
      metrics.shadowInferenceMs.observe({ pipeline }, performance.now() - started);
      if (this.#failing) this.o.logger.info('shadow scoring works again');
      this.#failing = false;
      return scores;
    } catch (err) {
      metrics.shadowFailures.inc({ pipeline });
      if (!this.#failing) this.o.logger.warn({ err: errorMessage(err) }, 'shadow scoring failed: no shadow records for such batches, the primary outputs are unaffected');
      this.#failing = true;
      return undefined;
    }
  }

  compare(key: Buffer | null, source: SourceRef, primary: { score: number; threshold: number; model: { name: string; version: string } }, shadowScore: number, nowMs: number): ShadowComparison {
    const info = this.o.model.info;
    const primaryAlert = primary.score >= primary.threshold;
    const shadowAlert = shadowScore >= this.o.threshold;
    const agree = primaryAlert === shadowAlert;
    const value = this.o.encoder.encode({
      source: { topic: source.topic, partition: source.partition, offset: Number(source.offset) },
      primaryScore: primary.score, shadowScore,
      primaryModel: primary.model, shadowModel: { name: info.name, version: info.version },
      primaryThreshold: primary.threshold, shadowThreshold: this.o.threshold,
      primaryAlert, shadowAlert, agree, scoredAt: nowMs,
    });
    const record: OutgoingRecord = {
      topic: this.o.topic, key, value,
      headers: { [HEADER.modelName]: info.name, [HEADER.modelVersion]: info.version, [HEADER.source]: `${source.topic}/${source.partition}/${source.offset}` },
    };
    return { record, agree, difference: Math.abs(shadowScore - primary.score) };
  }

  /** Counts a committed chunk's comparisons: the metrics say what the shadow topic holds. */
  committed(compared: number, agreed: number, differences: number[]): void {
    const { metrics, pipeline } = this.o;
    this.#compared += compared;
    this.#agreed += agreed;
    metrics.shadowCompared.inc({ pipeline }, compared);
    metrics.shadowAgreed.inc({ pipeline }, agreed);
    // A shadow that answers NaN still gets its record (it disagrees); the histogram takes numbers only.
    for (const d of differences) if (Number.isFinite(d)) metrics.shadowScoreDifference.observe({ pipeline }, d);
    if (this.#compared) metrics.shadowAgreementRatio.set({ pipeline }, this.#agreed / this.#compared);
  }
}

/** Whether two models take the same feature columns in the same order (a shadow scores the primary's rows). */
export function sameColumns(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((column, i) => column === b[i]);
}

export interface PrepareShadowOptions {
  pipeline: PipelineConfig;
  /** The primary's feature columns: the shadow scores the very same rows, so it must take them. */
  primaryColumns: readonly string[];
  encoderFor: OutputEncoderFor;
  metrics: Metrics;
  logger: Logger;
}

/** Loads, checks and warms up a shadow model; any failure releases it and says why, coded as a start would. */
export async function prepareShadow(file: string, o: PrepareShadowOptions): Promise<Shadow> {
  const { pipeline } = o;
  const out = pipeline.outputs.shadow;
  if (!out) throw new StreamscoreError('ADMIN_BAD_REQUEST', `pipeline '${pipeline.name}' has no outputs.shadow.topic: set one in the config to run a shadow model`);
  const model = await OnnxModel.load(withModel(pipeline, file).model, o.logger);
  try {
    const columns = model.info.featureNames;
    if (!sameColumns(columns, o.primaryColumns)) {
      throw new StreamscoreError('FEATURES_MISMATCH', `a shadow scores the primary's feature rows:\n  - the shadow takes ${columns.join(', ')}\n  - the primary's rows are ${o.primaryColumns.join(', ')}`);
    }
    const threshold = model.info.threshold ?? pipeline.outputs.alerts.threshold;
    if (threshold === undefined) throw new StreamscoreError('CONFIG_INVALID', `${file}: the model declares no alert_threshold and the pipeline sets none`);
    const warmUpMs = await warmUpModel(model, warmUpSizes(pipeline), file);
    const encoder = await o.encoderFor(out);
    const logger = o.logger.child({ shadowModel: model.info.name, shadowVersion: model.info.version });
    return new Shadow({ pipeline: pipeline.name, model, threshold, encoder, topic: out.topic, metrics: o.metrics, logger, warmUpMs });
  } catch (err) {
    await model.close();
    throw err;
  }
}
