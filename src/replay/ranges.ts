import { StreamscoreError } from '../errors.js';
import { type TopicPartition, partitionKey } from '../kafka/records.js';

/**
 * Where a replay starts and ends, per input partition: given as a bound (`--from earliest`,
 * `--to end`, an ISO time, or `P:OFFSET,…`), resolved against the cluster once, when the
 * first run starts, and stored with the replay's committed offsets so that a resumed run
 * reads exactly the range the first one fixed.
 */
export type Bound =
  | { kind: 'earliest' }
  | { kind: 'end' }
  | { kind: 'time'; ms: number }
  | { kind: 'offsets'; offsets: { topic?: string; partition: number; offset: bigint }[] };

/** One input partition's replay: offsets [start, end), and the time bounds records must meet when given by time. */
export interface ReplayRange {
  tp: TopicPartition;
  start: bigint;
  end: bigint;
  /** Records with timestamps before this are skipped (a --from time). */
  fromMs?: number;
  /** Records with timestamps at or after this are skipped (a --to time). */
  toMs?: number;
}

const ISO = /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/;
/** Kafka topic names are [a-zA-Z0-9._-]: a ':' can only separate. */
const POSITION = /^(?:([a-zA-Z0-9._-]+):)?(\d+):(\d+)$/;

function usage(message: string): StreamscoreError {
  return new StreamscoreError('CLI_USAGE', message);
}

/** Parses `--from` (earliest | ISO time | P:OFFSET,…) or `--to` (end | ISO time | P:OFFSET,…). */
export function parseBound(text: string, which: 'from' | 'to'): Bound {
  if (which === 'from' && text === 'earliest') return { kind: 'earliest' };
  if (which === 'to' && text === 'end') return { kind: 'end' };
  if (ISO.test(text)) {
    const ms = Date.parse(text);
    if (Number.isNaN(ms)) throw usage(`--${which} ${text}: not a valid time`);
    return { kind: 'time', ms };
  }
  const offsets = text.split(',').map((item) => {
    const m = POSITION.exec(item.trim());
    if (!m) throw usage(`--${which} ${text}: expected ${which === 'from' ? 'earliest' : 'end'}, an ISO time (2025-01-31T12:00:00Z) or PARTITION:OFFSET[,…] (TOPIC:PARTITION:OFFSET with several inputs)`);
    return { topic: m[1], partition: Number(m[2]), offset: BigInt(m[3]!) };
  });
  return { kind: 'offsets', offsets };
}

/** What resolving needs from the cluster (src/kafka/admin.ts), read_committed. */
export interface RangeAdmin {
  offsetRanges(topic: string): Promise<Map<number, { start: bigint; end: bigint }>>;
  offsetsForTimestamp(topic: string, timestampMs: number): Promise<Map<number, bigint>>;
}

const minOffset = (a: bigint, b: bigint) => (a < b ? a : b);

function invalid(message: string): StreamscoreError {
  return new StreamscoreError('REPLAY_RANGE_INVALID', message);
}

async function resolveBound(admin: RangeAdmin, topic: string, bound: Bound, limits: Map<number, { start: bigint; end: bigint }>, which: 'from' | 'to'): Promise<Map<number, bigint>> {
  const byTime = bound.kind === 'time' ? await admin.offsetsForTimestamp(topic, bound.ms) : undefined;
  const out = new Map<number, bigint>();
  for (const [partition, { start, end }] of limits) {
    let offset = which === 'from' ? start : end;
    // ListOffsets answers after `limits` was read: a record arriving between the two could put
    // a time past the end read first. Clamped, such a partition's range is just empty.
    if (byTime) offset = minOffset(byTime.get(partition) ?? end, end);
    if (bound.kind === 'offsets') {
      const given = bound.offsets.find((o) => o.partition === partition && (o.topic === undefined || o.topic === topic));
      if (given) {
        if (given.offset < start || given.offset > end) throw invalid(`--${which} ${topic}:${partition}:${given.offset} is outside the partition's offsets [${start}, ${end}]`);
        offset = given.offset;
      }
    }
    out.set(partition, offset);
  }
  return out;
}

/**
 * Resolves --from / --to against the inputs' current offsets: a time is the first offset
 * whose timestamp is at or after it (ListOffsets), `end` the last stable offset (everything
 * below it is committed or aborted, so reading there always terminates), a partition not
 * named in an offset list takes the default (earliest / end).
 */
