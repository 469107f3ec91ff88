import path from 'node:path';
import type { RecordSchemaView } from '../codec/codec.js';
import type { PipelineConfig } from '../config/types.js';
import { type ErrorCode, StreamscoreError, asStreamscoreError } from '../errors.js';
import type { ModelInfo } from '../inference/model.js';
import type { Clock } from '../observability/clock.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { ScoringTarget, WorkItem } from './batch-scorer.js';
import type { ScoredChunk } from '../sink/partition-sink.js';
import { type OutputEncoderFor, type Scorer, prepareScorer, withModel } from './scoring.js';

/** A model as the admin API shows it. */
export interface ServingModel {
  name: string;
  version: string;
  path: string;
  executionProvider: string;
}

export interface SwapResult {
  previous: ServingModel;
  current: ServingModel;
  /** Time spent running the candidate once at each batch size in use, before it served. */
  warmupMs: number;
}

export interface ModelSlotOptions {
  pipeline: PipelineConfig;
  /** What the records carry: a candidate's inputs are checked against it. */
  schema: RecordSchemaView;
  encoderFor: OutputEncoderFor;
  metrics: Metrics;
  clock: Clock;
  /** The pipeline's logger, without model context (each model adds its own). */
  logger: Logger;
}

interface Serving {
  scorer: Scorer;
  path: string;
  /** The config's model section it was loaded from (path resolved). */
  section: PipelineConfig['model'];
  /** Batches being scored with it; it is released once none is left after it stopped serving. */
  running: number;
  drained?: () => void;
}

/** Codes of a candidate that loads but cannot score this pipeline's records. */
const MISMATCH: ReadonlySet<ErrorCode> = new Set(['MODEL_BAD_INPUTS', 'MODEL_BAD_OUTPUTS', 'FEATURES_MISMATCH', 'OUTPUT_SCHEMA_MISMATCH', 'CONFIG_INVALID']);
/** Codes of a candidate file that is no loadable model. */
const LOAD_FAILED: ReadonlySet<ErrorCode> = new Set(['MODEL_UNREADABLE', 'MODEL_NO_PROVIDER']);

/** Each problem of a start-up check's message (its "  - …" lines), or the message itself. */
export function problemsOf(err: StreamscoreError): string[] {
  const listed = err.message.split('\n').filter((l) => l.startsWith('  - ')).map((l) => l.slice(4));
  return listed.length ? listed : [err.message];
}

/**
 * The model a pipeline scores with, and changing it while records flow. A candidate is loaded,
 * checked against the records and the feature mapping, and warmed up off to the side; then it
 * takes over between two batches (the batcher runs one at a time, and each batch holds the
 * scorer it started with), so no batch is scored by two models. The old ONNX Runtime session is
 * released once the last batch it was scoring is done: outputs carry their model's name and
 * version already, so nothing after that needs the session.
 */
