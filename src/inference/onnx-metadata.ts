import fs from 'node:fs';

/**
 * Reads ModelProto.metadata_props (field 14) and model_version (field 5) straight from the
 * .onnx protobuf: onnxruntime-node does not expose custom metadata, and this is where the
 * model declares its feature order, name and alert threshold.
 */
export interface OnnxMetadata {
  props: Record<string, string>;
  modelVersion?: number;
}

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer, readonly end = buf.length) {}

  varint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.end) throw new Error('truncated varint');
      const byte = this.buf[this.pos++]!;
      result += (byte & 0x7f) * 2 ** shift;
      if (!(byte & 0x80)) return result;
      shift += 7;
    }
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.pos += 8;
    else if (wireType === 2) {
      const len = this.varint(); // read first: `pos += varint()` would add to the stale pos
      this.pos += len;
    }
    else if (wireType === 5) this.pos += 4;
    else throw new Error(`unsupported protobuf wire type ${wireType}`);
  }
}

function readEntry(buf: Buffer, start: number, end: number): [string, string] {
  const r = new Reader(buf, end);
  r.pos = start;
  let key = '';
  let value = '';
  while (r.pos < end) {
    const tag = r.varint();
    if ((tag & 7) === 2) {
      const len = r.varint();
      const text = buf.toString('utf8', r.pos, r.pos + len);
      r.pos += len;
      if (tag >>> 3 === 1) key = text;
      else if (tag >>> 3 === 2) value = text;
    } else {
      r.skip(tag & 7);
    }
  }
  return [key, value];
}

export function readOnnxMetadata(file: string): OnnxMetadata {
  return parseOnnxMetadata(fs.readFileSync(file));
}

/** The metadata of a model already in memory (a hot swap reads the file without blocking). */
export function parseOnnxMetadata(buf: Buffer): OnnxMetadata {
  const r = new Reader(buf);
  const props: Record<string, string> = {};
  let modelVersion: number | undefined;
  while (r.pos < buf.length) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wireType = tag & 7;
    if (field === 14 && wireType === 2) {
      const len = r.varint();
      const [k, v] = readEntry(buf, r.pos, r.pos + len);
      props[k] = v;
      r.pos += len;
    } else if (field === 5 && wireType === 0) {
      modelVersion = r.varint();
    } else {
      r.skip(wireType);
    }
  }
  return { props, modelVersion };
}

/**
 * Metadata `training_baseline` (written by models/baseline.py): how each input and the score
 * were distributed over the training rows, so live traffic can be compared with them.
 */
export interface NumericBaseline {
  kind: 'numeric';
  /** Ascending; bin i holds edges[i] ≤ x < edges[i+1], and the outer bins are open-ended. */
  edges: number[];
  proportions: number[];
}

export interface CategoricalBaseline {
  kind: 'categorical';
  /** Values as the model sees them (codes, enum indexes, 0/1); unlisted ones had proportion 0. */
  categories: number[];
  proportions: number[];
}

export type FeatureBaseline = NumericBaseline | CategoricalBaseline;

export interface TrainingBaseline {
  format: 1;
  /** Training rows the proportions are of. */
  rows: number;
  /** Quantile bins asked for; a numeric baseline may have fewer where quantiles tie. */
  bins: number;
  features: Record<string, FeatureBaseline>;
  score: NumericBaseline;
}

export const TRAINING_BASELINE_KEY = 'training_baseline';

const PROPORTION_SUM_TOLERANCE = 1e-6;

function numbers(value: unknown, where: string): number[] {
  if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new Error(`${where}: expected a non-empty array of finite numbers`);
  }
  return value as number[];
}

function proportions(value: unknown, length: number, where: string): number[] {
  const p = numbers(value, `${where}.proportions`);
  if (p.length !== length) throw new Error(`${where}.proportions: ${p.length} values for ${length} bins`);
  if (p.some((v) => v < 0)) throw new Error(`${where}.proportions: negative value`);
  const sum = p.reduce((a, b) => a + b, 0);
  if (Math.abs(sum - 1) > PROPORTION_SUM_TOLERANCE) throw new Error(`${where}.proportions: sum ${sum}, not 1`);
  return p;
}

function binsOf(value: unknown, where: string): FeatureBaseline {
  const o = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  if ('edges' in o) {
    const edges = numbers(o.edges, `${where}.edges`);
    if (edges.length < 2 || edges.some((e, i) => i > 0 && e < edges[i - 1]!)) throw new Error(`${where}.edges: need at least 2, ascending`);
    return { kind: 'numeric', edges, proportions: proportions(o.proportions, edges.length - 1, where) };
  }
  if ('categories' in o) {
    const categories = numbers(o.categories, `${where}.categories`);
    return { kind: 'categorical', categories, proportions: proportions(o.proportions, categories.length, where) };
  }
  throw new Error(`${where}: expected edges or categories`);
}

/**
 * The model's training baseline, or undefined when it declares none (a model without one still
 * runs). Throws, saying what is wrong, when the entry is there but malformed or of a format this
 * reader does not know: a caller that only wants drift metrics can log that and go on without.
 */
export function parseTrainingBaseline(props: Record<string, string>): TrainingBaseline | undefined {
  const raw = props[TRAINING_BASELINE_KEY];
  if (raw === undefined) return undefined;
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(raw) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${TRAINING_BASELINE_KEY}: not JSON (${(err as Error).message})`, { cause: err });
  }
  if (json?.format !== 1) throw new Error(`${TRAINING_BASELINE_KEY}: unknown format ${JSON.stringify(json?.format)} (this reader knows 1)`);
  const { rows, bins } = json;
  if (typeof rows !== 'number' || !(rows > 0) || typeof bins !== 'number' || !(bins > 0)) throw new Error(`${TRAINING_BASELINE_KEY}: rows and bins must be positive numbers`);
  if (typeof json.features !== 'object' || json.features === null) throw new Error(`${TRAINING_BASELINE_KEY}: no features`);
  const features: Record<string, FeatureBaseline> = {};
  for (const [name, value] of Object.entries(json.features)) features[name] = binsOf(value, `${TRAINING_BASELINE_KEY}.features.${name}`);
  const score = binsOf(json.score, `${TRAINING_BASELINE_KEY}.score`);
  if (score.kind !== 'numeric') throw new Error(`${TRAINING_BASELINE_KEY}.score: expected edges`);
  return { format: 1, rows, bins, features, score };
}

/** The bin a live value falls in, as the baseline counted training rows; -1: a category training never saw. */
export function baselineBin(baseline: FeatureBaseline, value: number): number {
  if (baseline.kind === 'categorical') return baseline.categories.indexOf(value);
  // Interior edges only: below edges[1] is bin 0 and from the last interior edge on the last bin.
  const { edges } = baseline;
  let lo = 0;
  let hi = edges.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (value >= edges[mid]!) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
