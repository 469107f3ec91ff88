import client, { type Registry } from 'prom-client';

const MS_BUCKETS = [0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];

/**
 * Every metric the service exports, in the `streamscore_` namespace, on an injected
 * registry (no global default registry, so tests and several services can coexist).
 */
export class Metrics {
  readonly consumed: client.Counter<'pipeline' | 'topic' | 'partition'>;
  readonly scored: client.Counter<'pipeline'>;
  readonly alerts: client.Counter<'pipeline'>;
  readonly deadLettered: client.Counter<'pipeline' | 'code'>;
  readonly batchSize: client.Histogram<'pipeline'>;
  readonly batchFillRatio: client.Histogram<'pipeline'>;
  readonly queueWaitMs: client.Histogram<'pipeline'>;
  readonly inferenceMs: client.Histogram<'pipeline'>;
  readonly endToEndMs: client.Histogram<'pipeline'>;
  readonly transactions: client.Counter<'pipeline' | 'result'>;
  readonly commitMs: client.Histogram<'pipeline'>;
  readonly consumerLag: client.Gauge<'pipeline' | 'topic' | 'partition'>;
  readonly pausedPartitions: client.Gauge<'pipeline'>;
  readonly queuedRecords: client.Gauge<'pipeline'>;
  readonly assignedPartitions: client.Gauge<'pipeline'>;
  readonly modelInfo: client.Gauge<'pipeline' | 'model' | 'version' | 'execution_provider'>;
  readonly partitionStalled: client.Gauge<'pipeline' | 'topic' | 'partition'>;
  readonly retries: client.Counter<'pipeline' | 'code'>;
  readonly outstandingRecords: client.Gauge<'pipeline'>;
  readonly modelSwaps: client.Counter<'pipeline' | 'result'>;
  readonly shadowCompared: client.Counter<'pipeline'>;
  readonly shadowAgreed: client.Counter<'pipeline'>;
  readonly shadowAgreementRatio: client.Gauge<'pipeline'>;
  readonly shadowScoreDifference: client.Histogram<'pipeline'>;
  readonly shadowInferenceMs: client.Histogram<'pipeline'>;
  readonly shadowFailures: client.Counter<'pipeline'>;
  readonly canaryShare: client.Gauge<'pipeline'>;
  readonly canaryScored: client.Counter<'pipeline'>;
  readonly canaryRemovals: client.Counter<'pipeline' | 'reason'>;
  readonly featurePsi: client.Gauge<'pipeline' | 'feature'>;
  readonly scorePsi: client.Gauge<'pipeline'>;
  readonly driftEvents: client.Counter<'pipeline' | 'feature'>;

