import { DEFAULTS } from './defaults.js';

const positiveInt = { type: 'integer', minimum: 1 } as const;
const nonEmpty = { type: 'string', minLength: 1 } as const;
// writeOnly marks a secret: `streamscore config print` shows it as ***.
const secret = { ...nonEmpty, writeOnly: true } as const;
const topic = { type: 'string', pattern: '^[a-zA-Z0-9._-]{1,249}$' } as const;

const tls = {
  type: 'object',
  additionalProperties: false,
  properties: {
    caFile: nonEmpty,
    certFile: nonEmpty,
    keyFile: nonEmpty,
    rejectUnauthorized: { type: 'boolean', default: true },
  },
} as const;

const pipeline = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'inputs', 'groupId', 'model', 'outputs'],
  properties: {
    name: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]*$' },
    inputs: { type: 'array', items: topic, minItems: 1, uniqueItems: true },
    groupId: nonEmpty,
    codec: { enum: ['avro', 'json'], default: DEFAULTS.pipeline.codec },
    readerSchema: nonEmpty,
    model: {
      type: 'object',
      additionalProperties: false,
      required: ['path'],
      properties: {
        path: nonEmpty,
        executionProviders: { type: 'array', items: { enum: ['cuda', 'cpu'] }, minItems: 1, uniqueItems: true, default: [...DEFAULTS.pipeline.model.executionProviders] },
        intraOpThreads: { ...positiveInt, default: DEFAULTS.pipeline.model.intraOpThreads },
        name: nonEmpty,
        version: nonEmpty,
        // A candidate scoring beside the model from the start (needs outputs.shadow); SIGHUP applies changes.
        shadow: nonEmpty,
      },
    },
    features: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        columns: {
          type: 'object',
          default: {},
          additionalProperties: {
            type: 'object',
            additionalProperties: false,
            properties: { from: nonEmpty, transform: { enum: ['hourOfDayUtc', 'dayOfWeekUtc'] } },
          },
        },
        onMissing: { enum: ['dead-letter', 'zero'], default: DEFAULTS.pipeline.features.onMissing },
      },
    },
    batching: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        maxBatchSize: { ...positiveInt, maximum: 65_536, default: DEFAULTS.pipeline.batching.maxBatchSize },
        maxQueueDelayMs: { type: 'number', minimum: 0, maximum: 10_000, default: DEFAULTS.pipeline.batching.maxQueueDelayMs },
        preferredBatchSizes: { type: 'array', items: positiveInt, uniqueItems: true, default: [] },
        maxQueuedRecords: { ...positiveInt, default: DEFAULTS.pipeline.batching.maxQueuedRecords },
      },
    },
    outputs: {
      type: 'object',
      additionalProperties: false,
      required: ['scored', 'alerts', 'deadLetter'],
      properties: {
        scored: { type: 'object', additionalProperties: false, required: ['topic'], properties: { topic, schema: nonEmpty } },
        alerts: {
          type: 'object',
          additionalProperties: false,
          required: ['topic'],
          properties: { topic, schema: nonEmpty, threshold: { type: 'number', minimum: 0 } },
        },
        deadLetter: { type: 'object', additionalProperties: false, required: ['topic'], properties: { topic } },
        // Where a shadow model's scores go (schemas/shadow-score.avsc); a shadow can be set only with it.
        shadow: { type: 'object', additionalProperties: false, required: ['topic'], properties: { topic, schema: nonEmpty } },
        drift: { type: 'object', additionalProperties: false, required: ['topic'], properties: { topic } },
      },
    },
    canary: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        maxAlertRateRatio: { type: 'number', exclusiveMinimum: 0, default: DEFAULTS.pipeline.canary.maxAlertRateRatio },
        maxErrorRate: { type: 'number', minimum: 0, maximum: 1, default: DEFAULTS.pipeline.canary.maxErrorRate },
        minRecords: { type: 'integer', minimum: 1, default: DEFAULTS.pipeline.canary.minRecords },
      },
    },
    drift: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        window: { type: 'integer', minimum: 0, maximum: 1_000_000, default: DEFAULTS.pipeline.drift.window },
        psiAlert: { type: 'number', exclusiveMinimum: 0, default: DEFAULTS.pipeline.drift.psiAlert },
      },
    },
    // `delivery: exactly-once` is short for `delivery: { mode: exactly-once }` (load.ts expands it).
    delivery: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        mode: { enum: ['exactly-once', 'at-least-once'], default: DEFAULTS.pipeline.delivery.mode },
        commitIntervalMs: { type: 'integer', minimum: 0, maximum: 10_000, default: DEFAULTS.pipeline.delivery.commitIntervalMs },
        producers: { type: 'integer', minimum: 1, maximum: 64, default: DEFAULTS.pipeline.delivery.producers },
        stallTimeoutMs: { type: 'integer', minimum: 1_000, default: DEFAULTS.pipeline.delivery.stallTimeoutMs },
      },
    },
  },
} as const;

