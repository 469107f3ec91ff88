import { StreamscoreError } from '../errors.js';
import { ensureScramUser, kafkaProcess, startKafka, waitForKafka } from './kafka.js';
import { localEndpoints } from './paths.js';
import { runningPid, stopProcess } from './process.js';
import { registryProcess, startRegistry, waitForRegistry } from './registry.js';
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
  if (external) return { ...external, source: 'external', startedKafka: false, startedRegistry: false };
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
  return { ...localStackEndpoints(), source: 'local', startedKafka: kafka.started, startedRegistry: registry.started };
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
