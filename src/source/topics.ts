import type { Admin } from 'kafkajs';
import { waitFor } from '../util/wait.js';

/**
 * Creates topics and waits until every partition has a leader. kafkajs's own wait
 * (waitForLeaders) gives up on UNKNOWN_TOPIC_OR_PARTITION, which a broker that has just
 * started answers for a new topic for a moment; this wait retries through it.
 */
export async function createTopicsAndWait(admin: Admin, topics: { topic: string; numPartitions: number }[], timeoutMs = 30_000): Promise<void> {
  await admin.createTopics({ waitForLeaders: false, topics: topics.map((t) => ({ ...t, replicationFactor: 1 })) });
  await waitFor(async () => {
    const { topics: meta } = await admin.fetchTopicMetadata({ topics: topics.map((t) => t.topic) });
    return meta.every((m) => m.partitions.length === topics.find((t) => t.topic === m.name)!.numPartitions && m.partitions.every((p) => p.leader >= 0));
  }, { timeoutMs, intervalMs: 100, what: `leaders for ${topics.map((t) => t.topic).join(', ')}` });
}
