import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import type { PipelineConfig } from '../../src/config/types.js';
import { SCENARIOS } from '../../src/loadgen/scenarios.js';
import { repo } from './paths.js';

export type Event = Record<string, unknown>;

/** The fraud pipeline of deploy/demo.yaml, as `streamscore score` sees it (no broker or registry is contacted). */
export function fraudPipeline(model = repo('models/fraud.onnx')): PipelineConfig {
  const doc = {
    kafka: { brokers: ['127.0.0.1:9'] },
    schemaRegistry: { url: 'http://127.0.0.1:9' },
    pipelines: [{
      name: 'fraud', inputs: ['transactions'], groupId: 'streamscore-fraud', codec: 'avro',
      readerSchema: repo('schemas/card-transaction.avsc'),
      model: { path: model },
      features: { columns: { hourOfDay: { from: 'eventTime', transform: 'hourOfDayUtc' } } },
      outputs: {
        scored: { topic: 'transactions.scored', schema: repo('schemas/scored-transaction.avsc') },
        alerts: { topic: 'fraud-alerts', schema: repo('schemas/fraud-alert.avsc') },
        deadLetter: { topic: 'transactions.dlq' },
      },
    }],
  };
  return parseConfig(JSON.stringify(doc), { env: {} }).pipelines[0]!;
}

/** The generator's first `count` fraud events for a seed and id prefix, as produce makes them. */
export function fraudEvents(count: number, seed: number, runId: string): Event[] {
  const next = SCENARIOS.fraud.generator(seed, runId);
  const now = Date.now();
  return Array.from({ length: count }, () => next(now).event);
}

export function readJsonl(file: string): Record<string, unknown>[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

export function scratchDir(name: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `streamscore-${name}-`));
}

/** transactionId → score of a scores file. */
export function scoresById(file: string): Map<string, number> {
  return new Map(readJsonl(file).map((r) => [r.transactionId as string, r.score as number]));
}

/** `streamscore ARGS` as a process, as a user runs it: exit code, stdout and stderr. */
export function runStreamscore(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', repo('src/cli/main.ts'), ...args], { cwd: repo(), env: { ...process.env, ...env }, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (err as { code?: unknown }).code : 0;
      if (typeof code !== 'number') reject(err);
      else resolve({ code, stdout, stderr });
    });
  });
}
