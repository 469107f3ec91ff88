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
    transactionTimeoutMs: 10_000,
    startFrom: 'earliest',
    // Short, so resumes and shutdown take effect quickly on quiet partitions; the broker
    // answers at once when any data is there.
    fetchMaxWaitMs: 100,
    // Caps what one fetch holds in memory (records are copied out of it, then it is freed).
    // 1 MiB (about 5,000 fraud events, 0.1 s of work at full speed) keeps the pipe full; 4 MiB
    // cost ~90 MB more peak RSS in a full-speed drain, for no measurable throughput.
    fetchMaxBytes: 1024 * 1024,
    fetchMaxBytesPerPartition: 128 * 1024,
  },
  http: { port: 9464, host: '0.0.0.0' },
  log: { level: 'info' },
  pipeline: {
    codec: 'avro',
    delivery: {
      mode: 'exactly-once',
      // Chosen from the bench's latency table: see README "Performance".
      commitIntervalMs: 10,
      // One transaction at a time per producer; more producers overlap commits (throughput),
      // fewer make fewer, larger transactions (broker load, latency). See README "Performance".
      producers: 2,
      // A partition with records waiting and no commit for this long is reported stalled.
      stallTimeoutMs: 30_000,
    },
    model: { executionProviders: ['cpu'], intraOpThreads: 1 },
    features: { onMissing: 'dead-letter' },
    batching: { maxBatchSize: 256, maxQueueDelayMs: 5, preferredBatchSizes: [] as number[], maxQueuedRecords: 10_000 },
    // PSI over the last 10,000 records: its noise for an unchanged distribution over 10 bins is
    // ~0.001, far under the 0.1 / 0.2 rules of thumb; 0 turns drift off.
    drift: { window: 10_000, psiAlert: 0.2 },
    // A canary whose alert rate is over twice the primary's, or whose inference fails on over
    // 1 % of its records, comes off by itself; judged once each side has 1,000 records.
    canary: { maxAlertRateRatio: 2, maxErrorRate: 0.01, minRecords: 1_000 },
  },
} as const;
