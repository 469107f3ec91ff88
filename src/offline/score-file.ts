import { Registry } from 'prom-client';
import { AvroReader } from '../codec/avro-reader.js';
import type { RecordSchemaView } from '../codec/codec.js';
import { JsonInputCodec } from '../codec/json-codec.js';
import type { PipelineConfig } from '../config/types.js';
import { systemClock } from '../observability/clock.js';
import type { Logger } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import type { BatchScorer, ScoringTarget, WorkItem } from '../pipeline/batch-scorer.js';
import { prepareScorer, withModel } from '../pipeline/scoring.js';
import { HEADER } from '../sink/output-records.js';
import { type RowSource, type SourceRow, openEventFile } from './event-source.js';
import { JsonLinesOutputEncoder, ScoreFileWriter } from './score-output.js';

export interface ScoreFileOptions {
  pipeline: PipelineConfig;
  input: string;
  output: string;
  /** Another model than the pipeline's (`--model`). */
  modelPath?: string;
  logger: Logger;
  onProgress?: (p: ScoreFileProgress) => void;
}

export interface ScoreFileProgress {
  rows: number;
  bytesDone: number;
  sizeBytes: number;
  /** Since the first batch was read. */
  elapsedMs: number;
}

export interface ScoreFileSummary {
  input: string;
  format: 'jsonl' | 'avro';
  pipeline: string;
  model: { name: string; version: string; path: string };
  threshold: number;
  output: string;
  errorsFile: string;
  rows: number;
  scored: number;
  alerts: number;
  errors: number;
  errorsByCode: Record<string, number>;
  seconds: number;
  rowsPerSecond: number;
}

const NEWLINE = Buffer.from('\n');

/**
 * `streamscore score`: a file of events through the live pipeline's scoring (prepareScorer:
 * the same model, features, threshold and BatchScorer), in batches of the pipeline's
 * maxBatchSize, without Kafka or a registry. Scored rows go to the output as JSON lines;
 * rows the live pipeline would dead-letter go to `<output>.errors.jsonl` with the same code
 * and reason. While a batch is in ONNX Runtime the next one is read and decoded.
 */
export async function scoreFile(opts: ScoreFileOptions): Promise<ScoreFileSummary> {
  const cfg = opts.modelPath ? withModel(opts.pipeline, opts.modelPath) : opts.pipeline;
  const started = performance.now();
  const source = await openEventFile(opts.input, cfg);
  try {
    // Features see the records as the live pipeline's codec does: the reader schema's fields
    // (enum symbols) for an avro pipeline, nothing up front for a json one.
    const schema: RecordSchemaView = cfg.codec === 'avro' && cfg.readerSchema ? AvroReader.fromFile(cfg.readerSchema) : new JsonInputCodec();
    const prepared = await prepareScorer(cfg, schema, async (o) => new JsonLinesOutputEncoder(o.schema, source.positionName),
      { metrics: new Metrics(new Registry()), clock: systemClock }, opts.logger);
    try {
      const writer = await ScoreFileWriter.open(opts.output);
      let counts: Counts;
      try {
        counts = await scoreRows(source, prepared.scorer, cfg, writer, opts);
      } finally {
        await writer.close();
      }
      const seconds = (performance.now() - started) / 1000;
      const info = prepared.model.info;
      return {
        input: opts.input, format: source.format, pipeline: cfg.name,
        model: { name: info.name, version: info.version, path: cfg.model.path }, threshold: prepared.threshold,
        output: opts.output, errorsFile: writer.errorsFile,
        ...counts, errors: Object.values(counts.errorsByCode).reduce((a, b) => a + b, 0),
        seconds: Math.round(seconds * 1000) / 1000, rowsPerSecond: Math.round(counts.rows / seconds),
      };
    } finally {
      await prepared.model.close();
    }
  } finally {
    await source.close();
  }
}

interface Counts {
  rows: number;
  scored: number;
  alerts: number;
  errorsByCode: Record<string, number>;
}

async function scoreRows(source: RowSource, scorer: BatchScorer, cfg: PipelineConfig, writer: ScoreFileWriter, opts: ScoreFileOptions): Promise<Counts> {
  // Progress counts from here, after the model's load and warm-up, so the first rate and ETA are not skewed by them.
  const started = performance.now();
  // BatchScorer groups its output by input partition; a file is one partition that is never rewound.
  const sink: ScoringTarget = { generation: 0, tp: { topic: opts.input, partition: 0 } };
  const work = (rows: SourceRow[]): WorkItem[] => rows.map((row) => ({
    sink, generation: 0,
    input: { offset: BigInt(row.position), key: null, value: row.raw, headers: {}, timestampMs: 0 },
    record: row.result.ok ? row.result.record : undefined,
    error: row.result.ok ? undefined : row.result.error,
  }));
  const counts: Counts = { rows: 0, scored: 0, alerts: 0, errorsByCode: {} };
  const batch = cfg.batching.maxBatchSize;
  let rows = await source.next(batch);
  while (rows.length) {
    const scoring = scorer.score(work(rows), 0);
    const upcoming = source.next(batch);
    upcoming.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
    const chunk = [...(await scoring).values()][0];
    const scored: Buffer[] = [];
    const errors: string[] = [];
    for (const out of chunk?.records ?? []) {
      if (out.topic === cfg.outputs.scored.topic) {
        scored.push(out.value!, NEWLINE);
        counts.scored++;
      } else if (out.topic === cfg.outputs.alerts.topic) {
        counts.alerts++;
      } else {
        const code = String(out.headers![HEADER.errorCode]);
        const position = Number(out.headers![HEADER.sourceOffset]);
        counts.errorsByCode[code] = (counts.errorsByCode[code] ?? 0) + 1;
        errors.push(`${JSON.stringify(errorLine(source, opts.input, position, code, String(out.headers![HEADER.errorMessage]), out.value))}\n`);
      }
    }
    counts.rows += rows.length;
    await writer.write(scored, errors);
    opts.onProgress?.({ rows: counts.rows, bytesDone: source.bytesDone, sizeBytes: source.sizeBytes, elapsedMs: performance.now() - started });
    rows = await upcoming;
  }
  return counts;
}

/** One row that did not score: where, the dead-letter code and reason, and the row as it was. */
function errorLine(source: RowSource, file: string, position: number, code: string, reason: string, raw: Buffer | null): Record<string, unknown> {
  const line: Record<string, unknown> = { source: { file, [source.positionName]: position }, code, reason };
  if (raw) {
    if (source.format === 'jsonl') line.value = raw.toString('utf8');
    else line.valueBase64 = raw.toString('base64');
  }
  return line;
}
