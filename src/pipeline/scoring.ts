import { AvroInputCodec, AvroOutputEncoder } from '../codec/avro-codec.js';
import type { InputCodec, OutputEncoder } from '../codec/codec.js';
import { JsonInputCodec, JsonOutputEncoder } from '../codec/json-codec.js';
import type { SchemaRegistryClient } from '../codec/schema-registry.js';
import type { PipelineConfig } from '../config/types.js';
import { StreamscoreError } from '../errors.js';
import { FeatureMapper } from '../inference/features.js';
import { OnnxModel } from '../inference/model.js';
import type { Clock } from '../observability/clock.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { OutputRecords, unfillableOutputFields } from '../sink/output-records.js';
import { BatchScorer } from './batch-scorer.js';

export interface Scoring {
  codec: InputCodec;
  model: OnnxModel;
  scorer: BatchScorer;
  /** The pipeline's logger with the model's name and version in context. */
  log: Logger;
}

async function encoder(cfg: PipelineConfig, registry: SchemaRegistryClient | undefined, topic: string, schemaFile: string | undefined): Promise<OutputEncoder> {
  if (!schemaFile) return new JsonOutputEncoder();
  if (!registry) throw new StreamscoreError('CONFIG_INVALID', `pipeline '${cfg.name}': an output schema needs schemaRegistry`);
  return AvroOutputEncoder.register(registry, topic, schemaFile);
}

/**
 * Model, features, codecs and output schemas: everything checked before the pipeline touches
 * Kafka's group, so a bad model or mapping fails the start with every problem listed.
 */
export async function prepareScoring(cfg: PipelineConfig, deps: { registry?: SchemaRegistryClient; metrics: Metrics; clock: Clock }, log: Logger): Promise<Scoring> {
  let codec: InputCodec;
  if (cfg.codec === 'avro') {
    if (!deps.registry || !cfg.readerSchema) throw new StreamscoreError('CONFIG_INVALID', `pipeline '${cfg.name}': the avro codec needs schemaRegistry and readerSchema`);
    codec = new AvroInputCodec(deps.registry, cfg.readerSchema);
  } else {
    codec = new JsonInputCodec();
  }
  const model = await OnnxModel.load(cfg.model, log);
  try {
    const mapper = FeatureMapper.build(model.info.featureNames, cfg.features, codec, cfg.name);
    const threshold = cfg.outputs.alerts.threshold ?? model.info.threshold;
    if (threshold === undefined) throw new StreamscoreError('CONFIG_INVALID', `pipeline '${cfg.name}': set outputs.alerts.threshold (the model declares no alert_threshold)`);
    const scoredEncoder = await encoder(cfg, deps.registry, cfg.outputs.scored.topic, cfg.outputs.scored.schema);
    const alertEncoder = await encoder(cfg, deps.registry, cfg.outputs.alerts.topic, cfg.outputs.alerts.schema);
    const unfillable = [
      ...unfillableOutputFields(scoredEncoder, codec).map((f) => `${cfg.outputs.scored.schema}: ${f}`),
      ...unfillableOutputFields(alertEncoder, codec).map((f) => `${cfg.outputs.alerts.schema}: ${f}`),
    ];
    if (unfillable.length) throw new StreamscoreError('OUTPUT_SCHEMA_MISMATCH', `pipeline '${cfg.name}': output fields with no default that the input does not carry: ${unfillable.join(', ')}`);
    const sizes = [...new Set([1, ...cfg.batching.preferredBatchSizes, cfg.batching.maxBatchSize])];
    await model.warmUp(sizes);
    const info = model.info;
    const modelLog = log.child({ model: info.name, modelVersion: info.version });
    deps.metrics.modelInfo.set({ pipeline: cfg.name, model: info.name, version: info.version, execution_provider: info.executionProvider }, 1);
    modelLog.info({ executionProvider: info.executionProvider, features: info.featureNames.length, threshold, warmUpBatchSizes: sizes }, 'model loaded');
    const scorer = new BatchScorer({
      pipeline: cfg.name, mapper, model, threshold, outputs: cfg.outputs,
      scoredOut: new OutputRecords(scoredEncoder, info, cfg.outputs.scored.topic),
      alertOut: new OutputRecords(alertEncoder, info, cfg.outputs.alerts.topic),
      maxBatchSize: cfg.batching.maxBatchSize, metrics: deps.metrics, clock: deps.clock, logger: modelLog,
    });
    return { codec, model, scorer, log: modelLog };
  } catch (err) {
    await model.close();
    throw err;
  }
}
