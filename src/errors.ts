/**
 * One error class for the whole service, with one closed list of codes. Behaviour comes from
 * the code's flags (retry, dead-letter, fence, fatal), never from the message text, so
 * messages can be improved without changing what the service does.
 */
export interface ErrorFlags {
  /** The same operation may succeed if tried again (broker hiccup, timeout): retried within a budget. */
  readonly canRetry: boolean;
  /** The record itself is at fault; it goes to the dead-letter topic and the stream goes on. */
  readonly deadLetter: boolean;
  /** Another producer with our transactional id took over; this one must be dropped. */
  readonly producerFenced: boolean;
}

const RETRY: ErrorFlags = { canRetry: true, deadLetter: false, producerFenced: false };
const DEAD_LETTER: ErrorFlags = { canRetry: false, deadLetter: true, producerFenced: false };
const FENCED: ErrorFlags = { canRetry: false, deadLetter: false, producerFenced: true };
/** Neither retried nor dead-lettered: it stops what it is part of and says so (start fails, or the pipeline turns unready). */
const FATAL: ErrorFlags = { canRetry: false, deadLetter: false, producerFenced: false };

export const ERROR_CODES = {
  // configuration and start-up
  CONFIG_INVALID: FATAL,
  CONFIG_UNREADABLE: FATAL,
  CLI_USAGE: FATAL,
  TOPICS_MISSING: FATAL,
  OUTPUT_SCHEMA_MISMATCH: FATAL,
  FEATURES_MISMATCH: FATAL,
  SCHEMA_INCOMPATIBLE: FATAL,
  MODEL_BAD_INPUTS: FATAL,
  MODEL_BAD_OUTPUTS: FATAL,
  MODEL_NO_PROVIDER: FATAL,
  MODEL_UNREADABLE: FATAL,
  KAFKA_READ_COMMITTED_UNSAFE: FATAL,
  // Kafka
  KAFKA_AUTH_FAILED: FATAL,
  // A certificate or TLS handshake problem: retrying cannot fix it, so the start fails at once.
  KAFKA_TLS_FAILED: FATAL,
  KAFKA_UNREACHABLE: RETRY,
  KAFKA_TRANSACTION_FAILED: RETRY,
  KAFKA_PRODUCE_FAILED: RETRY,
  KAFKA_PRODUCER_FENCED: FENCED,
  // Our offset commit carried a group generation a rebalance has moved past: this member may
  // have lost partitions. The transaction is aborted and its partitions read again; the group's
  // next assignment says which stay.
  KAFKA_GENERATION_STALE: RETRY,
  KAFKA_CONSUMER_CRASHED: RETRY,
  KAFKA_REQUEST_FAILED: RETRY,
  // A fetch below the partition's first offset: the records were deleted (retention) under us.
  KAFKA_OFFSET_OUT_OF_RANGE: FATAL,
  // schema registry
  REGISTRY_UNAVAILABLE: RETRY,
  REGISTRY_UNAUTHORIZED: FATAL,
  // A certificate the registry's TLS refused or we could not verify: a config problem, not an outage.
  REGISTRY_TLS_FAILED: FATAL,
  // one record at fault: dead-lettered with this code
  DECODE_EMPTY: DEAD_LETTER,
  DECODE_BAD_MAGIC: DEAD_LETTER,
  DECODE_TRUNCATED: DEAD_LETTER,
  DECODE_UNKNOWN_SCHEMA: DEAD_LETTER,
  DECODE_INCOMPATIBLE_SCHEMA: DEAD_LETTER,
  DECODE_BAD_JSON: DEAD_LETTER,
  DECODE_NOT_OBJECT: DEAD_LETTER,
  FEATURE_MISSING: DEAD_LETTER,
  FEATURE_NOT_NUMERIC: DEAD_LETTER,
  FEATURE_NOT_FINITE: DEAD_LETTER,
  INFERENCE_FAILED: DEAD_LETTER,
  // the local stack, the demo and the tools
  DEV_KAFKA_FORMAT_FAILED: FATAL,
  DEV_KAFKA_NOT_READY: FATAL,
  DEV_MAVEN_FAILED: FATAL,
  DEV_PARTIAL_EXTERNAL_STACK: FATAL,
  DEV_PORT_IN_USE: FATAL,
  DEV_REGISTRY_CONFIG_FAILED: FATAL,
  DEV_REGISTRY_NOT_READY: FATAL,
  DEV_SCRAM_USER_FAILED: FATAL,
  DEV_TLS_FAILED: FATAL,
  DEMO_SERVICE_FAILED: FATAL,
  // `streamscore score` and `produce --to-file`: an input file that cannot be read at all
  // (missing, a cut-short Avro header, an unknown compression), or a file that cannot be written
  INPUT_FILE_UNREADABLE: FATAL,
  OUTPUT_FILE_FAILED: FATAL,
  // replay: --from / --to that resolve to no sound range, or a resume that cannot be trusted
  REPLAY_RANGE_INVALID: FATAL,
  TIMEOUT: FATAL,
  // the admin API: the serving model is left as it was
  ADMIN_UNAUTHORIZED: FATAL,
  ADMIN_NOT_FOUND: FATAL,
  ADMIN_BAD_REQUEST: FATAL,
  // starting or stopping: asked again once it runs, the same call may work
  PIPELINE_NOT_RUNNING: FATAL,
  // a candidate model that loads but cannot score this pipeline's records (inputs, outputs, mapping, threshold)
  MODEL_MISMATCH: FATAL,
  // a candidate model file that is not a loadable ONNX model here
  MODEL_LOAD_FAILED: FATAL,
  // a fault of our own (a bug): reported, never dead-lettered
  INTERNAL_ERROR: FATAL,
} as const satisfies Record<string, ErrorFlags>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class StreamscoreError extends Error implements ErrorFlags {
  readonly code: ErrorCode;
  readonly canRetry: boolean;
  readonly deadLetter: boolean;
  readonly producerFenced: boolean;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StreamscoreError';
    this.code = code;
    const flags: ErrorFlags = ERROR_CODES[code];
    this.canRetry = flags.canRetry;
    this.deadLetter = flags.deadLetter;
    this.producerFenced = flags.producerFenced;
  }
}

export function isStreamscoreError(err: unknown): err is StreamscoreError {
  return err instanceof StreamscoreError;
}

/** `err` as it is if it is ours; anything else is a fault of our own, coded INTERNAL_ERROR. */
export function asStreamscoreError(err: unknown): StreamscoreError {
  return err instanceof StreamscoreError ? err : new StreamscoreError('INTERNAL_ERROR', errorMessage(err), { cause: err });
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