/** JSON Schema of the config file; ajv fills the defaults and lists every problem. */
export const configSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['kafka', 'pipelines'],
  properties: {
    kafka: {
      type: 'object',
      additionalProperties: false,
      required: ['brokers'],
      properties: {
        brokers: { type: 'array', items: { type: 'string', pattern: '^[^\\s:]+:[0-9]{1,5}$' }, minItems: 1 },
        clientId: { ...nonEmpty, default: DEFAULTS.kafka.clientId },
        ssl: tls,
        sasl: {
          type: 'object',
          additionalProperties: false,
          required: ['mechanism', 'username', 'password'],
          properties: { mechanism: { enum: ['plain', 'scram-sha-256', 'scram-sha-512'] }, username: nonEmpty, password: secret },
        },
        connectionTimeoutMs: { ...positiveInt, default: DEFAULTS.kafka.connectionTimeoutMs },
        requestTimeoutMs: { ...positiveInt, default: DEFAULTS.kafka.requestTimeoutMs },
        sessionTimeoutMs: { type: 'integer', minimum: 6_000, default: DEFAULTS.kafka.sessionTimeoutMs },
        rebalanceTimeoutMs: { ...positiveInt, default: DEFAULTS.kafka.rebalanceTimeoutMs },
        heartbeatIntervalMs: { ...positiveInt, default: DEFAULTS.kafka.heartbeatIntervalMs },
        transactionTimeoutMs: { type: 'integer', minimum: 1_000, maximum: 900_000, default: DEFAULTS.kafka.transactionTimeoutMs },
        startFrom: { enum: ['earliest', 'latest'], default: DEFAULTS.kafka.startFrom },
        fetchMaxWaitMs: { type: 'integer', minimum: 0, maximum: 10_000, default: DEFAULTS.kafka.fetchMaxWaitMs },
        fetchMaxBytes: { type: 'integer', minimum: 1024, default: DEFAULTS.kafka.fetchMaxBytes },
        fetchMaxBytesPerPartition: { type: 'integer', minimum: 1024, default: DEFAULTS.kafka.fetchMaxBytesPerPartition },
      },
    },
    schemaRegistry: {
      type: 'object',
      additionalProperties: false,
      required: ['url'],
      properties: {
        url: { type: 'string', pattern: '^https?://' },
        basicAuth: { type: 'object', additionalProperties: false, required: ['username', 'password'], properties: { username: nonEmpty, password: secret } },
        tls,
      },
    },
    http: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        port: { type: 'integer', minimum: 0, maximum: 65_535, default: DEFAULTS.http.port },
        host: { ...nonEmpty, default: DEFAULTS.http.host },
        admin: {
          type: 'object',
          additionalProperties: false,
          required: ['token'],
          description: 'The admin API (/admin/…, model changes): on only when set. Every call needs Authorization: Bearer <token>.',
          // Long enough that guessing it over HTTP is hopeless.
          properties: { token: { ...secret, minLength: 16 } },
        },
      },
    },
    log: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { level: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace'], default: DEFAULTS.log.level } },
    },
    pipelines: { type: 'array', items: pipeline, minItems: 1 },
  },
} as const;
