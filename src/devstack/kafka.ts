import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { StreamscoreError } from '../errors.js';
import { waitFor } from '../util/wait.js';
import { ensureKafkaJars } from './jars.js';
import { localListeners, localPorts, localScramUser, paths } from './paths.js';
import { type ManagedProcess, logTail, runningPid, startDetached } from './process.js';
import { ensureLocalTls, localTls } from './tls.js';

export const kafkaProcess: ManagedProcess = { name: 'kafka', dir: paths.kafkaRun, marker: 'streamscore-dev-kafka' };
const dataDir = path.join(kafkaProcess.dir, 'data');
const configFile = path.join(kafkaProcess.dir, 'server.properties');

/**
 * Single-node KRaft broker + controller. Replication 1 and min ISR 1 for the internal
 * topics so transactions work on one node; auto topic creation off because the project
 * creates its topics with explicit partition counts.
 */
function serverProperties(): string {
  const listeners = localListeners.map((l) => `${l.name}://127.0.0.1:${l.port}`).join(',');
  const protocols = localListeners.map((l) => `${l.name}:${l.protocol}`).join(',');
  return `process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${localPorts.kafkaController}
listeners=${listeners},CONTROLLER://127.0.0.1:${localPorts.kafkaController}
advertised.listeners=${listeners}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=${protocols},CONTROLLER:PLAINTEXT
# SCRAM-SHA-512 on SASL_PLAINTEXT and SASL_SSL, so authentication is tested against the real thing.
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_plaintext.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
# TLS from PEM files made at first start (src/devstack/tls.ts): the broker's key and
# certificate, and the CA that signs client certificates. Only MTLS requires one.
ssl.keystore.type=PEM
ssl.keystore.location=${localTls.brokerKeystore}
ssl.truststore.type=PEM
ssl.truststore.location=${localTls.caFile}
listener.name.mtls.ssl.client.auth=required
log.dirs=${dataDir}
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=12
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=12
min.insync.replicas=1
default.replication.factor=1
# Consumers in tests and the demo join at once instead of waiting 3 s for more members.
group.initial.rebalance.delay.ms=0
log.retention.hours=24
`;
}

const log4jProperties = `log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.org.apache.kafka.controller=WARN
log4j.logger.kafka.log.LogCleaner=WARN
log4j.logger.org.apache.kafka.storage.internals.log=WARN
log4j.logger.kafka.coordinator=WARN
`;

/** Kafka's cluster ids are 16 random bytes, base64url without padding. */
function newClusterId(): string {
  return crypto.randomBytes(16).toString('base64url');
}

export function portAnswers(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    socket.setTimeout(1000);
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => { socket.destroy(); resolve(false); });
  });
}

/**
 * True when the running broker was started from an older server.properties (before the TLS
 * listeners, say). It is left running, since someone may be using it; the caller says how
 * to restart it.
 */
export function kafkaConfigOutdated(): boolean {
  try {
    return fs.readFileSync(configFile, 'utf8') !== serverProperties();
  } catch {
    return true;
  }
}

export async function startKafka(log: (line: string) => void): Promise<{ started: boolean }> {
  if (runningPid(kafkaProcess) !== undefined) return { started: false };
  if (await portAnswers(localPorts.kafka)) {
    throw new StreamscoreError('DEV_PORT_IN_USE', `127.0.0.1:${localPorts.kafka} is taken by a process this project did not start; stop it, or set KAFKA_BROKERS to use it`);
  }
  const libs = ensureKafkaJars(log);
  ensureLocalTls(log);
  const log4jFile = path.join(kafkaProcess.dir, 'log4j.properties');
  fs.mkdirSync(kafkaProcess.dir, { recursive: true });
  fs.writeFileSync(configFile, serverProperties());
  fs.writeFileSync(log4jFile, log4jProperties);
  const classpath = `${libs}/*`;
  const jvmBase = ['-cp', classpath, `-Dlog4j.configuration=file:${log4jFile}`];

  if (!fs.existsSync(path.join(dataDir, 'meta.properties'))) {
    const format = spawnSync('java', [...jvmBase, 'kafka.tools.StorageTool', 'format', '-t', newClusterId(), '-c', configFile, '--ignore-formatted'], { encoding: 'utf8' });
    if (format.status !== 0) {
      throw new StreamscoreError('DEV_KAFKA_FORMAT_FAILED', `formatting Kafka storage failed:\n${format.stdout}${format.stderr}`);
    }
  }
  startDetached(kafkaProcess, 'java', [
    '-Xms256m', '-Xmx768m', '-XX:+UseG1GC', '-XX:TieredStopAtLevel=1',
    `-Dstreamscore.role=${kafkaProcess.marker}`, '-Djava.awt.headless=true',
    ...jvmBase, 'kafka.Kafka', configFile,
  ], kafkaProcess.dir);
  log(`kafka: starting (log: ${path.relative(process.cwd(), path.join(kafkaProcess.dir, 'kafka.log'))})`);
  return { started: true };
}

/** Creates (or resets) the local SCRAM user through Kafka's own config tool. */
export function ensureScramUser(): void {
  const { username, password } = localScramUser;
  const tool = spawnSync('java', [
    '-cp', `${paths.kafkaLibs}/*`, `-Dlog4j.configuration=file:${path.join(kafkaProcess.dir, 'log4j.properties')}`, 'kafka.admin.ConfigCommand',
    '--bootstrap-server', `127.0.0.1:${localPorts.kafka}`, '--alter', '--entity-type', 'users', '--entity-name', username,
    '--add-config', `SCRAM-SHA-512=[iterations=4096,password=${password}]`,
  ], { encoding: 'utf8' });
  if (tool.status !== 0) throw new StreamscoreError('DEV_SCRAM_USER_FAILED', `creating the SCRAM user failed:\n${tool.stdout}${tool.stderr}`);
}

/** The broker is ready when it accepts connections and has logged that startup finished. */
export async function waitForKafka(timeoutMs: number): Promise<void> {
  try {
    await waitFor(async () => {
      if (runningPid(kafkaProcess) === undefined) throw new Error('the broker process exited');
      return (await portAnswers(localPorts.kafka)) && logSaysStarted();
    }, { timeoutMs, intervalMs: 250, what: 'the Kafka broker' });
  } catch (err) {
    throw new StreamscoreError('DEV_KAFKA_NOT_READY', `${(err as Error).message}\n--- kafka.log ---\n${logTail(kafkaProcess)}`);
  }
}

function logSaysStarted(): boolean {
  try {
    return fs.readFileSync(path.join(kafkaProcess.dir, 'kafka.log'), 'utf8').includes('Kafka Server started');
  } catch {
    return false;
  }
}
