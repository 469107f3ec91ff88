import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { kafkaProcess } from '../../src/devstack/kafka.js';
import { runningPid } from '../../src/devstack/process.js';
import { waitFor } from '../../src/util/wait.js';

export interface Stall<T> {
  pid: number;
  stoppedAt: number;
  /** When SIGCONT was sent: recovery is measured from here. */
  returnedAt: number;
  watched: T;
}

/** The scheduler state letter of a process (T = stopped), or undefined where /proc cannot tell. */
export function procState(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/**
 * A detached process that SIGCONTs the broker after `ms` in case this harness dies mid-stall
 * (even by SIGKILL, which no handler sees): the stack is shared, a frozen broker would stall
 * everyone. It re-checks the pid's command line first, as runningPid does.
 */
function armDeadManSwitch(pid: number, ms: number): () => void {
  const script = `const [pid, ms, marker] = process.argv.slice(1);
setTimeout(() => { try { if (require('fs').readFileSync('/proc/' + pid + '/cmdline', 'utf8').includes(marker)) process.kill(Number(pid), 'SIGCONT'); } catch {} }, Number(ms));`;
  const child = spawn(process.execPath, ['-e', script, String(pid), String(ms), kafkaProcess.marker], { detached: true, stdio: 'ignore' });
  child.unref();
  let disarmed = false;
  return () => {
    if (disarmed || child.exitCode !== null || child.pid === undefined) return;
    disarmed = true;
    process.kill(child.pid, 'SIGTERM');
  };
}

/**
 * Freezes the local broker with SIGSTOP for `ms` (the pid from .run/kafka/kafka.pid, trusted
 * only while its command line carries the dev marker), running `watch` meanwhile; `watch`'s
 * signal aborts at SIGCONT. The broker is SIGCONTed whatever happens: finally, on exit, on
 * SIGINT / SIGTERM, and by the dead-man switch.
 */
export async function stallBroker<T>(ms: number, watch: (stalled: AbortSignal) => Promise<T>): Promise<Stall<T>> {
  const pid = runningPid(kafkaProcess);
  if (pid === undefined) throw new Error(`no local broker pid in ${kafkaProcess.dir}`);
  const resume = () => {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // Already gone: nothing left to wake.
    }
  };
  const disarm = armDeadManSwitch(pid, ms + 15_000);
  const release = () => {
    resume();
    disarm();
  };
  const onSignal = (sig: NodeJS.Signals) => {
    release();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.once('exit', release);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const stalled = new AbortController();
  let watching: Promise<T> | undefined;
  let stoppedAt: number;
  let returnedAt: number;
  try {
    process.kill(pid, 'SIGSTOP');
    stoppedAt = Date.now();
    if (procState(pid) !== undefined) {
      await waitFor(() => procState(pid) === 'T', { timeoutMs: 5_000, intervalMs: 10, what: `broker pid ${pid} to stop` });
    }
    watching = watch(stalled.signal);
    watching.catch(() => {}); // awaited below, after the broker is back
    // The stall's length is the fault itself, not a condition to await.
    await delay(Math.max(0, ms - (Date.now() - stoppedAt)));
  } finally {
    release();
    returnedAt = Date.now();
    stalled.abort();
    process.off('exit', release);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (procState(pid) !== undefined) {
    await waitFor(() => procState(pid) !== 'T', { timeoutMs: 5_000, intervalMs: 10, what: `broker pid ${pid} to continue` });
  }
  return { pid, stoppedAt, returnedAt, watched: await watching };
}