export class ModelSlot {
  #serving: Serving;
  #swaps: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(private readonly o: ModelSlotOptions, first: Scorer) {
    const section = { ...o.pipeline.model, path: path.resolve(o.pipeline.model.path) };
    this.#serving = { scorer: first, path: section.path, section, running: 0 };
    this.#markServing(undefined, first.model.info);
  }

  /** Loads the configured model: a failure here fails the start with its own code. */
  static async open(o: ModelSlotOptions): Promise<ModelSlot> {
    // The output schemas do not change with the model: registered once, reused by every swap
    // (no registry call, no file read on a swap).
    const encoders = new Map<string, ReturnType<OutputEncoderFor>>();
    const encoderFor: OutputEncoderFor = (out) => {
      const key = `${out.topic}\u0000${out.schema ?? ''}`;
      let made = encoders.get(key);
      if (!made) {
        made = o.encoderFor(out);
        made.catch(() => encoders.delete(key));
        encoders.set(key, made);
      }
      return made;
    };
    const withCache = { ...o, encoderFor };
    const scorer = await prepareScorer(o.pipeline, o.schema, encoderFor, o, o.logger);
    return new ModelSlot(withCache, scorer);
  }

  get info(): ModelInfo {
    return this.#serving.scorer.model.info;
  }

  /** The serving model's logger (its name and version in context). */
  get log(): Logger {
    return this.#serving.scorer.log;
  }

  get serving(): ServingModel {
    return describe(this.#serving);
  }

  /** Scores one batch with the model serving when the batch starts. */
  async score<T extends ScoringTarget>(items: WorkItem<T>[], waitedMs: number): Promise<Map<T, ScoredChunk>> {
    const serving = this.#serving;
    serving.running++;
    try {
      return await serving.scorer.scorer.score(items, waitedMs);
    } finally {
      if (--serving.running === 0) serving.drained?.();
    }
  }

  /** The config's model section the serving model was loaded from. */
  get section(): PipelineConfig['model'] {
    return this.#serving.section;
  }

  /**
   * Loads, checks and warms up the model at `file`, then makes it the one that scores. One swap
   * at a time. With a config `section` (SIGHUP), its name, version and providers apply; a bare
   * path takes the name and version from the model's own metadata.
   */
  swap(file: string, section?: PipelineConfig['model']): Promise<SwapResult> {
    const next = this.#swaps.then(() => this.#swap(file, section));
    this.#swaps = next.catch(() => {});
    return next;
  }

  async #swap(file: string, section: PipelineConfig['model'] | undefined): Promise<SwapResult> {
    const { pipeline, metrics } = this.o;
    const resolved = path.resolve(file);
    const cfg = section ? { ...pipeline, model: { ...section, path: resolved } } : withModel(pipeline, resolved);
    let candidate: Scorer;
    if (this.#closed) throw notServing(pipeline.name);
    try {
      candidate = await prepareScorer(cfg, this.o.schema, this.o.encoderFor, this.o, this.o.logger);
    } catch (err) {
      const refused = candidateError(asStreamscoreError(err), resolved);
      metrics.modelSwaps.inc({ pipeline: pipeline.name, result: refused.code === 'MODEL_MISMATCH' ? 'mismatch' : refused.code === 'MODEL_LOAD_FAILED' ? 'load_failed' : 'failed' });
      this.o.logger.warn({ code: refused.code, path: resolved, problems: problemsOf(refused) }, 'model change refused; the serving model is unchanged');
      throw refused;
    }
    if (this.#closed) {
      // Closed while it loaded: it never serves.
      await candidate.model.close();
      throw notServing(pipeline.name);
    }
    const previous = this.#serving;
    this.#serving = { scorer: candidate, path: resolved, section: cfg.model, running: 0 };
    this.#markServing(previous.scorer.model.info, candidate.model.info);
    metrics.modelSwaps.inc({ pipeline: pipeline.name, result: 'swapped' });
    candidate.log.info({ previous: `${previous.scorer.model.info.name} ${previous.scorer.model.info.version}`, path: resolved, warmupMs: Math.round(candidate.warmUpMs) }, 'model swapped');
    await this.#release(previous);
    return { previous: describe(previous), current: describe(this.#serving), warmupMs: Math.round(candidate.warmUpMs) };
  }

  async #release(old: Serving): Promise<void> {
    if (old.running > 0) await new Promise<void>((resolve) => { old.drained = resolve; });
    await old.scorer.model.close();
  }

  #markServing(previous: ModelInfo | undefined, current: ModelInfo): void {
    const gauge = this.o.metrics.modelInfo;
    const labels = (m: ModelInfo) => ({ pipeline: this.o.pipeline.name, model: m.name, version: m.version, execution_provider: m.executionProvider });
    if (previous) gauge.remove(labels(previous));
    gauge.set(labels(current), 1);
  }

  /**
   * Releases the serving model once its batch in flight is done. A swap still loading is not
   * waited for (a slow file must not hold shutdown): it releases its candidate when it ends.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#release(this.#serving);
  }
}

function notServing(pipeline: string): StreamscoreError {
  return new StreamscoreError('PIPELINE_NOT_RUNNING', `pipeline '${pipeline}' is stopping: its model cannot change now`);
}

function describe(s: Serving): ServingModel {
  const { name, version, executionProvider } = s.scorer.model.info;
  return { name, version, path: s.path, executionProvider };
}

/** A candidate's failure in the admin API's terms: mismatch (409) or not loadable (422); anything else as it is. */
function candidateError(err: StreamscoreError, file: string): StreamscoreError {
  if (MISMATCH.has(err.code)) return new StreamscoreError('MODEL_MISMATCH', `${file} cannot score this pipeline's records:\n${problemsOf(err).map((p) => `  - ${p}`).join('\n')}`, { cause: err });
  if (LOAD_FAILED.has(err.code)) return new StreamscoreError('MODEL_LOAD_FAILED', `${file} is not a model ONNX Runtime can load here:\n${problemsOf(err).map((p) => `  - ${p}`).join('\n')}`, { cause: err });
  return err;
}
