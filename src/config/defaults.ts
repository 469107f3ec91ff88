/** Every default in one place; units are in the names. */
export const DEFAULTS = {
  kafka: {
    clientId: 'streamscore',
    connectionTimeoutMs: 5_000,
    requestTimeoutMs: 30_000,
    sessionTimeoutMs: 30_000,
    rebalanceTimeoutMs: 60_000,
    heartbeatIntervalMs: 3_000,
    // Well above the worst batch (fetch + inference + commit), well below the broker's
    // transaction.max.timeout.ms (15 min).
    transactionTimeoutMs: 60_000,
    startFrom: 'earliest',
  },
  http: { port: 9464, host: '0.0.0.0' },
  log: { level: 'info' },
  pipeline: {
    codec: 'avro',
    delivery: 'exactly-once',
    model: { executionProviders: ['cpu'], intraOpThreads: 1 },
    features: { onMissing: 'dead-letter' },
    batching: { maxBatchSize: 256, maxQueueDelayMs: 5, preferredBatchSizes: [] as number[], maxQueuedRecords: 10_000 },
  },
} as const;
