import path from 'node:path';
import { StreamscoreError } from '../errors.js';
import { ensureScramUser, kafkaConfigOutdated, kafkaProcess, portAnswers, startKafka, waitForKafka } from './kafka.js';
import { localEndpoints, localListeners, localPorts, localScramUser } from './paths.js';
import { runningPid, stopProcess } from './process.js';
import { registryProcess, startRegistry, waitForRegistry } from './registry.js';
import { localTls } from './tls.js';
import { demoService } from '../demo/service-process.js';

export interface StackEndpoints {
  kafkaBrokers: string[];
  schemaRegistryUrl: string;
}

export interface StackUpResult extends StackEndpoints {
  /** 'external' when the env pointed elsewhere; otherwise which local servers this call started. */
  source: 'external' | 'local';
  startedKafka: boolean;
  startedRegistry: boolean;
  /** Local servers found running from an older configuration: without the broker's TLS listeners or the registry's HTTPS port. */
  outdated: string[];
}

/** What to do about servers started from an older configuration. */
export function restartHint(outdated: string[]): string {
  return `the running local ${outdated.join(' and ')} ${outdated.length > 1 ? 'were' : 'was'} started from an older configuration, without TLS: restart with npm run dev:down && npm run dev:up`;
}

/** Which running servers lack what this version configures; they are not restarted here, as someone may be using them. */
async function outdatedServers(kafkaStarted: boolean, registryStarted: boolean): Promise<string[]> {
  const outdated: string[] = [];
  if (!kafkaStarted && kafkaConfigOutdated()) outdated.push('broker');
  if (!registryStarted && !(await portAnswers(localPorts.registryHttps))) outdated.push('registry');
  return outdated;
}

export const READY_TIMEOUT_MS = 120_000;

/**
 * KAFKA_BROKERS / SCHEMA_REGISTRY_URL name an existing cluster. Both or neither: half an
 * external stack is almost always a mistake, so it is refused rather than guessed at.
 */
export function externalEndpoints(env: NodeJS.ProcessEnv = process.env): StackEndpoints | undefined {
  const brokers = env.KAFKA_BROKERS?.trim();
  const registry = env.SCHEMA_REGISTRY_URL?.trim();
  if (!brokers && !registry) return undefined;
  if (!brokers || !registry) {
    throw new StreamscoreError('DEV_PARTIAL_EXTERNAL_STACK', 'set both KAFKA_BROKERS and SCHEMA_REGISTRY_URL to use an existing cluster, or neither to use the local one');
  }
  return { kafkaBrokers: brokers.split(',').map((b) => b.trim()).filter(Boolean), schemaRegistryUrl: registry.replace(/\/+$/, '') };
}

export function localStackEndpoints(): StackEndpoints {
  return { kafkaBrokers: [localEndpoints.kafkaBrokers], schemaRegistryUrl: localEndpoints.schemaRegistryUrl };
}

export async function stackUp(log: (line: string) => void = () => {}): Promise<StackUpResult> {
  const external = externalEndpoints();
  if (external) return { ...external, source: 'external', startedKafka: false, startedRegistry: false, outdated: [] };
  // Kafka first: the registry build can overlap the broker's start-up.
  const kafka = await startKafka(log);
  let registry = { started: false };
  try {
    registry = await startRegistry(log);
    await Promise.all([waitForKafka(READY_TIMEOUT_MS), waitForRegistry(READY_TIMEOUT_MS)]);
    if (kafka.started) ensureScramUser();
  } catch (err) {
    // Leave nothing half-started behind: stop only what this call started.
    if (registry.started) await stopProcess(registryProcess);
    if (kafka.started) await stopProcess(kafkaProcess);
    throw err;
  }
  const outdated = await outdatedServers(kafka.started, registry.started);
  if (outdated.length) log(restartHint(outdated));
  return { ...localStackEndpoints(), source: 'local', startedKafka: kafka.started, startedRegistry: registry.started, outdated };
}

export async function stackDown(which: { kafka?: boolean; registry?: boolean; demo?: boolean } = { kafka: true, registry: true, demo: true }): Promise<string[]> {
  const stopped: string[] = [];
  // The demo's streamscore first: it commits what it holds while the broker is still up.
  if (which.demo && (await stopProcess(demoService, 60_000))) stopped.push('streamscore (demo)');
  // The registry first: it may still be talking to the broker.
  if (which.registry && (await stopProcess(registryProcess))) stopped.push('registry');
  if (which.kafka && (await stopProcess(kafkaProcess))) stopped.push('kafka');
  return stopped;
}

export function stackStatus(): { kafkaPid?: number; registryPid?: number; demoPid?: number } {
  return { kafkaPid: runningPid(kafkaProcess), registryPid: runningPid(registryProcess), demoPid: runningPid(demoService) };
}

/**
 * For `dev status`: one line per listener of the local broker and per port of the registry
 * (address, protocol, what a client needs there, whether it answers), then where the CA and
 * the client certificate are.
 */
export async function localEndpointLines(): Promise<string[]> {
  const rel = (file: string) => path.relative(process.cwd(), file) || file;
  const lines: string[] = [];
  const endpoints = [
    ...localListeners.map((l) => ({ address: `127.0.0.1:${l.port}`, port: l.port, protocol: l.name === l.protocol ? l.protocol : `${l.protocol} (${l.name})`, needs: l.needs })),
    { address: localEndpoints.schemaRegistryUrl, port: localPorts.registry, protocol: 'registry HTTP', needs: 'no credentials' },
    { address: localEndpoints.schemaRegistryHttpsUrl, port: localPorts.registryHttps, protocol: 'registry HTTPS', needs: 'the CA file' },
  ];
  for (const e of endpoints) {
    const answers = await portAnswers(e.port);
    lines.push(`  ${e.protocol.padEnd(16)} ${e.address}  needs ${e.needs}${answers ? '' : '  (not answering)'}`);
  }
  lines.push(`  CA file ${rel(localTls.caFile)}; client certificate ${rel(localTls.client.certFile)}, key ${rel(localTls.client.keyFile)}`);
  lines.push(`  SCRAM-SHA-512 user ${localScramUser.username}, password ${localScramUser.password} (a development credential)`);
  const outdated = await outdatedServers(false, false);
  if (outdated.length) lines.push(`  ${restartHint(outdated)}`);
  return lines;
}