export async function resolveRanges(admin: RangeAdmin, topics: readonly string[], from: Bound, to: Bound): Promise<ReplayRange[]> {
  if (from.kind === 'time' && to.kind === 'time' && from.ms > to.ms) throw invalid(`--from ${new Date(from.ms).toISOString()} is after --to ${new Date(to.ms).toISOString()}`);
  const ranges: ReplayRange[] = [];
  const named = new Set<string>();
  for (const topic of topics) {
    const limits = await admin.offsetRanges(topic);
    const starts = await resolveBound(admin, topic, from, limits, 'from');
    const ends = await resolveBound(admin, topic, to, limits, 'to');
    for (const partition of [...limits.keys()].sort((a, b) => a - b)) {
      const tp = { topic, partition };
      named.add(partitionKey(tp));
      const start = starts.get(partition)!;
      const end = ends.get(partition)!;
      if (start > end) throw invalid(`${topic}:${partition}: --from resolves to offset ${start}, after --to at ${end}`);
      ranges.push({ tp, start, end, fromMs: from.kind === 'time' ? from.ms : undefined, toMs: to.kind === 'time' ? to.ms : undefined });
    }
  }
  for (const bound of [from, to]) {
    if (bound.kind !== 'offsets') continue;
    for (const o of bound.offsets) {
      const known = o.topic ? named.has(partitionKey({ topic: o.topic, partition: o.partition })) : topics.some((t) => named.has(partitionKey({ topic: t, partition: o.partition })));
      if (!known) throw invalid(`${o.topic ? `${o.topic}:` : ''}${o.partition}: no such input partition (inputs: ${topics.join(', ')})`);
    }
  }
  return ranges;
}

/** A record's timestamp is inside the range's time bounds (always, for bounds given by offset). */
export function inTimeRange(range: ReplayRange, timestampMs: number): boolean {
  return (range.fromMs === undefined || timestampMs >= range.fromMs) && (range.toMs === undefined || timestampMs < range.toMs);
}

/** What a replay writes and scores with: a resumed run must use the same, or one replay would mix two. */
export interface ReplayTarget {
  output: string;
  /** The model file's absolute path. */
  model: string;
}

interface StoredRange extends Partial<ReplayTarget> {
  replay: 1;
  start: string;
  end: string;
  fromMs?: number;
  toMs?: number;
}

/** The range (and where the replay writes, with which model) as committed beside each partition's offset (OffsetCommit metadata, well under its 4 KiB cap). */
export function encodeRange(r: ReplayRange, target: ReplayTarget): string {
  const stored: StoredRange = { replay: 1, start: r.start.toString(), end: r.end.toString(), fromMs: r.fromMs, toMs: r.toMs, output: target.output, model: target.model };
  return JSON.stringify(stored);
}

function decodeRange(tp: TopicPartition, metadata: string | null): { range: ReplayRange; target?: ReplayTarget } | undefined {
  if (!metadata) return undefined;
  try {
    const s = JSON.parse(metadata) as StoredRange;
    if (s.replay !== 1) return undefined;
    // Runs from before the target was stored have none: nothing to check them against.
    const target = s.output !== undefined && s.model !== undefined ? { output: s.output, model: s.model } : undefined;
    return { range: { tp, start: BigInt(s.start), end: BigInt(s.end), fromMs: s.fromMs, toMs: s.toMs }, target };
  } catch {
    return undefined;
  }
}

/** A partition's committed state in the replay's group: offset -1n when nothing is committed. */
export interface CommittedRange {
  tp: TopicPartition;
  offset: bigint;
  metadata: string | null;
}

/** A resumed replay: the first run's ranges and target, and where the last committed transaction left each partition. */
export interface Resume {
  ranges: ReplayRange[];
  positions: Map<string, bigint>;
  target?: ReplayTarget;
}

/**
 * The stored ranges when the replay's group has committed offsets (a run with this --id
 * was here before), else undefined: a first run. Offsets committed by anything other than a
 * replay (no range beside them) are refused, rather than guessed at.
 */
export function resumeFrom(committed: readonly CommittedRange[]): Resume | undefined {
  const present = committed.filter((c) => c.offset >= 0n);
  if (!present.length) return undefined;
  const ranges: ReplayRange[] = [];
  const positions = new Map<string, bigint>();
  let target: ReplayTarget | undefined;
  for (const c of present) {
    const stored = decodeRange(c.tp, c.metadata);
    if (!stored) throw invalid(`${partitionKey(c.tp)} has a committed offset (${c.offset}) without a replay range beside it: this group was not written by a replay; choose another --id`);
    const { range } = stored;
    if (c.offset < range.start || c.offset > range.end) throw invalid(`${partitionKey(c.tp)}: committed offset ${c.offset} is outside its stored range [${range.start}, ${range.end})`);
    ranges.push(range);
    positions.set(partitionKey(c.tp), c.offset);
    target ??= stored.target;
  }
  return { ranges, positions, target };
}
