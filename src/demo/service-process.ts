import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { paths, projectRoot } from '../devstack/paths.js';
import { type ManagedProcess, logFile, logTail, runningPid, startDetached } from '../devstack/process.js';
import { StreamscoreError } from '../errors.js';
import { NODE_MEMORY_FLAGS } from '../runtime/heap-growth.js';
import { waitFor } from '../util/wait.js';

export const DEMO_CONFIG = path.join(projectRoot, 'deploy/demo.yaml');

/** The demo service's HTTP address (/metrics, /readyz), read from its config so the two never disagree. */
export function demoServiceUrl(): string {
  const { http } = YAML.parse(fs.readFileSync(DEMO_CONFIG, 'utf8')) as { http: { host: string; port: number } };
  return `http://${http.host}:${http.port}`;
}

/** The demo's streamscore, a background process like the broker: `dev:down` stops it too. */
export const demoService: ManagedProcess = { name: 'streamscore', dir: path.join(paths.runDir, 'demo'), marker: DEMO_CONFIG };

/** Where the demo keeps its admin token, for `streamscore model …` while it runs. */
export const DEMO_ADMIN_TOKEN_FILE = path.join(demoService.dir, 'admin-token');

/**
 * The demo service's admin token: STREAMSCORE_ADMIN_TOKEN when set; else the one a running demo
 * service was started with; else a new random one. Written to DEMO_ADMIN_TOKEN_FILE (owner only).
 */
export function demoAdminToken(env: NodeJS.ProcessEnv): string {
  const kept = runningPid(demoService) !== undefined && fs.existsSync(DEMO_ADMIN_TOKEN_FILE) ? fs.readFileSync(DEMO_ADMIN_TOKEN_FILE, 'utf8').trim() : undefined;
  const token = env.STREAMSCORE_ADMIN_TOKEN || kept || crypto.randomBytes(24).toString('hex');
  fs.mkdirSync(demoService.dir, { recursive: true });
  fs.writeFileSync(DEMO_ADMIN_TOKEN_FILE, `${token}\n`, { mode: 0o600 });
  return token;
}

export function startDemoService(env: NodeJS.ProcessEnv): { started: boolean; pid: number } {
  const running = runningPid(demoService);
  if (running !== undefined) return { started: false, pid: running };
  const tsx = path.join(projectRoot, 'node_modules/tsx/dist/esm/index.mjs');
  const pid = startDetached(demoService, process.execPath, [...NODE_MEMORY_FLAGS, '--import', tsx, path.join(projectRoot, 'src/cli/main.ts'), 'run', '--config', DEMO_CONFIG], projectRoot, env);
  return { started: true, pid };
}

/** What /readyz said: ready, or why not. */
async function readiness(url: string): Promise<{ ready: boolean; why: string }> {
  try {
    const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) });
    if (res.status === 200) return { ready: true, why: 'ready' };
    const body = (await res.json().catch(() => ({}))) as { reasons?: string[] };
    return { ready: false, why: body.reasons?.length ? body.reasons.join('; ') : `HTTP ${res.status}` };
  } catch {
    return { ready: false, why: 'no answer yet (starting)' };
  }
}

/**
 * Waits until the service's /readyz answers 200 (models loaded, consumers joined): events
 * produced before that queue up behind start-up and dominate the latency figure.
 * `onWaiting` hears, every poll, how long it has waited and what /readyz said. Returns the wait in ms.
 */
export async function waitForDemoService(onWaiting: (waitedMs: number, why: string) => void, timeoutMs = 120_000): Promise<number> {
  const url = demoServiceUrl();
  const began = Date.now();
  let why = 'no answer yet';
  let outcome: 'ready' | 'exited';
  try {
    // 'exited' is returned, not thrown: waitFor retries through throws until its timeout.
    outcome = await waitFor(async () => {
      if (runningPid(demoService) === undefined) return 'exited' as const;
      const r = await readiness(url);
      why = r.why;
      onWaiting(Date.now() - began, why);
      return r.ready && ('ready' as const);
    }, { timeoutMs, intervalMs: 250, what: () => `${url}/readyz to answer 200 (last: ${why})` });
  } catch (err) {
    throw new StreamscoreError('DEMO_SERVICE_FAILED', `streamscore not ready: ${(err as Error).message}\n--- ${logFile(demoService)} ---\n${logTail(demoService, 20)}`);
  }
  if (outcome === 'exited') {
    throw new StreamscoreError('DEMO_SERVICE_FAILED', `streamscore exited before it was ready\n--- ${logFile(demoService)} ---\n${logTail(demoService, 20)}`);
  }
  return Date.now() - began;
}
