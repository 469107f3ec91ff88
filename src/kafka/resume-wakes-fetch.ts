import { createRequire } from 'node:module';

/**
 * kafkajs 2.2.4's fetch loop, finding every partition it would fetch paused, sleeps
 * maxWaitTime (our fetchMaxWaitMs) before it looks again, and nothing cuts that sleep short:
 * a resume waits it out with nothing fetched. At full speed the pipeline pauses every
 * partition at `maxQueuedRecords` and resumes at half, so each resume cost up to 100 ms of
 * idle: a full-speed drain ran at ~28,000 events/s, and at ~35,000 with a 10 ms fetch wait
 * (`npm run bench:profile -- --memory --built`). Here, a fetch with nothing active on its
 * broker waits until the group resumes a partition (or maxWaitTime passes), then returns no
 * batches, as kafkajs's own sleep does, and the loop fetches again at once.
 */
const require = createRequire(import.meta.url);

interface TopicPartitions {
  topic: string;
  partitions: number[];
}

interface ConsumerGroupInternals {
  maxWaitTime: number;
  subscriptionState: { active(): TopicPartitions[] };
  cluster: { refreshMetadataIfNecessary(): Promise<void> };
  filterPartitionsByNode(nodeId: number, topicPartitions: TopicPartitions[]): TopicPartitions[];
  checkForStaleAssignment(): void;
  recoverFromFetch(err: unknown): Promise<void>;
  fetch(nodeId: number): Promise<unknown[]>;
  resume(topicPartitions: unknown): void;
}

const ConsumerGroup = require('kafkajs/src/consumer/consumerGroup.js') as { prototype: ConsumerGroupInternals };
const kafkajsFetch = ConsumerGroup.prototype.fetch;
const kafkajsResume = ConsumerGroup.prototype.resume;

/** Per consumer group: the fetches waiting for a resume. */
const waiting = new WeakMap<ConsumerGroupInternals, Set<() => void>>();

function untilResumed(group: ConsumerGroupInternals, timeoutMs: number): Promise<void> {
  const wakers = waiting.get(group) ?? new Set();
  waiting.set(group, wakers);
  return new Promise((resolve) => {
    const wake = () => {
      clearTimeout(timer);
      wakers.delete(wake);
      resolve();
    };
    const timer = setTimeout(wake, timeoutMs);
    wakers.add(wake);
  });
}

ConsumerGroup.prototype.fetch = async function (this: ConsumerGroupInternals, nodeId: number): Promise<unknown[]> {
  const active = this.filterPartitionsByNode(nodeId, this.subscriptionState.active());
  if (active.some((t) => t.partitions.length)) return kafkajsFetch.call(this, nodeId);
  // What kafkajs's fetch checks before its sleep still runs: a changed topic is found while paused.
  try {
    await this.cluster.refreshMetadataIfNecessary();
    this.checkForStaleAssignment();
  } catch (err) {
    await this.recoverFromFetch(err);
    return [];
  }
  await untilResumed(this, this.maxWaitTime);
  return [];
};

ConsumerGroup.prototype.resume = function (this: ConsumerGroupInternals, topicPartitions: unknown): void {
  kafkajsResume.call(this, topicPartitions);
  for (const wake of [...(waiting.get(this) ?? [])]) wake();
};
