import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createTopicsAndWait } from '../src/kafka/admin.js';
import { repo } from '../test/support/paths.js';
import { uniqueName } from '../test/support/read.js';
import { paths } from '../src/devstack/paths.js';
import { PARTITIONS, countMessages } from './common.js';
import { type Cluster, type LatencyPoint, latencyOf } from './streamscore-runs.js';

/** The Python peer's virtualenv (PyPI), made once from bench/peers/python/requirements.txt. */
function pythonVenv(log: (l: string) => void): string {
  const venv = repo('.cache/bench-venv');
  const stamp = `${venv}/requirements.txt`;
  const wanted = fs.readFileSync(repo('bench/peers/python/requirements.txt'), 'utf8');
  if (!fs.existsSync(stamp) || fs.readFileSync(stamp, 'utf8') !== wanted) {
    log('  python peer: creating .cache/bench-venv (confluent-kafka, onnxruntime) from PyPI…');
    fs.rmSync(venv, { recursive: true, force: true });
    for (const [cmd, args] of [['python3', ['-m', 'venv', venv]], [`${venv}/bin/pip`, ['install', '-q', '-r', repo('bench/peers/python/requirements.txt')]]] as const) {
      const r = spawnSync(cmd, [...args], { stdio: 'inherit' });
      if (r.status !== 0) throw new Error(`${cmd} failed`);
    }
    fs.writeFileSync(stamp, wanted);
  }
  return `${venv}/bin/python`;
}

/** Runs one peer over the backlog into fresh output topics, and checks its output count. */
async function runPeer(c: Cluster, input: string, count: number, name: string, command: string, args: string[]): Promise<{ perSec: number; seconds: number; outputsVerified: boolean }> {
  const base = uniqueName(`bench-${name}`);
  const scored = `${base}.scored`;
  const alerts = `${base}.alerts`;
  await createTopicsAndWait(c.admin, [scored, alerts].map((topic) => ({ topic, numPartitions: PARTITIONS })));
  const r = spawnSync(command, [...args, '--brokers', c.brokers.join(','), '--registry', c.registryUrl, '--input', input, '--scored', scored, '--alerts', alerts,
    '--group', `${base}-g`, '--schemas', repo('schemas'), '--model', repo('models/fraud.onnx'), '--expect', String(count)], { encoding: 'utf8', timeout: 900_000 });
  if (r.status !== 0) throw new Error(`${name} peer failed: ${r.stderr.slice(-2000)}`);
  const result = JSON.parse(r.stdout.trim().split('\n').pop()!) as { perSec: number; seconds: number };
  const outputs = await countMessages(c.kafka, scored);
  await c.admin.deleteTopics({ topics: [scored, alerts] }).catch(() => {});
  return { ...result, outputsVerified: outputs === count };
}

/** Python: confluent-kafka + onnxruntime, transactional, on the same backlog and model. */
export function pythonPeer(c: Cluster, input: string, count: number, log: (l: string) => void) {
  return runPeer(c, input, count, 'python', pythonVenv(log), [repo('bench/peers/python/peer.py')]);
}

/** The Java peer, built with Maven into .cache/bench-java (once per pom change). */
function javaPeerClasspath(log: (l: string) => void): string {
  const dir = repo('.cache/bench-java');
  const stamp = `${dir}/.stamp`;
  const wanted = fs.readFileSync(repo('bench/peers/java/pom.xml'), 'utf8') + fs.readFileSync(repo('bench/peers/java/src/main/java/bench/Peer.java'), 'utf8');
  if (!fs.existsSync(stamp) || fs.readFileSync(stamp, 'utf8') !== wanted) {
    log('  java peer: building with Maven (kafka-clients, onnxruntime, avro from Central)…');
    const r = spawnSync('mvn', ['-q', '-B', '-s', paths.mavenSettings, '-f', repo('bench/peers/java/pom.xml'), 'package', `-DbuildDir=${dir}`], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error('building the Java peer failed');
    fs.writeFileSync(stamp, wanted);
  }
  return `${dir}/classes:${dir}/lib/*`;
}

/** Java: Kafka's clients + ONNX Runtime for Java + Apache Avro, transactional, same backlog and model. */
export function javaPeer(c: Cluster, input: string, count: number, log: (l: string) => void) {
  return runPeer(c, input, count, 'java', 'java', ['-Xmx1g', '-cp', javaPeerClasspath(log), 'bench.Peer']);
}

/**
 * The Java peer's end-to-end latency at `rate`, measured as streamscore's is (the same load,
 * observer and phases): the reference for what this machine allows at that load.
 */
export function javaPeerLatencyAtLoad(c: Cluster, rate: number, phases: { warmUpSeconds: number; seconds: number }, log: (l: string) => void): Promise<LatencyPoint> {
  const classpath = javaPeerClasspath(log);
  return latencyOf(c, rate, phases, (t) => {
    const peer = spawn('java', ['-Xmx1g', '-cp', classpath, 'bench.Peer', '--brokers', c.brokers.join(','), '--registry', c.registryUrl, '--input', t.input, '--scored', t.scored,
      '--alerts', t.alerts, '--group', t.groupId, '--schemas', repo('schemas'), '--model', repo('models/fraud.onnx'), '--expect', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    peer.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-2000); });
    const exited = new Promise<string>((resolve) => {
      peer.once('exit', (code) => resolve(`exit code ${code}`));
      peer.once('error', (err) => resolve(err.message));
    });
    const timeout = (ms: number) => new Promise<'timeout'>((resolve) => { setTimeout(() => resolve('timeout'), ms).unref(); });
    return {
      // Ready once the warm-up burst is processed (latencyOf waits for that); an early exit is a failure.
      ready: async () => {
        const early = await Promise.race([exited, timeout(2_000)]);
        if (early !== 'timeout') throw new Error(`java peer ended (${early}): ${stderr}`);
      },
      stop: async () => {
        peer.kill('SIGTERM');
        if ((await Promise.race([exited, timeout(15_000)])) === 'timeout') peer.kill('SIGKILL');
      },
    };
  });
}
