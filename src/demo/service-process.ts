import fs from 'node:fs';
import path from 'node:path';
import { paths, projectRoot } from '../devstack/paths.js';
import { type ManagedProcess, logFile, logTail, runningPid, startDetached } from '../devstack/process.js';
import { StreamscoreError } from '../errors.js';
import { waitFor } from '../util/wait.js';

export const DEMO_CONFIG = path.join(projectRoot, 'deploy/demo.yaml');

/** The demo's streamscore, a background process like the broker: `dev:down` stops it too. */
export const demoService: ManagedProcess = { name: 'streamscore', dir: path.join(paths.runDir, 'demo'), marker: DEMO_CONFIG };

export function startDemoService(env: NodeJS.ProcessEnv): { started: boolean; pid: number } {
  const running = runningPid(demoService);
  if (running !== undefined) return { started: false, pid: running };
  const tsx = path.join(projectRoot, 'node_modules/tsx/dist/esm/index.mjs');
  const pid = startDetached(demoService, process.execPath, ['--import', tsx, path.join(projectRoot, 'src/cli/main.ts'), 'run', '--config', DEMO_CONFIG], projectRoot, env);
  return { started: true, pid };
}

/** Waits for the service's 'running' log line (both pipelines consuming). */
export async function waitForDemoService(timeoutMs = 90_000): Promise<void> {
  try {
    await waitFor(() => {
      if (runningPid(demoService) === undefined) throw new Error('streamscore exited');
      return fs.readFileSync(logFile(demoService), 'utf8').includes('"msg":"running"');
    }, { timeoutMs, intervalMs: 200, what: 'streamscore to start both pipelines' });
  } catch (err) {
    throw new StreamscoreError('DEMO_SERVICE_FAILED', `${(err as Error).message}\n--- ${logFile(demoService)} ---\n${logTail(demoService, 20)}`);
  }
}
