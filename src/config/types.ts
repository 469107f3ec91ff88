/** The validated, frozen configuration. Units are in the names. */
export type DeliveryMode = 'exactly-once' | 'at-least-once';
export type CodecName = 'avro' | 'json';
export type ExecutionProvider = 'cuda' | 'cpu';
export type FeatureTransform = 'hourOfDayUtc' | 'dayOfWeekUtc';

export interface SaslConfig {
  mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  username: string;
  password: string;
}

export interface TlsConfig {
  /** PEM file paths; any may be omitted to use the system's trust store. */
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  rejectUnauthorized: boolean;
}

export interface KafkaConfig {
  brokers: string[];
  clientId: string;
  ssl?: TlsConfig;
  sasl?: SaslConfig;
  connectionTimeoutMs: number;
  requestTimeoutMs: number;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  heartbeatIntervalMs: number;
  transactionTimeoutMs: number;
  /** Where a group with no committed offset starts. */
  startFrom: 'earliest' | 'latest';
  fetchMaxWaitMs: number;
  fetchMaxBytes: number;
  fetchMaxBytesPerPartition: number;
}

export interface SchemaRegistryConfig {
  url: string;
  basicAuth?: { username: string; password: string };
  tls?: TlsConfig;
}

export interface FeatureSource {
  /** Record field to read; defaults to the model column's own name. */
  from?: string;
  transform?: FeatureTransform;
}

export interface PipelineConfig {
  name: string;
  inputs: string[];
  groupId: string;
  codec: CodecName;
  /** Avro reader schema file (.avsc); required for the avro codec. */
  readerSchema?: string;
  model: {
    path: string;
    executionProviders: ExecutionProvider[];
    intraOpThreads: number;
    /** Override the model's own metadata. */
    name?: string;
    version?: string;
    /** A shadow model's file, scoring beside this one from the start (needs outputs.shadow). */
    shadow?: string;
  };
  features: {
    columns: Record<string, FeatureSource>;
    onMissing: 'dead-letter' | 'zero';
  };
  batching: {
    maxBatchSize: number;
    maxQueueDelayMs: number;
    preferredBatchSizes: number[];
    /** Queued records above which the partitions feeding the queue are paused. */
    maxQueuedRecords: number;
  };
  outputs: {
    scored: { topic: string; schema?: string };
    alerts: { topic: string; schema?: string; threshold?: number };
    deadLetter: { topic: string };
    /** A shadow model's scores, one per scored input (set with the admin API). */
    shadow?: { topic: string; schema?: string };
    /** Drift events (JSON), one per feature over drift.psiAlert per window. */
    drift?: { topic: string };
  };
  delivery: DeliveryConfig;
  drift: DriftConfig;
  canary: CanaryConfig;
}

/** Guards of a canary model (set with the admin API): past one, it is removed by itself. */
export interface CanaryConfig {
  /** Canary alert rate / primary alert rate above which it comes off. */
  maxAlertRateRatio: number;
  /** Share of the canary's records whose inference fails above which it comes off. */
  maxErrorRate: number;
  /** Records each side must have scored before the guards judge. */
  minRecords: number;
}

export interface DriftConfig {
  /** Records in the sliding window PSI is computed over; 0: no drift monitoring. */
  window: number;
  /** PSI above which a feature (or the score) is logged, once per window, and a drift event is sent. */
  psiAlert: number;
}

export interface DeliveryConfig {
  mode: DeliveryMode;
  /** A partition's open transaction (or at-least-once offset commit) collects batches for this long. */
  commitIntervalMs: number;
  /** Exactly-once: transactional producers per instance, each committing its share of the partitions. */
  producers: number;
  /** Records waiting and no commit for this long: the partition is reported stalled. */
  stallTimeoutMs: number;
}

export interface HttpConfig {
  port: number;
  host: string;
  /** The admin API, on only when a token is set. */
  admin?: { token: string };
}

export interface StreamscoreConfig {
  kafka: KafkaConfig;
  schemaRegistry?: SchemaRegistryConfig;
  http: HttpConfig;
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' };
  pipelines: PipelineConfig[];
}
