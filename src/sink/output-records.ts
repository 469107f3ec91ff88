import type { HeaderValue, OutgoingRecord, RecordHeaders } from '../kafka/records.js';
import type { DecodedRecord, OutputEncoder, RecordSchemaView } from '../codec/codec.js';
import type { ModelInfo } from '../inference/model.js';
import type { StreamscoreError } from '../errors.js';

/** Fields streamscore fills itself; every other output field is copied from the input by name. */
const SERVICE_FIELDS = new Set(['score', 'alert', 'threshold', 'model', 'source', 'scoredAt']);

export interface SourceRef {
  topic: string;
  partition: number;
  offset: string;
}

export const HEADER = {
  modelName: 'streamscore-model',
  modelVersion: 'streamscore-model-version',
  source: 'streamscore-source',
  errorCode: 'streamscore-error-code',
  errorMessage: 'streamscore-error-message',
  sourceTopic: 'streamscore-source-topic',
  sourcePartition: 'streamscore-source-partition',
  sourceOffset: 'streamscore-source-offset',
  pipeline: 'streamscore-pipeline',
} as const;

/** Output fields without a default that neither streamscore nor the input can fill. */
export function unfillableOutputFields(encoder: OutputEncoder, codec: RecordSchemaView): string[] {
  if (!codec.hasSchema) return [];
  return encoder.fields.filter((f) => !f.hasDefault && !SERVICE_FIELDS.has(f.name) && !codec.fieldInfo(f.name)).map((f) => f.name);
}

export class OutputRecords {
  private readonly copied: string[] | undefined;
  // Refilled for every record and encoded at once (the encoder keeps nothing of it): a fresh
  // output object per record was a ninth of all the service allocated at full speed.
  readonly #out: Record<string, unknown> = {};
  readonly #source = { topic: '', partition: 0, offset: 0 };
  readonly #model: { name: string; version: string };

  constructor(private readonly encoder: OutputEncoder, private readonly model: ModelInfo, private readonly topic: string) {
    this.copied = encoder.fields.length ? encoder.fields.map((f) => f.name).filter((n) => !SERVICE_FIELDS.has(n)) : undefined;
    this.#model = { name: model.name, version: model.version };
  }

  record(input: DecodedRecord, key: Buffer | null, score: number, threshold: number, source: SourceRef, nowMs: number): OutgoingRecord {
    let out: Record<string, unknown>;
    if (this.copied) {
      out = this.#out;
      // An input without a field sets it undefined, which the encoder treats as absent (its default).
      for (const name of this.copied) out[name] = input[name];
      const s = this.#source;
      s.topic = source.topic;
      s.partition = source.partition;
      s.offset = Number(source.offset);
      out.source = s;
    } else {
      out = { ...input };
      out.source = { topic: source.topic, partition: source.partition, offset: source.offset };
    }
    out.score = score;
    out.alert = score >= threshold;
    out.threshold = threshold;
    out.model = this.#model;
    out.scoredAt = nowMs;
    return {
      topic: this.topic,
      key,
      value: this.encoder.encode(out),
      headers: {
        [HEADER.modelName]: this.model.name,
        [HEADER.modelVersion]: this.model.version,
        [HEADER.source]: `${source.topic}/${source.partition}/${source.offset}`,
      },
    };
  }
}

/** The original bytes, key and headers, plus headers that say why and where from. */
export function deadLetterRecord(topic: string, pipeline: string, key: Buffer | null, value: Buffer | null, headers: RecordHeaders, error: StreamscoreError, source: SourceRef): OutgoingRecord {
  const kept: Record<string, HeaderValue> = {};
  for (const [name, v] of Object.entries(headers)) if (v !== undefined) kept[name] = v;
  return {
    topic,
    key,
    value,
    headers: {
      ...kept,
      [HEADER.errorCode]: error.code,
      [HEADER.errorMessage]: error.message.slice(0, 1000),
      [HEADER.sourceTopic]: source.topic,
      [HEADER.sourcePartition]: String(source.partition),
      [HEADER.sourceOffset]: source.offset,
      [HEADER.pipeline]: pipeline,
    },
  };
}
