import { type ErrorCode, StreamscoreError, asStreamscoreError } from '../errors.js';
import type { OnnxModel } from '../inference/model.js';
import type { Logger } from '../observability/logger.js';

/** Codes of a candidate that loads but cannot score this pipeline's records. */
const MISMATCH: ReadonlySet<ErrorCode> = new Set(['MODEL_BAD_INPUTS', 'MODEL_BAD_OUTPUTS', 'FEATURES_MISMATCH', 'OUTPUT_SCHEMA_MISMATCH', 'CONFIG_INVALID']);
/** Codes of a candidate file that is no loadable model. */
const LOAD_FAILED: ReadonlySet<ErrorCode> = new Set(['MODEL_UNREADABLE', 'MODEL_NO_PROVIDER']);

/** Each problem of a start-up check's message (its "  - …" lines), or the message itself. */
export function problemsOf(err: StreamscoreError): string[] {
  const listed = err.message.split('\n').filter((l) => l.startsWith('  - ')).map((l) => l.slice(4));
  return listed.length ? listed : [err.message];
}

/** A candidate's failure in the admin API's terms: mismatch (409) or not loadable (422); anything else as it is. */
export function candidateError(err: StreamscoreError, file: string): StreamscoreError {
  const listed = () => problemsOf(err).map((p) => `  - ${p}`).join('\n');
  if (MISMATCH.has(err.code)) return new StreamscoreError('MODEL_MISMATCH', `${file} cannot score this pipeline's records:\n${listed()}`, { cause: err });
  if (LOAD_FAILED.has(err.code)) return new StreamscoreError('MODEL_LOAD_FAILED', `${file} is not a model ONNX Runtime can load here:\n${listed()}`, { cause: err });
  return err;
}

export function notServing(pipeline: string): StreamscoreError {
  return new StreamscoreError('PIPELINE_NOT_RUNNING', `pipeline '${pipeline}' is stopping: its model cannot change now`);
}

export interface CandidateLoad {
  pipeline: string;
  /** The model file, resolved. */
  file: string;
  /** What it is to become, for the refusal's log line: 'model', 'shadow', 'canary'. */
  role: string;
  logger: Logger;
  closed: () => boolean;
  /** Hears each refusal (the swap counts them). */
  onRefused?: (err: StreamscoreError) => void;
}

/**
 * Loads a candidate (a swap's, a shadow's or a canary's) with `load`: a refusal is coded
 * MODEL_MISMATCH or MODEL_LOAD_FAILED with each problem and logged once; a slot closed before or
 * while it loaded refuses with PIPELINE_NOT_RUNNING, and a candidate it loaded is released.
 */
export async function loadCandidate<T>(o: CandidateLoad, load: () => Promise<T>, modelOf: (loaded: T) => OnnxModel): Promise<T> {
  if (o.closed()) throw notServing(o.pipeline);
  let loaded: T;
  try {
    loaded = await load();
  } catch (err) {
    const refused = candidateError(asStreamscoreError(err), o.file);
    o.onRefused?.(refused);
    o.logger.warn({ code: refused.code, path: o.file, role: o.role, problems: problemsOf(refused) }, 'model change refused; what serves is unchanged');
    throw refused;
  }
  if (o.closed()) {
    await modelOf(loaded).close();
    throw notServing(o.pipeline);
  }
  return loaded;
}
