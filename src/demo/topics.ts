import type { KafkaAdmin } from '../kafka/admin.js';

/** The demo's topics and their partition counts (automatic creation is off on purpose). */
export const DEMO = {
  fraud: { input: 'transactions', scored: 'transactions.scored', alerts: 'fraud-alerts', dlq: 'transactions.dlq', shadow: 'transactions.shadow' },
  iot: { input: 'sensor-readings', scored: 'sensor-readings.scored', alerts: 'anomaly-flags', dlq: 'sensor-readings.dlq' },
} as const;

export const DEMO_PARTITIONS = 6;

/** Creates whatever is missing; returns the names it created. */
export async function ensureDemoTopics(admin: KafkaAdmin): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const wanted = Object.values(DEMO).flatMap((t) => Object.values(t));
  const missing = wanted.filter((t) => !existing.has(t));
  if (missing.length) {
    await admin.createTopics(missing.map((topic) => ({ topic, numPartitions: DEMO_PARTITIONS })));
  }
  return missing;
}
