import type { FeatureSource, FeatureTransform, PipelineConfig } from '../config/types.js';
import type { DecodedRecord, RecordSchemaView } from '../codec/codec.js';
import { type ErrorCode, StreamscoreError } from '../errors.js';

type Getter = (record: DecodedRecord) => number | StreamscoreError;

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

const transforms: Record<FeatureTransform, (ms: number) => number> = {
  // float32 cannot hold epoch milliseconds, so calendar features are computed here.
  hourOfDayUtc: (ms) => Math.floor(ms / HOUR_MS) % 24,
  // 1970-01-01 was a Thursday; 0 = Monday.
  dayOfWeekUtc: (ms) => (Math.floor(ms / DAY_MS) + 3) % 7,
};

function deadLetter(code: ErrorCode, message: string): StreamscoreError {
  return new StreamscoreError(code, message);
}

/**
 * Record fields → one float32 row per record, columns in the model's order. Booleans are
 * 0/1, enum symbols their index in the reader schema; anything else non-numeric, missing
 * (unless onMissing is 'zero') or non-finite sends the record to the dead-letter topic.
 */
export class FeatureMapper {
  readonly width: number;
  private readonly getters: Getter[];

  private constructor(readonly columns: string[], getters: Getter[]) {
    this.width = columns.length;
    this.getters = getters;
  }

  /** Checks the mapping against the model and the reader schema; throws listing every problem. */
  static build(modelColumns: string[], cfg: PipelineConfig['features'], codec: RecordSchemaView, pipeline: string): FeatureMapper {
    const problems: string[] = [];
    for (const name of Object.keys(cfg.columns)) {
      if (!modelColumns.includes(name)) problems.push(`features.columns.${name}: the model has no such column (it takes: ${modelColumns.join(', ')})`);
    }
    const getters = modelColumns.map((column) => FeatureMapper.getter(column, cfg.columns[column] ?? {}, cfg.onMissing, codec, problems));
    if (problems.length) {
      throw new StreamscoreError('FEATURES_MISMATCH', `pipeline '${pipeline}': the model's inputs do not match the records:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    }
    return new FeatureMapper(modelColumns, getters);
  }

  private static getter(column: string, source: FeatureSource, onMissing: 'dead-letter' | 'zero', codec: RecordSchemaView, problems: string[]): Getter {
    const field = source.from ?? column;
    const info = codec.fieldInfo(field);
    if (codec.hasSchema) {
      if (!info) {
        problems.push(`column '${column}': the reader schema has no field '${field}'${source.from ? '' : ` (map it with features.columns.${column}.from)`}`);
      } else if (source.transform && info.kind !== 'timestamp' && info.kind !== 'number') {
        problems.push(`column '${column}': transform ${source.transform} needs a timestamp field; '${field}' is ${info.kind}`);
      } else if (!source.transform && !['number', 'boolean', 'enum', 'timestamp'].includes(info.kind)) {
        problems.push(`column '${column}': field '${field}' is a ${info.kind}, which cannot be a model input`);
      }
    }
    const symbols = info?.symbols;
    const transform = source.transform ? transforms[source.transform] : undefined;
    return (record) => {
      const raw = record[field];
      let value: number;
      if (raw === undefined || raw === null) {
        if (onMissing === 'zero') return 0;
        return deadLetter('FEATURE_MISSING', `field '${field}' (model column '${column}') is missing`);
      } else if (typeof raw === 'number') {
        value = raw;
      } else if (typeof raw === 'boolean') {
        value = raw ? 1 : 0;
      } else if (typeof raw === 'string' && symbols) {
        value = symbols.indexOf(raw);
        // Only a record from JSON (streamscore score on a JSONL file) can carry a symbol the schema lacks.
        if (value < 0) return deadLetter('FEATURE_NOT_NUMERIC', `field '${field}' (model column '${column}') is '${raw}', not one of the enum's symbols`);
      } else {
        return deadLetter('FEATURE_NOT_NUMERIC', `field '${field}' (model column '${column}') is ${typeof raw}, not a number`);
      }
      if (transform) value = transform(value);
      if (!Number.isFinite(value)) return deadLetter('FEATURE_NOT_FINITE', `field '${field}' (model column '${column}') is ${value}`);
      return value;
    };
  }

  /** Writes one row at `row`; returns the error that dead-letters the record instead, if any. */
  fill(record: DecodedRecord, out: Float32Array, row: number): StreamscoreError | undefined {
    const base = row * this.width;
    for (let c = 0; c < this.width; c++) {
      const v = this.getters[c]!(record);
      if (typeof v !== 'number') return v;
      out[base + c] = v;
    }
    return undefined;
  }
}
