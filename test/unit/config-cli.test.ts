import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import YAML from 'yaml';
import { CONFIG_USAGE, configCommand } from '../../src/cli/config.js';
import { DEMO_USAGE, demoCommand } from '../../src/cli/demo.js';
import { DEV_USAGE, devCommand } from '../../src/cli/dev.js';
import { MODEL_USAGE, modelCommand } from '../../src/cli/model.js';
import { PRODUCE_USAGE, produceCommand } from '../../src/cli/produce.js';
import { RUN_USAGE, runCommand } from '../../src/cli/run.js';
import { TAIL_USAGE, tailCommand } from '../../src/cli/tail.js';
import { configFileSchemaText } from '../../src/config/schema-file.js';
import { repo } from '../support/paths.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'streamscore-config-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, text);
  return file;
}

/** Runs a command in-process with stdout and stderr caught. */
async function capture(command: () => Promise<number>): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => stdout.push(String(chunk)) > 0);
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => stderr.push(String(chunk)) > 0);
  try {
    return { code: await command(), stdout: stdout.join(''), stderr: stderr.join('') };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

/** The real entry point, for what only main.ts does (exit codes, --version). */
function cli(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', repo('src/cli/main.ts'), ...args], { cwd: repo(), encoding: 'utf8', timeout: 60_000 });
}

const pipeline = (extra: string) => `
pipelines:
  - name: iot
    inputs: [sensor-readings]
    groupId: streamscore-iot
    codec: json
    model: { path: ${repo('models/pump-anomaly.onnx')} }
${extra}
    outputs:
      scored: { topic: sensor-readings.scored }
      alerts: { topic: anomaly-flags }
      deadLetter: { topic: sensor-readings.dlq }
`;

describe('streamscore config validate', () => {
  it('lists every problem with its path and exits 1', async () => {
    const file = write('broken.yaml', `
kafka:
  brokers: ["127.0.0.1:9092"]
  colour: blue
pipelines:
  - name: iot
    inputs: [sensor-readings]
    model: { path: 42 }
    batching: { maxBatchSize: 0 }
    delivery: twice
    outputs:
      scored: { topic: sensor-readings.scored }
      alerts: { topic: anomaly-flags }
      deadLetter: { topic: sensor-readings.dlq }
`);
    const { code, stdout } = await capture(() => configCommand(['validate', file]));
    expect(code).toBe(1);
    expect(stdout.split('\n')[0]).toBe(`${file}: 5 problems`);
    for (const problem of [
      "/kafka: unknown key 'colour'",
      "/pipelines/0: missing 'groupId'",
      '/pipelines/0/model/path: must be string',
      '/pipelines/0/batching/maxBatchSize: must be >= 1',
      '/pipelines/0/delivery/mode: must be one of exactly-once, at-least-once',
    ]) expect(stdout).toContain(`  ${problem}\n`);
    expect(stdout).not.toContain(': ok');
  });

  it('deploy/demo.yaml is ok, exit 0', async () => {
    const file = repo('deploy/demo.yaml');
    const { code, stdout } = await capture(() => configCommand(['validate', file]));
    expect({ code, stdout }).toEqual({ code: 0, stdout: `${file}: ok\n` });
  });

  it('checks what run checks after the schema: files that must exist', async () => {
    const file = write('no-model.yaml', `kafka: { brokers: ["127.0.0.1:9092"] }\n${pipeline('').replace(repo('models/pump-anomaly.onnx'), 'missing.onnx')}`);
    const { code, stdout } = await capture(() => configCommand(['validate', file]));
    expect(code).toBe(1);
    expect(stdout).toContain(`/pipelines/0: file not found: ${path.join(tmp, 'missing.onnx')}`);
  });
});

describe('streamscore config print', () => {
  it('prints the effective config: defaults filled in, secrets as ***', async () => {
    write('kafka-password', 's3cret-from-file\n');
    const file = write('with-secrets.yaml', `
kafka:
  brokers: ["127.0.0.1:9094"]
  sasl: { mechanism: scram-sha-512, username: streamscore, password: "\${file:kafka-password}" }
schemaRegistry:
  url: http://127.0.0.1:8081/apis/ccompat/v7
  basicAuth: { username: registry-user, password: hunter2 }
${pipeline('    delivery: at-least-once')}`);
    const { code, stdout } = await capture(() => configCommand(['print', file]));
    expect(code).toBe(0);
    expect(stdout).not.toMatch(/s3cret|hunter2/);
    const printed = YAML.parse(stdout);
    expect(printed.kafka.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'streamscore', password: '***' });
    expect(printed.schemaRegistry.basicAuth).toEqual({ username: 'registry-user', password: '***' });
    expect(printed.kafka.transactionTimeoutMs).toBe(10_000);
    expect(printed.http).toEqual({ port: 9464, host: '0.0.0.0' });
    expect(printed.pipelines[0].delivery).toEqual({ mode: 'at-least-once', commitIntervalMs: 10, producers: 2, stallTimeoutMs: 30_000 });
    expect(printed.pipelines[0].batching.maxBatchSize).toBe(256);
  });

  it('an invalid file: the problems on stderr, nothing on stdout, exit 1', async () => {
    const file = write('invalid.yaml', 'kafka: { brokers: [] }\n');
    const { code, stdout, stderr } = await capture(() => configCommand(['print', file]));
    expect({ code, stdout }).toEqual({ code: 1, stdout: '' });
    expect(stderr).toContain("/: missing 'pipelines'");
  });
});

