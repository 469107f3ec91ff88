import type { KafkaConfig, PipelineConfig } from '../config/types.js';
import type { StreamscoreError } from '../errors.js';
import type { KafkaAdmin } from '../kafka/admin.js';
import type { KafkaClient } from '../kafka/client.js';
import type { TopicPartition } from '../kafka/records.js';
import type { RecordProducer } from '../kafka/producer.js';
import { AtLeastOnceOutput, TransactionalOutput, instanceTransactionalId } from '../kafka/sink.js';
import type { GroupSource } from '../kafka/source.js';
import type { Clock, Timers } from '../observability/clock.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { OutputCommitter } from '../sink/committer.js';
import { PartitionSink } from '../sink/partition-sink.js';
import { DEFAULT_RETRY } from '../util/backoff.js';

export interface CommitterContext {
  pipeline: PipelineConfig;
  kafka: KafkaConfig;
  client: KafkaClient;
  admin: KafkaAdmin;
  source: GroupSource;
  /** The at-least-once pipeline's shared producer. */
  shared: RecordProducer | undefined;
  metrics: Metrics;
  clock: Clock;
  timers: Timers;
  logger: Logger;
  onSettled: () => void;
  onTrouble: (err: StreamscoreError | undefined) => void;
}

/** The pipeline instance's commit cadence over the output its delivery mode needs, reporting into its metrics. */
export function createCommitter(c: CommitterContext): OutputCommitter {
  const { pipeline: cfg, metrics } = c;
  const output = cfg.delivery.mode === 'exactly-once'
    ? new TransactionalOutput({
        client: c.client, admin: c.admin, groupId: cfg.groupId, transactionTimeoutMs: c.kafka.transactionTimeoutMs,
        transactionalId: instanceTransactionalId(cfg.groupId), groupMetadata: () => c.source.groupMetadata(),
      })
    : new AtLeastOnceOutput({ admin: c.admin, groupId: cfg.groupId, producer: c.shared!, commitOffsets: (offsets) => c.source.commit(offsets) });
  const pipeline = cfg.name;
  return new OutputCommitter({
    output, commitIntervalMs: cfg.delivery.commitIntervalMs, retry: DEFAULT_RETRY,
    maxRecordsPerTransaction: Math.max(1, Math.floor(cfg.batching.maxQueuedRecords / 4)),
    clock: c.clock, timers: c.timers, logger: c.logger,
    onTransaction: (result, ms) => {
      metrics.transactions.inc({ pipeline, result });
      if (result === 'committed') metrics.commitMs.observe({ pipeline }, ms);
    },
    onRetry: (err) => metrics.retries.inc({ pipeline, code: err.code }),
    onSettled: c.onSettled,
    onTrouble: c.onTrouble,
  });
}

export interface PartitionSinkContext {
  tp: TopicPartition;
  pipeline: PipelineConfig;
  committer: OutputCommitter;
  metrics: Metrics;
  clock: Clock;
  timers: Timers;
  logger: Logger;
  rewind: (offset: bigint) => void;
  onSettled: () => void;
  onTrouble: (err: StreamscoreError | undefined) => void;
}

/** A partition's side of the commit cadence, reporting into the pipeline's metrics. */
export function createPartitionSink(c: PartitionSinkContext): PartitionSink {
  const sink = new PartitionSink({
    tp: c.tp, committer: c.committer, retry: DEFAULT_RETRY,
    clock: c.clock, timers: c.timers, logger: c.logger.child({ topic: c.tp.topic, partition: c.tp.partition }),
    rewind: c.rewind,
    onRetry: (err) => c.metrics.retries.inc({ pipeline: c.pipeline.name, code: err.code }),
    onSettled: c.onSettled,
    onTrouble: c.onTrouble,
  });
  c.committer.register(sink);
  return sink;
}
