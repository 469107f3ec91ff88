import path from 'node:path';
import type { RecordSchemaView } from '../codec/codec.js';
import type { PipelineConfig } from '../config/types.js';
import { StreamscoreError } from '../errors.js';
import type { ModelInfo, OnnxModel } from '../inference/model.js';
import type { Clock } from '../observability/clock.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { ScoringTarget, WorkItem } from './batch-scorer.js';
import type { ScoredChunk } from '../sink/partition-sink.js';
import { type OutputEncoderFor, type Scorer, prepareScorer, withModel } from './scoring.js';
import { type Shadow, prepareShadow, sameColumns } from './shadow.js';
import { type CandidateLoad, loadCandidate, notServing } from './candidate.js';
import { type DriftEvent, DriftMonitor } from '../inference/drift.js';
import { CANARY_BUCKETS, Canary, type CanaryRemoval, mergeChunks } from './canary.js';

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
  /** Drift events, for outputs.drift.topic. */
  onDriftEvent?: (event: DriftEvent) => void;
}

/** A model in use by batches: released once none is left after it stopped serving. */
interface InUse {
  running: number;
  drained?: () => void;
}

interface Serving extends InUse {
  scorer: Scorer;
  path: string;
  /** The config's model section it was loaded from (path resolved). */
  section: PipelineConfig['model'];
  /** Its inputs' and score's drift against its own training baseline, if it carries one. */
  drift: DriftMonitor | undefined;
}

interface ShadowServing extends InUse {
  shadow: Shadow;
  path: string;
}

interface CanaryServing extends InUse {
  canary: Canary;
}

/** A canary as the admin API shows it: its model and the share of keys it decides. */
export interface CanaryModel extends ServingModel {
  share: number;
}

export interface ShadowResult {
  shadow: ServingModel;
  warmupMs: number;
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
  #shadow: ShadowServing | undefined;
  #canary: CanaryServing | undefined;
  /** The last canary a guard took off, for the admin API. */
  #canaryRemoval: CanaryRemoval | undefined;
  #swaps: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(private readonly o: ModelSlotOptions, first: Scorer) {
    const section = { ...o.pipeline.model, path: path.resolve(o.pipeline.model.path) };
    this.#serving = { scorer: first, path: section.path, section, running: 0, drift: this.#driftFor(first) };
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
    const slot = new ModelSlot(withCache, scorer);
    if (o.pipeline.model.shadow) {
      // A shadow the config names must load at start like the model itself: a refusal fails the start.
      await slot.setShadow(o.pipeline.model.shadow).catch(async (err: unknown) => {
        await slot.close();
        throw err;
      });
    }
    return slot;
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

  get shadow(): ServingModel | undefined {
    return this.#shadow && describeModel(this.#shadow.shadow.model, this.#shadow.path);
  }

  get canary(): CanaryModel | undefined {
    const c = this.#canary?.canary;
    return c && { ...describeModel(c.scorer.model, c.path), share: c.share };
  }

  get canaryRemoval(): CanaryRemoval | undefined {
    return this.#canaryRemoval;
  }

  /**
   * Scores one batch with the models serving when the batch starts: the canary's keys with the
   * canary, the rest with the primary (which the shadow and the drift monitor watch).
   */
  async score<T extends ScoringTarget>(items: WorkItem<T>[], waitedMs: number): Promise<Map<T, ScoredChunk>> {
    const serving = this.#serving;
    const shadow = this.#shadow;
    const canary = this.#canary;
    const using = [serving, shadow, canary].filter((x) => x !== undefined);
    for (const x of using) x.running++;
    try {
      if (!canary) return await serving.scorer.scorer.score(items, waitedMs, { shadow: shadow?.shadow, drift: serving.drift });
      const mine: WorkItem<T>[] = [];
      const theirs: WorkItem<T>[] = [];
      for (const item of items) (canary.canary.takes(item.input.key) ? theirs : mine).push(item);
      const primary = mine.length ? await serving.scorer.scorer.score(mine, waitedMs, { shadow: shadow?.shadow, drift: serving.drift }) : new Map<T, ScoredChunk>();
      const candidate = theirs.length ? await canary.canary.scorer.scorer.score(theirs, waitedMs) : new Map<T, ScoredChunk>();
      const breach = canary.canary.observe(primary.values(), candidate.values(), this.o.pipeline.outputs, this.o.clock.now());
      if (breach && this.#canary === canary) this.#removeCanary(canary, breach);
      for (const [sink, chunk] of candidate) {
        const other = primary.get(sink);
        primary.set(sink, other ? mergeChunks(other, chunk) : chunk);
      }
      return primary;
    } finally {
      for (const x of using) if (--x.running === 0) x.drained?.();
    }
  }

  /**
   * Loads, checks and warms up the model at `file` exactly as a swap would, then has it decide
   * `share` of the keys (0 < share ≤ 1) from the next batch on, replacing any canary.
   */
  setCanary(file: string, share: number): Promise<{ canary: CanaryModel; warmupMs: number }> {
    return this.#queue(async () => {
      const { pipeline, metrics } = this.o;
      if (!(share >= 1 / CANARY_BUCKETS && share <= 1)) throw new StreamscoreError('ADMIN_BAD_REQUEST', `share must be in [${1 / CANARY_BUCKETS}, 1], e.g. 0.05; got ${share}`);
      const resolved = path.resolve(file);
      const scorer = await loadCandidate(this.#candidate(resolved, 'canary'), () => prepareScorer(withModel(pipeline, resolved), this.o.schema, this.o.encoderFor, this.o, this.o.logger), (x) => x.model);
      const previous = this.#canary;
      this.#canary = { canary: new Canary(scorer, resolved, share, { pipeline: pipeline.name, guards: pipeline.canary, metrics, logger: scorer.log }), running: 0 };
      metrics.canaryShare.set({ pipeline: pipeline.name }, share);
      scorer.log.info({ share, path: resolved }, 'canary set');
      if (previous) await releaseWhenIdle(previous, previous.canary.scorer.model);
      return { canary: this.canary!, warmupMs: Math.round(scorer.warmUpMs) };
    });
  }

