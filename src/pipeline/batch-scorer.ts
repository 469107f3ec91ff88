import type { IHeaders } from 'kafkajs';
import type { DecodedRecord } from '../codec/codec.js';
import type { PipelineConfig } from '../config/types.js';
import { StreamscoreError, errorMessage } from '../errors.js';
import type { FeatureMapper } from '../inference/features.js';
import type { OnnxModel } from '../inference/model.js';
import type { Clock } from '../observability/clock.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { type OutputRecords, type SourceRef, deadLetterMessage } from '../sink/output-records.js';
import type { PartitionSink, ScoredChunk } from '../sink/partition-sink.js';

/** One fetched record on its way through the batcher: decoded, or already known to be bad. */
export interface WorkItem {
  sink: PartitionSink;
  /** The sink's generation when the record was accepted; a rewind since makes it stale. */
  generation: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders | undefined;
  timestampMs: number;
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
 * One batch in, one chunk of output messages per input partition out: features for every
 * decodable record into one matrix, one ONNX Runtime run, then scored events, alerts and
 * dead letters in input order. Metrics are counted when a chunk commits, not before.
 */
export class BatchScorer {
  constructor(private readonly o: BatchScorerOptions) {}

  async score(items: WorkItem[], waitedMs: number): Promise<Map<PartitionSink, ScoredChunk>> {
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
    let scores: Float32Array | undefined;
    if (rows > 0) {
      const started = performance.now();
      scores = await this.infer(matrix, rows);
      metrics.inferenceMs.observe({ pipeline }, performance.now() - started);
      metrics.batchSize.observe({ pipeline }, rows);
      metrics.batchFillRatio.observe({ pipeline }, rows / this.o.maxBatchSize);
      metrics.queueWaitMs.observe({ pipeline }, waitedMs);
    }
    return this.chunks(items, rowOf, scores);
  }

  private chunks(items: WorkItem[], rowOf: Int32Array, scores: Float32Array | undefined): Map<PartitionSink, ScoredChunk> {
    const { outputs, threshold, pipeline, metrics } = this.o;
    const now = this.o.clock.now();
    type Tally = { scored: number; alerts: number; dead: Map<string, number>; eventTimes: number[] };
    const chunks = new Map<PartitionSink, ScoredChunk & Tally>();
    items.forEach((item, i) => {
      if (item.generation !== item.sink.generation) return;
      let chunk = chunks.get(item.sink);
      if (!chunk) {
        chunk = { generation: item.generation, lastOffset: 0n, messages: [], records: 0, scored: 0, alerts: 0, dead: new Map(), eventTimes: [] };
        chunks.set(item.sink, chunk);
      }
      const source: SourceRef = { topic: item.sink.topic, partition: item.sink.partition, offset: item.offset };
      const row = rowOf[i]!;
      if (row >= 0 && scores) {
        const score = scores[row]!;
        chunk.messages.push({ topic: outputs.scored.topic, message: this.o.scoredOut.message(item.record!, item.key, score, threshold, source, now) });
        chunk.scored++;
        if (score >= threshold) {
          chunk.messages.push({ topic: outputs.alerts.topic, message: this.o.alertOut.message(item.record!, item.key, score, threshold, source, now) });
          chunk.alerts++;
        }
      } else {
        const error = item.error ?? new StreamscoreError('INFERENCE_FAILED', 'the model could not score this record');
        chunk.messages.push({ topic: outputs.deadLetter.topic, message: deadLetterMessage(pipeline, item.key, item.value, item.headers, error, source) });
        chunk.dead.set(error.code, (chunk.dead.get(error.code) ?? 0) + 1);
      }
      chunk.records++;
      chunk.eventTimes.push(item.timestampMs);
      chunk.lastOffset = BigInt(item.offset);
    });
    for (const chunk of chunks.values()) {
      chunk.onCommitted = (committedAtMs) => {
        metrics.scored.inc({ pipeline }, chunk.scored);
        if (chunk.alerts) metrics.alerts.inc({ pipeline }, chunk.alerts);
        for (const [code, n] of chunk.dead) metrics.deadLettered.inc({ pipeline, code }, n);
        for (const t of chunk.eventTimes) metrics.endToEndMs.observe({ pipeline }, committedAtMs - t);
      };
    }
    return chunks;
  }

  /** One retry, then the batch's records are dead-lettered rather than blocking the stream. */
  private async infer(matrix: Float32Array, rows: number): Promise<Float32Array | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.o.model.run(matrix, rows);
      } catch (err) {
        this.o.logger.error({ err: errorMessage(err), rows, attempt }, 'inference failed');
        if (attempt >= 2) return undefined;
      }
    }
  }
}
