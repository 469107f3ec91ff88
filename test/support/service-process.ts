import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { StreamscoreConfig } from '../../src/config/types.js';
import { waitFor } from '../../src/util/wait.js';
import { NODE_MEMORY_FLAGS } from '../../src/runtime/heap-growth.js';
import { repo } from './paths.js';
import { uniqueName } from './read.js';

/**
 * streamscore as a real process (`streamscore run --config FILE`), for faults that need one:
 * kill -9, SIGSTOP, SIGTERM. Its JSON log goes to a file under .run/test-logs.
 */
export class ServiceProcess {
  private exitCode: number | null | undefined;
  private readonly exited: Promise<void>;

  private constructor(private readonly child: ChildProcess, readonly logFile: string) {
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => { this.exitCode = code ?? (signal ? -1 : null); resolve(); }));
  }

  static start(config: StreamscoreConfig, name: string, env: NodeJS.ProcessEnv = {}): ServiceProcess {
    const dir = repo('.run/test-logs');
    fs.mkdirSync(dir, { recursive: true });
    const base = path.join(dir, uniqueName(name));
    fs.writeFileSync(`${base}.json`, JSON.stringify(config));
    const log = fs.openSync(`${base}.log`, 'w');
    const child = spawn(process.execPath, [...NODE_MEMORY_FLAGS, '--import', 'tsx', repo('src/cli/main.ts'), 'run', '--config', `${base}.json`], {
      cwd: repo(), stdio: ['ignore', log, log], env: { ...process.env, STREAMSCORE_LOG_LEVEL: process.env.STREAMSCORE_TEST_SERVICE_LOG_LEVEL ?? 'info', ...env },
    });
    fs.closeSync(log);
    return new ServiceProcess(child, `${base}.log`);
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** The config file it runs with (rewrite it, then SIGHUP, to change a model). */
  get configFile(): string {
    return this.logFile.replace(/\.log$/, '.json');
  }

  /** It exited, but not by a clean stop (kill -9, a chaos hook, a crash). */
  get endedAbruptly(): boolean {
    return this.exitCode !== undefined && this.exitCode !== 0;
  }

  get pid(): number {
    return this.child.pid!;
  }

  log(): string {
    return fs.readFileSync(this.logFile, 'utf8');
  }

  /** Waits until the process logged a line with this msg (it is running, or a partition is assigned). */
  async waitForLog(msg: string, timeoutMs = 60_000): Promise<void> {
    await waitFor(() => {
      if (this.exitCode !== undefined) throw new Error(`streamscore exited (${this.exitCode}):\n${this.log().slice(-2000)}`);
      return this.log().includes(`"msg":"${msg}"`);
    }, { timeoutMs, what: `'${msg}' in ${this.logFile}` });
  }

  signal(sig: NodeJS.Signals): void {
    this.child.kill(sig);
  }

  async exit(timeoutMs = 60_000): Promise<number | null> {
    await waitFor(() => this.exitCode !== undefined, { timeoutMs, what: `streamscore pid ${this.pid} to exit` });
    await this.exited;
    return this.exitCode!;
  }

  /** Test clean-up: whatever state it is in, it is gone afterwards. */
  async kill(): Promise<void> {
    if (this.exitCode === undefined) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}