  /** Takes the canary off from the next batch on; the one removed, or undefined if there was none. */
  clearCanary(): Promise<CanaryModel | undefined> {
    return this.#queue(async () => {
      const current = this.#canary;
      if (!current) return undefined;
      const removed = this.canary;
      this.#canary = undefined;
      this.o.metrics.canaryShare.set({ pipeline: this.o.pipeline.name }, 0);
      current.canary.scorer.log.info('canary removed');
      await releaseWhenIdle(current, current.canary.scorer.model);
      return removed;
    });
  }

  /** The canary becomes the primary through the same swap (its session, already warm, is kept). */
  promoteCanary(): Promise<SwapResult> {
    return this.#queue(async () => {
      if (this.#closed) throw notServing(this.o.pipeline.name);
      const current = this.#canary;
      if (!current) throw new StreamscoreError('ADMIN_BAD_REQUEST', `pipeline '${this.o.pipeline.name}' has no canary to promote`);
      this.#canary = undefined;
      this.o.metrics.canaryShare.set({ pipeline: this.o.pipeline.name }, 0);
      // Batches running with it as a canary finish first; from then on it is the primary.
      await whenIdle(current);
      const { scorer, path: file } = current.canary;
      if (this.#closed) {
        await scorer.model.close();
        throw notServing(this.o.pipeline.name);
      }
      return this.#install(scorer, file, withModel(this.o.pipeline, file).model);
    });
  }

  /** At once, not behind a model change still loading: from the next batch on, its keys go to the primary. */
  #removeCanary(current: CanaryServing, removal: CanaryRemoval): void {
    this.#canary = undefined;
    this.#canaryRemoval = removal;
    const { metrics, pipeline } = this.o;
    metrics.canaryShare.set({ pipeline: pipeline.name }, 0);
    metrics.canaryRemovals.inc({ pipeline: pipeline.name, reason: removal.reason });
    current.canary.scorer.log.warn({ reason: removal.reason, guard: removal.message }, 'canary removed by its guard');
    releaseWhenIdle(current, current.canary.scorer.model).catch((err: unknown) => this.o.logger.error({ err }, 'releasing the removed canary failed'));
  }

  /** Loads, checks and warms up a shadow model, then has it score every batch from the next one on (replacing any shadow). */
  setShadow(file: string): Promise<ShadowResult> {
    return this.#queue(async () => {
      const resolved = path.resolve(file);
      const shadow = await loadCandidate(this.#candidate(resolved, 'shadow'),
        () => prepareShadow(resolved, { pipeline: this.o.pipeline, primaryColumns: this.info.featureNames, encoderFor: this.o.encoderFor, metrics: this.o.metrics, logger: this.o.logger }), (x) => x.model);
      const previous = this.#shadow;
      this.#shadow = { shadow, path: resolved, running: 0 };
      this.o.metrics.shadowAgreementRatio.remove({ pipeline: this.o.pipeline.name });
      this.o.logger.info({ shadowModel: shadow.model.info.name, shadowVersion: shadow.model.info.version, path: resolved }, 'shadow model set');
      if (previous) await releaseWhenIdle(previous, previous.shadow.model);
      return { shadow: describeModel(shadow.model, resolved), warmupMs: Math.round(shadow.warmUpMs) };
    });
  }

  /** Stops shadow scoring from the next batch on; the removed shadow, or undefined if there was none. */
  clearShadow(): Promise<ServingModel | undefined> {
    return this.#queue(async () => {
      const previous = this.#shadow;
      if (!previous) return undefined;
      this.#shadow = undefined;
      this.o.metrics.shadowAgreementRatio.remove({ pipeline: this.o.pipeline.name });
      this.o.logger.info({ shadowModel: previous.shadow.model.info.name, shadowVersion: previous.shadow.model.info.version }, 'shadow model removed');
      await releaseWhenIdle(previous, previous.shadow.model);
      return describeModel(previous.shadow.model, previous.path);
    });
  }

  /** Model changes run one at a time, in the order asked. */
  #queue<R>(change: () => Promise<R>): Promise<R> {
    const next = this.#swaps.then(change);
    this.#swaps = next.catch(() => {});
    return next;
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
    return this.#queue(() => this.#swap(file, section));
  }

  async #swap(file: string, section: PipelineConfig['model'] | undefined): Promise<SwapResult> {
    const { pipeline, metrics } = this.o;
    const resolved = path.resolve(file);
    const cfg = section ? { ...pipeline, model: { ...section, path: resolved } } : withModel(pipeline, resolved);
    const candidate = await loadCandidate({
      ...this.#candidate(resolved, 'model'),
      onRefused: (refused) => metrics.modelSwaps.inc({ pipeline: pipeline.name, result: refused.code === 'MODEL_MISMATCH' ? 'mismatch' : refused.code === 'MODEL_LOAD_FAILED' ? 'load_failed' : 'failed' }),
    }, () => prepareScorer(cfg, this.o.schema, this.o.encoderFor, this.o, this.o.logger), (x) => x.model);
    return this.#install(candidate, resolved, cfg.model);
  }

  /** Makes a loaded, checked and warmed-up scorer the primary, between two batches. */
  async #install(candidate: Scorer, resolved: string, section: PipelineConfig['model']): Promise<SwapResult> {
    const { pipeline, metrics } = this.o;
    const previous = this.#serving;
    this.#serving = { scorer: candidate, path: resolved, section, running: 0, drift: this.#driftFor(candidate) };
    previous.drift?.forget();
    this.#markServing(previous.scorer.model.info, candidate.model.info);
    metrics.modelSwaps.inc({ pipeline: pipeline.name, result: 'swapped' });
    candidate.log.info({ previous: `${previous.scorer.model.info.name} ${previous.scorer.model.info.version}`, path: resolved, warmupMs: Math.round(candidate.warmUpMs) }, 'model swapped');
    const shadow = this.#shadow;
    if (shadow && !sameColumns(shadow.shadow.model.info.featureNames, candidate.model.info.featureNames)) {
      // The shadow scores the primary's rows; with other columns it cannot go on.
      this.#shadow = undefined;
      this.o.logger.warn({ shadowModel: shadow.shadow.model.info.name, shadowVersion: shadow.shadow.model.info.version }, 'shadow model removed: the new primary takes other feature columns');
      await releaseWhenIdle(shadow, shadow.shadow.model);
    }
    await releaseWhenIdle(previous, previous.scorer.model);
    return { previous: describe(previous), current: describe(this.#serving), warmupMs: Math.round(candidate.warmUpMs) };
  }

  #candidate(file: string, role: string): CandidateLoad {
    return { pipeline: this.o.pipeline.name, file, role, logger: this.o.logger, closed: () => this.#closed };
  }

  #driftFor(scorer: Scorer): DriftMonitor | undefined {
    const { info } = scorer.model;
    return DriftMonitor.for({
      pipeline: this.o.pipeline.name, model: info, baselineProblem: info.baselineProblem, config: this.o.pipeline.drift,
      metrics: this.o.metrics, logger: scorer.log, now: () => this.o.clock.now(), onEvent: this.o.onDriftEvent,
    });
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
    const shadow = this.#shadow;
    const canary = this.#canary;
    this.#shadow = undefined;
    this.#canary = undefined;
    await Promise.all([
      releaseWhenIdle(this.#serving, this.#serving.scorer.model),
      shadow && releaseWhenIdle(shadow, shadow.shadow.model),
      canary && releaseWhenIdle(canary, canary.canary.scorer.model),
    ]);
  }
}

function whenIdle(x: InUse): Promise<void> {
  return x.running > 0 ? new Promise<void>((resolve) => { x.drained = resolve; }) : Promise.resolve();
}

/** Releases a model's ONNX Runtime session once no batch is running with it. */
async function releaseWhenIdle(inUse: InUse, model: OnnxModel): Promise<void> {
  await whenIdle(inUse);
  await model.close();
}

function describe(s: Serving): ServingModel {
  return describeModel(s.scorer.model, s.path);
}

function describeModel(model: OnnxModel, file: string): ServingModel {
  const { name, version, executionProvider } = model.info;
  return { name, version, path: file, executionProvider };
}
