/**
 * Fault injection for the chaos suite only: with STREAMSCORE_CHAOS_KILL_AT set to a point in
 * the transaction (after-send, after-offsets, during-commit), the process kills itself with
 * SIGKILL the STREAMSCORE_CHAOS_KILL_AFTER-th time it reaches that point (default 5). Unset,
 * as everywhere but the chaos runner, each call is one comparison.
 */
export type ChaosPoint = 'after-send' | 'after-offsets' | 'during-commit';

const killAt = process.env.STREAMSCORE_CHAOS_KILL_AT as ChaosPoint | undefined;
const killAfter = Number(process.env.STREAMSCORE_CHAOS_KILL_AFTER ?? 5);
let reached = 0;

export function chaosPoint(point: ChaosPoint): void {
  if (killAt !== point) return;
  if (++reached >= killAfter) process.kill(process.pid, 'SIGKILL');
}
