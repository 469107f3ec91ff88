import fs from 'node:fs';
import type { Admin, Kafka } from 'kafkajs';
import { waitFor } from '../src/util/wait.js';
import { readAll } from '../test/support/read.js';

export const PARTITIONS = 12;

export interface Timing {
  seconds: number;
  perSec: number;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

export async function endOffsets(admin: Admin, topic: string): Promise<Map<number, string>> {
  return new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, p.high]));
}

/** Resolves when the group's committed offsets reach the topic's end on every partition. */
export async function groupCaughtUp(admin: Admin, group: string, topic: string, timeoutMs: number): Promise<void> {
  const ends = await endOffsets(admin, topic);
  await waitFor(async () => {
    const [offsets] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    return offsets!.partitions.every((p) => p.offset === ends.get(p.partition));
  }, { timeoutMs, intervalMs: 100, what: `group ${group} to reach the end of ${topic}` });
}

/** Committed messages in a topic, read to its end under read_committed (transaction markers are not counted). */
export async function countMessages(kafka: Kafka, topic: string): Promise<number> {
  return (await readAll(kafka, topic, 300_000)).length;
}

/** Peak resident set of a process, from /proc (Linux). */
export function peakRssMb(pid: number): number {
  try {
    const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmHWM:'));
    return Math.round(Number(line?.split(/\s+/)[1] ?? 0) / 1024);
  } catch {
    return 0;
  }
}

export const timing = (count: number, ms: number): Timing => ({ seconds: +(ms / 1000).toFixed(2), perSec: Math.round(count / (ms / 1000)) });
