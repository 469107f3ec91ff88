import type { KafkaConfig, PipelineConfig } from '../config/types.js';
import type { StreamscoreError } from '../errors.js';
import type { KafkaAdmin } from '../kafka/admin.js';
import type { KafkaClient } from '../kafka/client.js';
import type { TopicPartition } from '../kafka/records.js';
import type { RecordProducer } from '../kafka/producer.js';
import { AtLeastOnceOutput, TransactionalOutput } from '../kafka/sink.js';
import type { GroupSource } from '../kafka/source.js';
import type { Clock, Timers } from '../observability/clock.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { PartitionSink } from '../sink/partition-sink.js';
import { DEFAULT_RETRY } from '../util/backoff.js';

export interface PartitionSinkContext {
  tp: TopicPartition;
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
  rewind: (offset: bigint) => void;
  onSettled: () => void;
  onTrouble: (err: StreamscoreError | undefined) => void;
}

/** A partition's sink over the output its delivery mode needs, reporting into the pipeline's metrics. */
export function createPartitionSink(c: PartitionSinkContext): PartitionSink {
  const { tp, pipeline: cfg, metrics } = c;
  const output = cfg.delivery.mode === 'exactly-once'
    ? new TransactionalOutput({ client: c.client, admin: c.admin, groupId: cfg.groupId, tp, transactionTimeoutMs: c.kafka.transactionTimeoutMs })
    : new AtLeastOnceOutput({ admin: c.admin, groupId: cfg.groupId, tp, producer: c.shared!, commitOffset: (p, next) => c.source.commit(p, next) });
  const pipeline = cfg.name;
  return new PartitionSink({
    tp, output, commitIntervalMs: cfg.delivery.commitIntervalMs, retry: DEFAULT_RETRY,
    clock: c.clock, timers: c.timers, logger: c.logger.child({ topic: tp.topic, partition: tp.partition }),
    rewind: c.rewind,
    onTransaction: (result, ms) => {
      metrics.transactions.inc({ pipeline, result });
      if (result === 'committed') metrics.commitMs.observe({ pipeline }, ms);
    },
    onRetry: (err) => metrics.retries.inc({ pipeline, code: err.code }),
    onSettled: c.onSettled,
    onTrouble: c.onTrouble,
  });
}