  constructor(readonly registry: Registry) {
    const registers = [registry];
    this.consumed = new client.Counter({ name: 'streamscore_records_consumed_total', help: 'Records read from input topics', labelNames: ['pipeline', 'topic', 'partition'], registers });
    this.scored = new client.Counter({ name: 'streamscore_records_scored_total', help: 'Scored records committed to the output topic', labelNames: ['pipeline'], registers });
    this.alerts = new client.Counter({ name: 'streamscore_alerts_total', help: 'Alerts committed (score >= threshold)', labelNames: ['pipeline'], registers });
    this.deadLettered = new client.Counter({ name: 'streamscore_records_dead_lettered_total', help: 'Records committed to the dead-letter topic, by error code', labelNames: ['pipeline', 'code'], registers });
    this.batchSize = new client.Histogram({ name: 'streamscore_batch_size', help: 'Rows per inference batch', labelNames: ['pipeline'], buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096], registers });
    this.batchFillRatio = new client.Histogram({ name: 'streamscore_batch_fill_ratio', help: 'Batch size / maxBatchSize', labelNames: ['pipeline'], buckets: [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 1], registers });
    this.queueWaitMs = new client.Histogram({ name: 'streamscore_queue_wait_ms', help: 'Time the oldest record of a batch waited in the batcher, ms', labelNames: ['pipeline'], buckets: MS_BUCKETS, registers });
    this.inferenceMs = new client.Histogram({ name: 'streamscore_inference_ms', help: 'ONNX Runtime run() time per batch, ms', labelNames: ['pipeline'], buckets: MS_BUCKETS, registers });
    this.endToEndMs = new client.Histogram({ name: 'streamscore_end_to_end_latency_ms', help: 'Input event timestamp to output produce acknowledged, ms', labelNames: ['pipeline'], buckets: MS_BUCKETS, registers });
    this.transactions = new client.Counter({ name: 'streamscore_transactions_total', help: 'Output transactions (or at-least-once commits), by result', labelNames: ['pipeline', 'result'], registers });
    this.commitMs = new client.Histogram({ name: 'streamscore_commit_ms', help: 'Send + offsets + commit time per transaction, ms', labelNames: ['pipeline'], buckets: MS_BUCKETS, registers });
    this.consumerLag = new client.Gauge({ name: 'streamscore_consumer_lag', help: 'Input records not committed yet, per assigned partition: fetched and waiting, plus not fetched (refreshed on a timer)', labelNames: ['pipeline', 'topic', 'partition'], registers });
    this.partitionStalled = new client.Gauge({ name: 'streamscore_partition_stalled', help: '1 while an assigned partition has records waiting and no commit for delivery.stallTimeoutMs', labelNames: ['pipeline', 'topic', 'partition'], registers });
    this.retries = new client.Counter({ name: 'streamscore_retries_total', help: 'Operations tried again after a retryable failure (a transaction, opening a producer, decoding), by error code', labelNames: ['pipeline', 'code'], registers });
    this.outstandingRecords = new client.Gauge({ name: 'streamscore_outstanding_records', help: 'Records between fetch and commit (queued, being scored, or in an open transaction)', labelNames: ['pipeline'], registers });
    this.pausedPartitions = new client.Gauge({ name: 'streamscore_paused_partitions', help: 'Input partitions paused for backpressure', labelNames: ['pipeline'], registers });
    this.queuedRecords = new client.Gauge({ name: 'streamscore_queued_records', help: 'Records waiting in the batcher', labelNames: ['pipeline'], registers });
    this.assignedPartitions = new client.Gauge({ name: 'streamscore_assigned_partitions', help: 'Input partitions assigned to this instance', labelNames: ['pipeline'], registers });
    this.modelSwaps = new client.Counter({ name: 'streamscore_model_swaps_total', help: 'Model changes asked for, by result (swapped, mismatch, load_failed)', labelNames: ['pipeline', 'result'], registers });
    this.shadowCompared = new client.Counter({ name: 'streamscore_shadow_compared_total', help: 'Scored inputs the shadow model also scored (committed to the shadow topic)', labelNames: ['pipeline'], registers });
    this.shadowAgreed = new client.Counter({ name: 'streamscore_shadow_agreed_total', help: 'Of those, the ones where shadow and primary made the same alert decision', labelNames: ['pipeline'], registers });
    this.shadowAgreementRatio = new client.Gauge({ name: 'streamscore_shadow_agreement_ratio', help: 'Alert agreement of the current shadow with the primary since it was set (agreed / compared)', labelNames: ['pipeline'], registers });
    this.shadowScoreDifference = new client.Histogram({ name: 'streamscore_shadow_score_difference', help: '|shadow score - primary score| per compared input', labelNames: ['pipeline'], buckets: [1e-6, 1e-4, 0.001, 0.01, 0.05, 0.1, 0.2, 0.5, 1], registers });
    this.shadowInferenceMs = new client.Histogram({ name: 'streamscore_shadow_inference_ms', help: 'ONNX Runtime run() time of the shadow model per batch, ms', labelNames: ['pipeline'], buckets: MS_BUCKETS, registers });
    this.shadowFailures = new client.Counter({ name: 'streamscore_shadow_failures_total', help: 'Batches the shadow model failed to score (no shadow records for them; primary outputs unaffected)', labelNames: ['pipeline'], registers });
    this.canaryShare = new client.Gauge({ name: 'streamscore_canary_share', help: 'Share of keys a canary model decides (0: no canary)', labelNames: ['pipeline'], registers });
    this.canaryScored = new client.Counter({ name: 'streamscore_canary_scored_total', help: 'Records scored by the canary model (its outputs are the real ones for its keys)', labelNames: ['pipeline'], registers });
    this.canaryRemovals = new client.Counter({ name: 'streamscore_canary_removals_total', help: 'Canaries taken off by a guard, by reason (alert_rate, error_rate)', labelNames: ['pipeline', 'reason'], registers });
    this.featurePsi = new client.Gauge({ name: 'streamscore_feature_psi', help: 'Population stability index of a model input over the last drift.window records against the training baseline', labelNames: ['pipeline', 'feature'], registers });
    this.scorePsi = new client.Gauge({ name: 'streamscore_score_psi', help: 'Population stability index of the score over the last drift.window records against the training baseline', labelNames: ['pipeline'], registers });
    this.driftEvents = new client.Counter({ name: 'streamscore_drift_events_total', help: 'Inputs (or the score) found over drift.psiAlert, at most once per window each', labelNames: ['pipeline', 'feature'], registers });
    this.modelInfo = new client.Gauge({ name: 'streamscore_model_info', help: 'The model a pipeline runs (value 1)', labelNames: ['pipeline', 'model', 'version', 'execution_provider'], registers });
  }

  static withProcessMetrics(registry: Registry): Metrics {
    client.collectDefaultMetrics({ register: registry, prefix: 'streamscore_' });
    return new Metrics(registry);
  }
}

export { client as promClient };
