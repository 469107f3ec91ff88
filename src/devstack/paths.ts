import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** The repository root: src/devstack → ../.. (also right for dist/devstack). */
export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export const paths = {
  mavenSettings: path.join(projectRoot, 'deploy/local/maven-settings.xml'),
  kafkaPom: path.join(projectRoot, 'deploy/local/kafka/pom.xml'),
  registryPom: path.join(projectRoot, 'deploy/local/registry/pom.xml'),
  kafkaLibs: path.join(projectRoot, '.cache/kafka/libs'),
  registryBuild: path.join(projectRoot, '.cache/registry/build'),
  runDir: path.join(projectRoot, '.run'),
  kafkaRun: path.join(projectRoot, '.run/kafka'),
  registryRun: path.join(projectRoot, '.run/registry'),
};

export const localPorts = {
  kafka: 9092,
  kafkaController: 9093,
  /** SASL_PLAINTEXT with SCRAM-SHA-512, for the security tests. */
  kafkaScram: 9094,
  registry: 8081,
};

/** The local broker's SCRAM user (a development credential, not a secret). */
export const localScramUser = { username: 'streamscore', password: 'streamscore-dev-secret' };

export const localEndpoints = {
  kafkaBrokers: `127.0.0.1:${localPorts.kafka}`,
  kafkaScramBrokers: `127.0.0.1:${localPorts.kafkaScram}`,
  /** Apicurio serves the Confluent Schema Registry API under this path. */
  schemaRegistryUrl: `http://127.0.0.1:${localPorts.registry}/apis/ccompat/v7`,
};
