import type { TestProject } from 'vitest/node';
import { localEndpoints, localScramUser } from '../../src/devstack/paths.js';
import { restartHint, stackDown, stackUp } from '../../src/devstack/stack.js';
import { localTls } from '../../src/devstack/tls.js';

/** The TLS endpoints of the cluster under test, each with the CA file that verifies it; null where there is none (or none was described). */
export interface TlsEndpoints {
  /** SSL: the client verifies the broker's certificate. */
  ssl: { brokers: string[]; caFile: string } | null;
  /** SSL requiring a client certificate, with one the brokers accept. */
  mtls: { brokers: string[]; caFile: string; certFile: string; keyFile: string } | null;
  /** SASL_SSL with SCRAM-SHA-512. */
  saslSsl: { brokers: string[]; caFile: string; username: string; password: string } | null;
  /** The schema registry over HTTPS. */
  registryHttps: { url: string; caFile: string } | null;
  /** Why endpoints that should be there are not (local servers started from an older configuration). */
  problem: string | null;
}

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string[];
    schemaRegistryUrl: string;
    /** A SASL_PLAINTEXT SCRAM-SHA-512 listener of the same cluster, when there is one. */
    scram: { brokers: string[]; username: string; password: string } | null;
    tls: TlsEndpoints | null;
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
    project.provide('tls', tlsFromEnv());
    return containers.stop;
  }
  const stack = await stackUp(log);
  log(`kafka ${stack.kafkaBrokers.join(',')}, registry ${stack.schemaRegistryUrl} (${stack.source})`);
  project.provide('kafkaBrokers', stack.kafkaBrokers);
  project.provide('schemaRegistryUrl', stack.schemaRegistryUrl);
  const local = stack.source === 'local';
  project.provide('scram', local ? { brokers: [localEndpoints.kafkaScramBrokers], ...localScramUser } : scramFromEnv());
  const caFile = localTls.caFile;
  project.provide('tls', local ? {
    ssl: { brokers: [localEndpoints.kafkaSslBrokers], caFile },
    mtls: { brokers: [localEndpoints.kafkaMtlsBrokers], caFile, ...localTls.client },
    saslSsl: { brokers: [localEndpoints.kafkaSaslSslBrokers], caFile, ...localScramUser },
    registryHttps: { url: localEndpoints.schemaRegistryHttpsUrl, caFile },
    problem: stack.outdated.length ? restartHint(stack.outdated) : null,
  } : tlsFromEnv());
  return async () => {
    const stopped = await stackDown({ kafka: stack.startedKafka, registry: stack.startedRegistry });
    if (stopped.length) log(`stopped ${stopped.join(' and ')}`);
  };
}

const list = (value: string) => value.split(',').map((b) => b.trim()).filter(Boolean);

/** KAFKA_SCRAM_BROKERS / _USERNAME / _PASSWORD describe a SCRAM listener of an external cluster. */
function scramFromEnv() {
  const { KAFKA_SCRAM_BROKERS: brokers, KAFKA_SCRAM_USERNAME: username, KAFKA_SCRAM_PASSWORD: password } = process.env;
  return brokers && username && password ? { brokers: list(brokers), username, password } : null;
}

/**
 * An external cluster's TLS endpoints: KAFKA_TLS_CA_FILE with any of KAFKA_TLS_BROKERS (SSL),
 * KAFKA_MTLS_BROKERS with KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE (client certificate
 * required), KAFKA_SASL_SSL_BROKERS with KAFKA_SCRAM_USERNAME and KAFKA_SCRAM_PASSWORD; and
 * SCHEMA_REGISTRY_HTTPS_URL with SCHEMA_REGISTRY_CA_FILE.
 */
function tlsFromEnv(): TlsEndpoints | null {
  const env = process.env;
  const caFile = env.KAFKA_TLS_CA_FILE;
  const { KAFKA_SCRAM_USERNAME: username, KAFKA_SCRAM_PASSWORD: password } = env;
  const endpoints: TlsEndpoints = {
    ssl: caFile && env.KAFKA_TLS_BROKERS ? { brokers: list(env.KAFKA_TLS_BROKERS), caFile } : null,
    mtls: caFile && env.KAFKA_MTLS_BROKERS && env.KAFKA_TLS_CERT_FILE && env.KAFKA_TLS_KEY_FILE
      ? { brokers: list(env.KAFKA_MTLS_BROKERS), caFile, certFile: env.KAFKA_TLS_CERT_FILE, keyFile: env.KAFKA_TLS_KEY_FILE } : null,
    saslSsl: caFile && env.KAFKA_SASL_SSL_BROKERS && username && password ? { brokers: list(env.KAFKA_SASL_SSL_BROKERS), caFile, username, password } : null,
    registryHttps: env.SCHEMA_REGISTRY_HTTPS_URL && env.SCHEMA_REGISTRY_CA_FILE ? { url: env.SCHEMA_REGISTRY_HTTPS_URL, caFile: env.SCHEMA_REGISTRY_CA_FILE } : null,
    problem: null,
  };
  return endpoints.ssl || endpoints.mtls || endpoints.saslSsl || endpoints.registryHttps ? endpoints : null;
}
