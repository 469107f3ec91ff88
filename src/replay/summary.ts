/** What a replay run did, for people (formatSummary) and machines (--json: this object as JSON). */
export interface PartitionSummary {
  topic: string;
  partition: number;
  /** The replay's range of this partition, [start, end), fixed by its first run. */
  start: string;
  end: string;
  /** Where this run began (start, or where an earlier run of this replay stopped). */
  resumedAt: string;
  /** Where this run left it: end once complete. */
  position: string;
  /** Records this run read in range (scored + dead-lettered). */
  records: number;
  scored: number;
  deadLettered: number;
  /** Records inside the offsets but outside a --from / --to time: not replayed. */
  skippedByTime: number;
}

/** Live × replay, over the source positions both scored. */
export interface Confusion {
  bothAlert: number;
  liveOnly: number;
  replayOnly: number;
  neither: number;
}

export interface CompareSummary {
  liveTopic: string;
  /** Source positions scored by both the live pipeline and this replay. */
  compared: number;
  /** Replayed positions with no live scored record (dead-lettered live, or not scored yet). */
  missingLive: number;
  maxAbsDelta: number;
  /** Share of compared records with |live − replay| ≤ 1e-6. */
  agreement: number;
  confusion: Confusion;
}

export interface ReplaySummary {
  replayId: string;
  pipeline: string;
  model: { name: string; version: string };
  output: string;
  transactionalId: string;
  groupId: string;
  /** An earlier run of this replay had committed progress, and this one went on from there. */
  resumed: boolean;
  /** Every partition read to its end. */
  complete: boolean;
  /** Stopped by a signal before the end; the same command resumes. */
  interrupted: boolean;
  partitions: PartitionSummary[];
  records: number;
  scored: number;
  deadLettered: number;
  /** Scored records at or above the threshold (no alert record is written by a replay). */
  alerts: number;
  skippedByTime: number;
  seconds: number;
  ratePerSecond: number;
  compare?: CompareSummary;
}

const n = (v: number) => v.toLocaleString('en-US');

/** The summary as a person reads it. */
export function formatSummary(s: ReplaySummary): string {
  const state = s.complete ? 'complete' : s.interrupted ? 'interrupted' : 'stopped';
  const lines = [
    `replay '${s.replayId}' of pipeline '${s.pipeline}' with ${s.model.name}@${s.model.version} → ${s.output}: ${state}${s.resumed ? ' (resumed)' : ''}`,
    `  ${n(s.records)} records in ${s.seconds.toFixed(1)} s (${n(Math.round(s.ratePerSecond))}/s): ${n(s.scored)} scored, ${n(s.deadLettered)} dead-lettered, ${n(s.alerts)} would alert` +
      (s.skippedByTime ? `, ${n(s.skippedByTime)} outside the time range` : ''),
    '  partition            range [start, end)        this run          records',
    ...s.partitions.map((p) => `  ${`${p.topic}:${p.partition}`.padEnd(20)} ${`[${p.start}, ${p.end})`.padEnd(25)} ${`${p.resumedAt} → ${p.position}`.padEnd(17)} ${n(p.records)}`),
  ];
  if (s.compare) {
    const c = s.compare;
    lines.push(
      `  compared with ${c.liveTopic}: ${n(c.compared)} records` + (c.missingLive ? ` (${n(c.missingLive)} replayed with no live score)` : ''),
      `    score agreement: ${(c.agreement * 100).toFixed(2)} % within 1e-6, max |Δ| ${c.maxAbsDelta.toExponential(2)}`,
      '    alerts            replay: alert   replay: no alert',
      `    live: alert       ${n(c.confusion.bothAlert).padStart(13)}   ${n(c.confusion.liveOnly).padStart(16)}`,
      `    live: no alert    ${n(c.confusion.replayOnly).padStart(13)}   ${n(c.confusion.neither).padStart(16)}`,
    );
  }
  lines.push(`  transactional id and offsets group: ${s.groupId}`);
  return `${lines.join('\n')}\n`;
}
