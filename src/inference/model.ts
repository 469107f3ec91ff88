import fs from 'node:fs/promises';
import ort from 'onnxruntime-node';
import type { Logger } from 'pino';
import type { ExecutionProvider, PipelineConfig } from '../config/types.js';
import { StreamscoreError } from '../errors.js';
import { type TrainingBaseline, parseOnnxMetadata, parseTrainingBaseline } from './onnx-metadata.js';

/** ONNX's own protobuf limit: no valid model file is larger. */
const MAX_MODEL_BYTES = 2 ** 31 - 1;

export interface ModelInfo {
  name: string;
  version: string;
  /** The execution provider the session actually runs on. */
  executionProvider: ExecutionProvider;
  /** Feature columns in the order the model takes them. */
  featureNames: string[];
  /** The model's own alert threshold (metadata `alert_threshold`), if it declares one. */
  threshold?: number;
  /** The training distribution of each input and of the score (metadata `training_baseline`), for drift. */
  baseline?: TrainingBaseline;
  /** Why a `training_baseline` the model carries could not be read (drift is then unavailable). */
  baselineProblem?: string;
}

/**
 * One ONNX Runtime session. Inputs: either one float32 [N, F] tensor whose columns are named
 * by the `feature_names` metadata, or one float32 [N] / [N, 1] input per feature (the
 * input names are the feature names). Output: `score` (or the only output), N floats.
 */
export class OnnxModel {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly info: ModelInfo,
    private readonly matrixInput: string | undefined,
    private readonly scoreOutput: string,
  ) {}

  /**
   * Reads the file without blocking the event loop (a hot swap loads while records flow).
   * ONNX Runtime's own session creation is a synchronous native call: short for models of
   * this size, and the reason a model file is capped.
   */
  static async load(cfg: PipelineConfig['model'], logger: Logger): Promise<OnnxModel> {
    let bytes: Buffer;
    let metadata;
    try {
      // Only a regular file of sane size: a FIFO or /dev/zero would wait or fill memory forever.
      const stat = await fs.stat(cfg.path);
      if (!stat.isFile()) throw new Error('not a regular file');
      if (stat.size > MAX_MODEL_BYTES) throw new Error(`${stat.size} bytes, over the ${MAX_MODEL_BYTES} a model may have`);
      bytes = await fs.readFile(cfg.path);
      metadata = parseOnnxMetadata(bytes);
    } catch (err) {
      throw new StreamscoreError('MODEL_UNREADABLE', `cannot read ONNX model ${cfg.path}: ${(err as Error).message}`);
    }
    const failures: string[] = [];
    for (const provider of cfg.executionProviders) {
      try {
        const session = await ort.InferenceSession.create(bytes, {
          executionProviders: [provider],
          intraOpNumThreads: cfg.intraOpThreads,
          interOpNumThreads: 1,
          graphOptimizationLevel: 'all',
        });
        try {
          return OnnxModel.fromSession(session, cfg, metadata.props, provider);
        } catch (err) {
          // A model of the wrong shape is refused; its native session must not outlive the refusal.
          await session.release();
          throw err;
        }
      } catch (err) {
        if (err instanceof StreamscoreError) throw err;
        failures.push(`${provider}: ${(err as Error).message.split('\n')[0]}`);
        logger.warn({ provider, err: (err as Error).message }, 'execution provider unavailable, trying the next');
      }
    }
    throw new StreamscoreError('MODEL_NO_PROVIDER', `no execution provider could load ${cfg.path}:\n  ${failures.join('\n  ')}`);
  }

  private static fromSession(session: ort.InferenceSession, cfg: PipelineConfig['model'], props: Record<string, string>, provider: ExecutionProvider): OnnxModel {
    const inputs = session.inputMetadata;
    const scoreOutput = session.outputNames.includes('score') ? 'score' : session.outputNames.length === 1 ? session.outputNames[0]! : undefined;
    if (!scoreOutput) throw new StreamscoreError('MODEL_BAD_OUTPUTS', `${cfg.path}: expected an output named 'score' (or a single output); found ${session.outputNames.join(', ')}`);
    for (const input of inputs) {
      if (!input.isTensor || input.type !== 'float32') throw new StreamscoreError('MODEL_BAD_INPUTS', `${cfg.path}: input '${input.name}' must be a float32 tensor`);
    }
    let featureNames: string[];
    let matrixInput: string | undefined;
    const declared = props.feature_names?.split(',').map((s) => s.trim()).filter(Boolean);
    if (inputs.length === 1 && declared?.length) {
      const shape = (inputs[0] as { shape: readonly (number | string)[] }).shape;
      const width = shape[1];
      if (shape.length !== 2 || (typeof width === 'number' && width !== declared.length)) {
        throw new StreamscoreError('MODEL_BAD_INPUTS', `${cfg.path}: input '${inputs[0]!.name}' has shape [${shape.join(', ')}] but feature_names lists ${declared.length} columns`);
      }
      featureNames = declared;
      matrixInput = inputs[0]!.name;
    } else if (inputs.length > 1 || !declared?.length) {
      featureNames = inputs.map((i) => i.name);
    } else {
      throw new StreamscoreError('MODEL_BAD_INPUTS', `${cfg.path}: cannot tell the feature order`);
    }
    const threshold = props.alert_threshold !== undefined ? Number(props.alert_threshold) : undefined;
    let baseline: TrainingBaseline | undefined;
    let baselineProblem: string | undefined;
    try {
      baseline = parseTrainingBaseline(props);
    } catch (err) {
      baselineProblem = (err as Error).message;
    }
    return new OnnxModel(session, {
      name: cfg.name ?? props.model_name ?? cfg.path.split('/').pop()!.replace(/\.onnx$/, ''),
      version: cfg.version ?? props.model_version ?? '0',
      executionProvider: provider,
      featureNames,
      threshold: threshold !== undefined && Number.isFinite(threshold) ? threshold : undefined,
      baseline, baselineProblem,
    }, matrixInput, scoreOutput);
  }

  /** Scores `rows` rows held row-major in `features` (rows × featureNames.length). */
  async run(features: Float32Array, rows: number): Promise<Float32Array> {
    const width = this.info.featureNames.length;
    const feeds: Record<string, ort.Tensor> = {};
    if (this.matrixInput) {
      feeds[this.matrixInput] = new ort.Tensor('float32', features.subarray(0, rows * width), [rows, width]);
    } else {
      this.info.featureNames.forEach((name, col) => {
        const column = new Float32Array(rows);
        for (let r = 0; r < rows; r++) column[r] = features[r * width + col]!;
        feeds[name] = new ort.Tensor('float32', column, [rows, 1]);
      });
    }
    const out = await this.session.run(feeds, [this.scoreOutput]);
    const scores = out[this.scoreOutput]!.data as Float32Array;
    if (scores.length !== rows) throw new StreamscoreError('MODEL_BAD_OUTPUTS', `model returned ${scores.length} scores for ${rows} rows`);
    return scores;
  }

  /** Runs each batch size once so the first real batch does not pay for allocation. */
  async warmUp(batchSizes: number[]): Promise<void> {
    const width = this.info.featureNames.length;
    for (const size of batchSizes) await this.run(new Float32Array(size * width), size);
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
