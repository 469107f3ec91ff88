import type { KafkaAdmin } from '../kafka/admin.js';
import type { KafkaClient } from '../kafka/client.js';
import { type PartitionReaderOptions, PartitionRangeReader } from '../kafka/partition-reader.js';
import { type ConsumedRecord, headerText, partitionKey } from '../kafka/records.js';
import { HEADER } from '../sink/output-records.js';
import type { ReplayRange } from './ranges.js';
import { REPLAY_ID_HEADER } from './replay-scorer.js';
import type { CompareSummary } from './summary.js';

/** Scores that agree to this are the same score (float32 outputs, and batch shapes that may differ). */
export const AGREEMENT_TOLERANCE = 1e-6;

export interface CompareDeps {
  client: KafkaClient;
  admin: KafkaAdmin;
  reader: PartitionReaderOptions;
  /** A scored record's value, decoded (Avro through the registry, or JSON). */
  decode(value: Buffer | null): Promise<unknown>;
}

interface Verdict {
  score: number;
  alert: boolean;
}

/**
 * Reads a whole topic, read_committed, to its high watermark when called: a transaction
 * committed but not yet marked (the replay's last, an instant ago) is waited for, not missed.
 */
export async function scanTopic(deps: Pick<CompareDeps, 'client' | 'admin' | 'reader'>, topic: string, each: (r: ConsumedRecord) => Promise<void>): Promise<void> {
  const limits = await deps.admin.highWatermarkRanges(topic);
  const reader = new PartitionRangeReader(deps.client, [...limits].map(([partition, { start, end }]) => ({ tp: { topic, partition }, start, end })), deps.reader);
  try {
    for (let batches = await reader.next(); batches; batches = await reader.next()) {
      for (const b of batches) for (const r of b.records) await each(r);
    }
  } finally {
    await reader.close();
  }
}

async function verdict(deps: CompareDeps, r: ConsumedRecord): Promise<Verdict | undefined> {
  const v = (await deps.decode(r.value)) as { score?: unknown; alert?: unknown } | null;
  return v && typeof v.score === 'number' && typeof v.alert === 'boolean' ? { score: v.score, alert: v.alert } : undefined;
}

/**
 * Joins this replay's output with the live scored topic by source position (the
 * `streamscore-source` header both carry): score agreement and the alert confusion matrix.
 * Reads the replay's whole output (its records only, by replay-id header, within its ranges),
 * then the live topic, so a resumed replay is compared over everything it wrote.
 */
export async function compareWithLive(deps: CompareDeps, o: { replayId: string; output: string; liveTopic: string; ranges: readonly ReplayRange[] }): Promise<CompareSummary> {
  const ranges = new Map(o.ranges.map((r) => [partitionKey(r.tp), r]));
  const inRange = (source: string | undefined) => {
    const m = source ? /^(.+)\/(\d+)\/(\d+)$/.exec(source) : null;
    const range = m ? ranges.get(partitionKey({ topic: m[1]!, partition: Number(m[2]) })) : undefined;
    return range !== undefined && BigInt(m![3]!) >= range.start && BigInt(m![3]!) < range.end;
  };
  const replayed = new Map<string, Verdict>();
  await scanTopic(deps, o.output, async (r) => {
    const source = headerText(r.headers, HEADER.source);
    if (headerText(r.headers, REPLAY_ID_HEADER) !== o.replayId || !inRange(source)) return;
    const v = await verdict(deps, r);
    if (v) replayed.set(source!, v);
  });
  const result: CompareSummary = {
    liveTopic: o.liveTopic, compared: 0, missingLive: 0, maxAbsDelta: 0, agreement: 1,
    confusion: { bothAlert: 0, liveOnly: 0, replayOnly: 0, neither: 0 },
  };
  let agreeing = 0;
  await scanTopic(deps, o.liveTopic, async (r) => {
    const source = headerText(r.headers, HEADER.source);
    const replay = source ? replayed.get(source) : undefined;
    if (!replay) return;
    const live = await verdict(deps, r);
    if (!live) return;
    // At-least-once live output may hold a position twice: it is compared once.
    replayed.delete(source!);
    result.compared++;
    const delta = Math.abs(live.score - replay.score);
    result.maxAbsDelta = Math.max(result.maxAbsDelta, delta);
    if (delta <= AGREEMENT_TOLERANCE) agreeing++;
    const c = result.confusion;
    if (live.alert && replay.alert) c.bothAlert++;
    else if (live.alert) c.liveOnly++;
    else if (replay.alert) c.replayOnly++;
    else c.neither++;
  });
  result.missingLive = replayed.size;
  result.agreement = result.compared ? agreeing / result.compared : 1;
  return result;
}
