import { AvroInputCodec, AvroOutputEncoder } from '../codec/avro-codec.js';
import type { InputCodec, OutputEncoder, RecordSchemaView } from '../codec/codec.js';
import { JsonInputCodec, JsonOutputEncoder } from '../codec/json-codec.js';
import type { SchemaRegistryClient } from '../codec/schema-registry.js';
import type { PipelineConfig } from '../config/types.js';
import { StreamscoreError, errorMessage } from '../errors.js';
import { FeatureMapper } from '../inference/features.js';
import { OnnxModel } from '../inference/model.js';
import type { Clock } from '../observability/clock.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { OutputRecords, unfillableOutputFields } from '../sink/output-records.js';
import { BatchScorer } from './batch-scorer.js';

/** The model and batch scorer of a pipeline, whatever its records come from. */
export interface Scorer {
  model: OnnxModel;
  scorer: BatchScorer;
  threshold: number;
  /** The pipeline's logger with the model's name and version in context. */
  log: Logger;
  /** Time the warm-up runs took. */
  warmUpMs: number;
}

export interface Scoring extends Scorer {
  codec: InputCodec;
}

/** One output (scored or alerts) to an encoder: registered in the registry live, JSON lines for a file. */
export type OutputEncoderFor = (output: { topic: string; schema?: string }) => Promise<OutputEncoder>;

async function encoder(cfg: PipelineConfig, registry: SchemaRegistryClient | undefined, topic: string, schemaFile: string | undefined): Promise<OutputEncoder> {
  if (!schemaFile) return new JsonOutputEncoder();
  if (!registry) throw new StreamscoreError('CONFIG_INVALID', `pipeline '${cfg.name}': an output schema needs schemaRegistry`);
  return AvroOutputEncoder.register(registry, topic, schemaFile);
}

/** The pipeline's input codec: Avro through the registry, or JSON. */
export function inputCodec(cfg: PipelineConfig, registry: SchemaRegistryClient | undefined): InputCodec {
  if (cfg.codec !== 'avro') return new JsonInputCodec();
  if (!registry || !cfg.readerSchema) throw new StreamscoreError('CONFIG_INVALID', `pipeline '${cfg.name}': the avro codec needs schemaRegistry and readerSchema`);
  return new AvroInputCodec(registry, cfg.readerSchema);
}

/** Output encoders registered in the registry (Avro) or JSON where an output has no schema. */
export function registryEncoders(cfg: PipelineConfig, registry: SchemaRegistryClient | undefined): OutputEncoderFor {
  return (o) => encoder(cfg, registry, o.topic, o.schema);
}

/**
 * Model, features, codecs and output schemas: everything checked before the pipeline touches
 * Kafka's group, so a bad model or mapping fails the start with every problem listed.
 */
export async function prepareScoring(cfg: PipelineConfig, deps: { registry?: SchemaRegistryClient; metrics: Metrics; clock: Clock }, log: Logger): Promise<Scoring> {
  const codec = inputCodec(cfg, deps.registry);
  const scorer = await prepareScorer(cfg, codec, registryEncoders(cfg, deps.registry), deps, log);
  return { codec, ...scorer };
}

/**
 * The scoring half of a pipeline, without Kafka or a registry: the model, the feature mapping
 * checked against what the records carry (`schema`), the threshold, the output checks and the
 * batch scorer. The live pipeline and `streamscore score` both go through here, so they cannot
 * score differently.
 */
export async function prepareScorer(cfg: PipelineConfig, schema: RecordSchemaView, encoderFor: OutputEncoderFor, deps: { metrics: Metrics; clock: Clock }, log: Logger): Promise<Scorer> {
  const model = await OnnxModel.load(cfg.model, log);
  try {
    const mapper = FeatureMapper.build(model.info.featureNames, cfg.features, schema, cfg.name);
    const threshold = cfg.outputs.alerts.threshold ?? model.info.threshold;
    if (threshold === undefined) throw new StreamscoreError('CONFIG_INVALID', `pipeline '${cfg.name}': set outputs.alerts.threshold (the model declares no alert_threshold)`);
    const scoredEncoder = await encoderFor(cfg.outputs.scored);
    const alertEncoder = await encoderFor(cfg.outputs.alerts);
    const unfillable = [
      ...unfillableOutputFields(scoredEncoder, schema).map((f) => `${cfg.outputs.scored.schema}: ${f}`),
      ...unfillableOutputFields(alertEncoder, schema).map((f) => `${cfg.outputs.alerts.schema}: ${f}`),
    ];
    if (unfillable.length) throw new StreamscoreError('OUTPUT_SCHEMA_MISMATCH', `pipeline '${cfg.name}': output fields with no default that the input does not carry: ${unfillable.join(', ')}`);
    const sizes = warmUpSizes(cfg);
    const warmUpMs = await warmUpModel(model, sizes, cfg.model.path);
    const info = model.info;
    const modelLog = log.child({ model: info.name, modelVersion: info.version });
    modelLog.info({ executionProvider: info.executionProvider, features: info.featureNames.length, threshold, warmUpBatchSizes: sizes }, 'model loaded');
    const scorer = new BatchScorer({
      pipeline: cfg.name, mapper, model, threshold, outputs: cfg.outputs,
      scoredOut: new OutputRecords(scoredEncoder, info, cfg.outputs.scored.topic),
      alertOut: new OutputRecords(alertEncoder, info, cfg.outputs.alerts.topic),
      maxBatchSize: cfg.batching.maxBatchSize, metrics: deps.metrics, clock: deps.clock, logger: modelLog,
    });
    return { model, scorer, threshold, log: modelLog, warmUpMs };
  } catch (err) {
    await model.close();
    throw err;
  }
}

/** The batch sizes a model is run at once before it serves, so the first real batch does not pay for allocation. */
export function warmUpSizes(cfg: PipelineConfig): number[] {
  return [...new Set([1, ...cfg.batching.preferredBatchSizes, cfg.batching.maxBatchSize])];
}

/** Runs `model` once at each of `sizes`; the milliseconds it took. */
export async function warmUpModel(model: OnnxModel, sizes: number[], file: string): Promise<number> {
  const started = performance.now();
  // A model that loads but cannot run at these batch sizes (a fixed batch dimension) cannot serve.
  await model.warmUp(sizes).catch((err: unknown) => {
    throw new StreamscoreError('MODEL_BAD_INPUTS', `${file}: a warm-up run at batch sizes ${sizes.join(', ')} failed: ${errorMessage(err).split('\n')[0]}`);
  });
  return performance.now() - started;
}

/**
 * The pipeline with another model file (`--model`): the config's name and version
 * overrides were written for its own model, so the new one's metadata names it.
 */
export function withModel(cfg: PipelineConfig, modelPath: string): PipelineConfig {
  return { ...cfg, model: { ...cfg.model, path: modelPath, name: undefined, version: undefined } };
}
