import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { StreamscoreConfig } from '../../src/config/types.js';
import type { ReplaySummary } from '../../src/replay/summary.js';
import { repo } from './paths.js';
import { uniqueName } from './read.js';
import { NODE_MEMORY_FLAGS } from '../../src/runtime/heap-growth.js';

/** A config as a file for the CLI (JSON is YAML), under .run/test-logs. */
export function writeConfig(config: StreamscoreConfig, name: string): string {
  const dir = repo('.run/test-logs');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${uniqueName(name)}.json`);
  fs.writeFileSync(file, JSON.stringify(config));
  return file;
}

/** `streamscore replay …` as a real process: stdout (the --json summary) kept, stderr to a log file. */
export class ReplayProcess {
  #stdout = '';
  #exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(private readonly child: ChildProcess, readonly logFile: string) {
    child.stdout!.on('data', (d: Buffer) => { this.#stdout += d.toString(); });
    this.#exit = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  static start(args: string[], name: string): ReplayProcess {
    const dir = repo('.run/test-logs');
    fs.mkdirSync(dir, { recursive: true });
    const logFile = path.join(dir, `${uniqueName(name)}.log`);
    const log = fs.openSync(logFile, 'w');
    const child = spawn(process.execPath, [...NODE_MEMORY_FLAGS, '--import', 'tsx', repo('src/cli/main.ts'), 'replay', ...args], { cwd: repo(), stdio: ['ignore', 'pipe', log] });
    fs.closeSync(log);
    return new ReplayProcess(child, logFile);
  }

  /** Runs to the end and returns the --json summary; throws with the log when it fails. */
  static async run(args: string[], name: string): Promise<ReplaySummary> {
    const p = ReplayProcess.start([...args, '--json'], name);
    const { code } = await p.exited();
    if (code !== 0) throw new Error(`streamscore replay exited ${code}:\n${p.log().slice(-3000)}`);
    return JSON.parse(p.stdout) as ReplaySummary;
  }

  get stdout(): string {
    return this.#stdout;
  }

  log(): string {
    return fs.readFileSync(this.logFile, 'utf8');
  }

  exited() {
    return this.#exit;
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }
}
