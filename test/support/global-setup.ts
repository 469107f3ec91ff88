import type { TestProject } from 'vitest/node';
import { localEndpoints, localScramUser } from '../../src/devstack/paths.js';
import { stackDown, stackUp } from '../../src/devstack/stack.js';

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string[];
    schemaRegistryUrl: string;
    /** A SASL_PLAINTEXT SCRAM-SHA-512 listener of the same cluster, when there is one. */
    scram: { brokers: string[]; username: string; password: string } | null;
  }
}

/**
 * Finds the Kafka cluster and schema registry for the tests: KAFKA_BROKERS and
 * SCHEMA_REGISTRY_URL when set; testcontainers when STREAMSCORE_TESTCONTAINERS=1 and a
 * Docker engine is there; else the local broker and registry, started if not running and
 * stopped afterwards only if this run started them.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const log = (line: string) => process.stderr.write(`[test stack] ${line}\n`);
  if (process.env.STREAMSCORE_TESTCONTAINERS === '1' && !process.env.KAFKA_BROKERS) {
    const { startContainers } = await import('./testcontainers.js');
    const containers = await startContainers(log);
    project.provide('kafkaBrokers', containers.kafkaBrokers);
    project.provide('schemaRegistryUrl', containers.schemaRegistryUrl);
    project.provide('scram', scramFromEnv());
    return containers.stop;
  }
  const stack = await stackUp(log);
  log(`kafka ${stack.kafkaBrokers.join(',')}, registry ${stack.schemaRegistryUrl} (${stack.source})`);
  project.provide('kafkaBrokers', stack.kafkaBrokers);
  project.provide('schemaRegistryUrl', stack.schemaRegistryUrl);
  project.provide('scram', stack.source === 'local' ? { brokers: [localEndpoints.kafkaScramBrokers], ...localScramUser } : scramFromEnv());
  return async () => {
    const stopped = await stackDown({ kafka: stack.startedKafka, registry: stack.startedRegistry });
    if (stopped.length) log(`stopped ${stopped.join(' and ')}`);
  };
}

/** KAFKA_SCRAM_BROKERS / _USERNAME / _PASSWORD describe a SCRAM listener of an external cluster. */
function scramFromEnv() {
  const { KAFKA_SCRAM_BROKERS: brokers, KAFKA_SCRAM_USERNAME: username, KAFKA_SCRAM_PASSWORD: password } = process.env;
  return brokers && username && password ? { brokers: brokers.split(','), username, password } : null;
}
