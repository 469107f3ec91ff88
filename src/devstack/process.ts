import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { waitFor } from '../util/wait.js';

/**
 * A background server this project started: its pid lives in `<dir>/<name>.pid`, its output
 * in `<dir>/<name>.log`. A pid is only trusted while /proc says that process's command line
 * still contains `marker`, so a recycled pid is never mistaken for ours (and never killed).
 */
export interface ManagedProcess {
  name: string;
  dir: string;
  marker: string;
}

const pidFile = (p: ManagedProcess) => path.join(p.dir, `${p.name}.pid`);
export const logFile = (p: ManagedProcess) => path.join(p.dir, `${p.name}.log`);

function commandLine(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return undefined;
  }
}

function isOurs(pid: number, marker: string): boolean {
  if (process.platform !== 'linux') {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
  return commandLine(pid)?.includes(marker) ?? false;
}

/** The pid of our running process, or undefined (a stale pid file is removed). */
export function runningPid(p: ManagedProcess): number | undefined {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(pidFile(p), 'utf8').trim());
  } catch {
    return undefined;
  }
  if (Number.isInteger(pid) && pid > 0 && isOurs(pid, p.marker)) return pid;
  fs.rmSync(pidFile(p), { force: true });
  return undefined;
}

/** Starts `command` detached from this process (it outlives `dev:up`), logging to the log file. */
export function startDetached(p: ManagedProcess, command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): number {
  fs.mkdirSync(p.dir, { recursive: true });
  // Each start gets a fresh log (the previous one is kept beside it), so readiness checks
  // that read the log never see an earlier run's lines.
  if (fs.existsSync(logFile(p))) fs.renameSync(logFile(p), `${logFile(p)}.previous`);
  const out = fs.openSync(logFile(p), 'w');
  const child = spawn(command, args, { cwd, env, detached: true, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  if (child.pid === undefined) throw new Error(`could not start ${p.name}: ${command}`);
  child.unref();
  fs.writeFileSync(pidFile(p), `${child.pid}\n`);
  return child.pid;
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL. Only ever the pid we recorded. */
export async function stopProcess(p: ManagedProcess, graceMs = 20_000): Promise<boolean> {
  const pid = runningPid(p);
  if (pid === undefined) return false;
  process.kill(pid, 'SIGTERM');
  try {
    await waitFor(() => !isOurs(pid, p.marker), { timeoutMs: graceMs, what: `${p.name} (pid ${pid}) to exit` });
  } catch {
    if (isOurs(pid, p.marker)) process.kill(pid, 'SIGKILL');
    await waitFor(() => !isOurs(pid, p.marker), { timeoutMs: 5_000, what: `${p.name} (pid ${pid}) to die` });
  }
  fs.rmSync(pidFile(p), { force: true });
  return true;
}

/** The last lines of a log, for error messages when a server fails to come up. */
export function logTail(p: ManagedProcess, lines = 15): string {
  try {
    return fs.readFileSync(logFile(p), 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
