import type { DecodedRecord } from '../codec/codec.js';
import type { PipelineConfig } from '../config/types.js';
import { StreamscoreError, errorMessage } from '../errors.js';
import type { FeatureMapper } from '../inference/features.js';
import type { OnnxModel } from '../inference/model.js';
import type { ConsumedRecord, TopicPartition } from '../kafka/records.js';
import type { Clock } from '../observability/clock.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { type OutputRecords, type SourceRef, deadLetterRecord } from '../sink/output-records.js';
import type { ScoredChunk } from '../sink/partition-sink.js';
import type { DriftMonitor } from '../inference/drift.js';
import type { Shadow } from './shadow.js';

/** What else watches a batch's feature rows: a shadow model scoring them, a drift monitor counting them. */
export interface BatchObservers {
  shadow?: Shadow;
  drift?: DriftMonitor;
}

/** Where a record's output goes: a live partition's sink, a replay's partition, a file. */
export interface ScoringTarget {
  readonly tp: TopicPartition;
  /** Bumped by a rewind: items accepted under an older generation are stale. */
  readonly generation: number;
}

/** One fetched record on its way through the batcher: decoded, or already known to be bad. */
export interface WorkItem<T extends ScoringTarget = ScoringTarget> {
  sink: T;
  /** The sink's generation when the record was accepted; a rewind since makes it stale. */
  generation: number;
  input: ConsumedRecord;
  record?: DecodedRecord;
  error?: StreamscoreError;
}

export interface BatchScorerOptions {
  pipeline: string;
  mapper: FeatureMapper;
  model: OnnxModel;
  scoredOut: OutputRecords;
  alertOut: OutputRecords;
  threshold: number;
  outputs: PipelineConfig['outputs'];
  maxBatchSize: number;
  metrics: Metrics;
  clock: Clock;
  logger: Logger;
}

/**
 * One batch in, one chunk of output records per input partition out: features for every
 * decodable record into one matrix, one ONNX Runtime run, then scored events, alerts and
 * dead letters in input order. Metrics are counted when a chunk commits, not before.
 */
export class BatchScorer {
  constructor(private readonly o: BatchScorerOptions) {}

  /** With a `shadow`, it scores the same feature rows and a shadow record joins each scored one in its chunk. */
  async score<T extends ScoringTarget>(items: WorkItem<T>[], waitedMs: number, { shadow, drift }: BatchObservers = {}): Promise<Map<T, ScoredChunk>> {
    const { mapper, metrics, pipeline } = this.o;
    const matrix = new Float32Array(items.length * mapper.width);
    const rowOf = new Int32Array(items.length).fill(-1);
    let rows = 0;
    items.forEach((item, i) => {
      if (!item.record) return;
      const err = mapper.fill(item.record, matrix, rows);
      if (err) item.error = err;
      else rowOf[i] = rows++;
    });
    const scores = new Float32Array(rows).fill(Number.NaN);
    let shadowScores: Float32Array | undefined;
    if (rows > 0) {
      const started = performance.now();
      await this.infer(matrix, 0, rows, scores);
      metrics.inferenceMs.observe({ pipeline }, performance.now() - started);
      metrics.batchSize.observe({ pipeline }, rows);
      metrics.batchFillRatio.observe({ pipeline }, rows / this.o.maxBatchSize);
      metrics.queueWaitMs.observe({ pipeline }, waitedMs);
      drift?.observe(matrix, rows, scores);
      shadowScores = await shadow?.run(matrix, rows);
    }
    return this.chunks(items, rowOf, scores, shadowScores ? { shadow: shadow!, scores: shadowScores } : undefined);
  }

  private chunks<T extends ScoringTarget>(items: WorkItem<T>[], rowOf: Int32Array, scores: Float32Array, shadowed?: { shadow: Shadow; scores: Float32Array }): Map<T, ScoredChunk> {
    const { outputs, threshold, pipeline, metrics } = this.o;
    const now = this.o.clock.now();
    const model = shadowed && { name: this.o.model.info.name, version: this.o.model.info.version };
    type Tally = { scored: number; alerts: number; dead: Map<string, number>; eventTimes: number[]; compared: number; agreed: number; differences: number[] };
    const chunks = new Map<T, ScoredChunk & Tally>();
    items.forEach((item, i) => {
      if (item.generation !== item.sink.generation) return;
      let chunk = chunks.get(item.sink);
      if (!chunk) {
        chunk = { generation: item.generation, lastOffset: 0n, records: [], inputs: 0, scored: 0, alerts: 0, dead: new Map(), eventTimes: [], compared: 0, agreed: 0, differences: [] };
        chunks.set(item.sink, chunk);
      }
      const { input } = item;
      const source: SourceRef = { topic: item.sink.tp.topic, partition: item.sink.tp.partition, offset: input.offset.toString() };
      const row = rowOf[i]!;
      const score = row >= 0 ? scores[row]! : Number.NaN;
      if (!Number.isNaN(score)) {
        chunk.records.push(this.o.scoredOut.record(item.record!, input.key, score, threshold, source, now));
        chunk.scored++;
        if (score >= threshold) {
          chunk.records.push(this.o.alertOut.record(item.record!, input.key, score, threshold, source, now));
          chunk.alerts++;
        }
        if (shadowed) {
          const compared = shadowed.shadow.compare(input.key, source, { score, threshold, model: model! }, shadowed.scores[row]!, now);
          chunk.records.push(compared.record);
          chunk.compared++;
          if (compared.agree) chunk.agreed++;
          chunk.differences.push(compared.difference);
        }
      } else {
        const error = item.error ?? new StreamscoreError('INFERENCE_FAILED', 'the model could not score this record');
        chunk.records.push(deadLetterRecord(outputs.deadLetter.topic, pipeline, input.key, input.value, input.headers, error, source));
        chunk.dead.set(error.code, (chunk.dead.get(error.code) ?? 0) + 1);
      }
      chunk.inputs++;
      chunk.eventTimes.push(input.timestampMs);
      chunk.lastOffset = input.offset;
    });
    for (const chunk of chunks.values()) {
      chunk.onCommitted = (committedAtMs) => {
        metrics.scored.inc({ pipeline }, chunk.scored);
        if (chunk.alerts) metrics.alerts.inc({ pipeline }, chunk.alerts);
        for (const [code, n] of chunk.dead) metrics.deadLettered.inc({ pipeline, code }, n);
        for (const t of chunk.eventTimes) metrics.endToEndMs.observe({ pipeline }, committedAtMs - t);
        if (chunk.compared) shadowed!.shadow.committed(chunk.compared, chunk.agreed, chunk.differences);
      };
    }
    return chunks;
  }

  /**
   * Scores rows [from, from + count). A run that fails is split in halves until the rows
   * that fail on their own are found: only those are dead-lettered (their score stays NaN),
   * the rest of the batch is scored.
   */
  private async infer(matrix: Float32Array, from: number, count: number, scores: Float32Array): Promise<void> {
    const width = this.o.mapper.width;
    try {
      const out = await this.o.model.run(matrix.subarray(from * width, (from + count) * width), count);
      scores.set(out.subarray(0, count), from);
    } catch (err) {
      if (count === 1) {
        this.o.logger.debug({ err: errorMessage(err), row: from }, 'inference failed for one record; dead-lettering it');
        return;
      }
      const half = Math.ceil(count / 2);
      await this.infer(matrix, from, half, scores);
      await this.infer(matrix, from + half, count - half, scores);
    }
  }
}
