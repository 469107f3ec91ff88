/**
 * Fault injection for the chaos suite only. With STREAMSCORE_CHAOS_KILL_AT set to a point in
 * the transaction (after-send, after-offsets, during-commit), the process kills itself with
 * SIGKILL the STREAMSCORE_CHAOS_KILL_AFTER-th time it reaches that point (default 5); with
 * STREAMSCORE_CHAOS_STOP_AT, it stops itself there with SIGSTOP instead (once), so the
 * runner can keep it frozen mid-transaction past the session timeout and wake a zombie that
 * is sure to try to commit. Unset, as everywhere but the chaos runner, each call is two
 * comparisons.
 */
export type ChaosPoint = 'after-send' | 'after-offsets' | 'during-commit';

const killAt = process.env.STREAMSCORE_CHAOS_KILL_AT as ChaosPoint | undefined;
const stopAt = process.env.STREAMSCORE_CHAOS_STOP_AT as ChaosPoint | undefined;
const after = Number(process.env.STREAMSCORE_CHAOS_KILL_AFTER ?? process.env.STREAMSCORE_CHAOS_STOP_AFTER ?? 5);
let reached = 0;

export function chaosPoint(point: ChaosPoint): void {
  if (killAt !== point && stopAt !== point) return;
  if (++reached === after || (killAt === point && reached > after)) process.kill(process.pid, killAt === point ? 'SIGKILL' : 'SIGSTOP');
}