describe('streamscore config schema', () => {
  it('prints the exported schema', async () => {
    const { code, stdout } = await capture(() => configCommand(['schema']));
    expect({ code, stdout }).toEqual({ code: 0, stdout: configFileSchemaText() });
  });
});

describe('--help and bad options', () => {
  // Each with a second argument that would make the command do something (or fail) without --help.
  const commands = [
    { name: 'run', command: runCommand, usage: RUN_USAGE, args: ['--config', 'does-not-exist.yaml', '--help'] },
    { name: 'produce', command: produceCommand, usage: PRODUCE_USAGE, args: ['--scenario', 'fraud', '--count', '5', '-h'] },
    { name: 'tail', command: tailCommand, usage: TAIL_USAGE, args: ['fraud-alerts', '--help'] },
    { name: 'demo', command: demoCommand, usage: DEMO_USAGE, args: ['--keep', '--help'] },
    { name: 'dev', command: devCommand, usage: DEV_USAGE, args: ['up', '--help'] },
    { name: 'config', command: configCommand, usage: CONFIG_USAGE, args: ['validate', 'does-not-exist.yaml', '-h'] },
    { name: 'model', command: modelCommand, usage: MODEL_USAGE, args: ['swap', '--pipeline', 'fraud', '--path', 'models/fraud-v2.onnx', '--help'] },
  ];

  for (const { name, command, usage, args } of commands) {
    it(`${name} --help prints its usage to stdout and does nothing else`, async () => {
      for (const help of [['--help'], args]) {
        const result = await capture(() => command(help));
        expect(result).toEqual({ code: 0, stdout: usage, stderr: '' });
      }
      expect(usage).toMatch(new RegExp(`^usage: streamscore ${name}\\b`));
    });

    it(`${name} --bogus is a usage error naming the option`, async () => {
      const first = name === 'dev' ? ['up'] : name === 'config' ? ['validate'] : [];
      await expect(command([...first, '--bogus'])).rejects.toMatchObject({ code: 'CLI_USAGE', message: expect.stringContaining("Unknown option '--bogus'") });
    });
  }

  it('an unknown option exits 2 with the error and the usage on stderr', () => {
    const result = cli('run', '--bogus');
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain("streamscore: CLI_USAGE: Unknown option '--bogus'\nusage: streamscore run --config FILE");
  });

  it('--version prints the package version', () => {
    const result = cli('--version');
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(`${JSON.parse(fs.readFileSync(repo('package.json'), 'utf8')).version}\n`);
  });
});
