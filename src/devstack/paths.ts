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
  /** The local CA, the broker's and a client's keys and certificates (made at the broker's first start). */
  tlsDir: path.join(projectRoot, '.run/tls'),
};

export const localPorts = {
  kafka: 9092,
  kafkaController: 9093,
  /** SASL_PLAINTEXT with SCRAM-SHA-512, for the security tests. */
  kafkaScram: 9094,
  /** SSL: the client verifies the broker's certificate against the local CA. */
  kafkaSsl: 9095,
  /** SSL that also requires a client certificate signed by the local CA (mutual TLS). */
  kafkaMtls: 9096,
  /** SASL_SSL with SCRAM-SHA-512. */
  kafkaSaslSsl: 9097,
  registry: 8081,
  /** The same registry over HTTPS. */
  registryHttps: 8444,
};

/** The local broker's SCRAM user (a development credential, not a secret). */
export const localScramUser = { username: 'streamscore', password: 'streamscore-dev-secret' };

export const localEndpoints = {
  kafkaBrokers: `127.0.0.1:${localPorts.kafka}`,
  kafkaScramBrokers: `127.0.0.1:${localPorts.kafkaScram}`,
  kafkaSslBrokers: `127.0.0.1:${localPorts.kafkaSsl}`,
  kafkaMtlsBrokers: `127.0.0.1:${localPorts.kafkaMtls}`,
  kafkaSaslSslBrokers: `127.0.0.1:${localPorts.kafkaSaslSsl}`,
  /** Apicurio serves the Confluent Schema Registry API under this path. */
  schemaRegistryUrl: `http://127.0.0.1:${localPorts.registry}/apis/ccompat/v7`,
  schemaRegistryHttpsUrl: `https://127.0.0.1:${localPorts.registryHttps}/apis/ccompat/v7`,
};

export interface LocalListener {
  /** The listener's name in server.properties. */
  name: string;
  port: number;
  protocol: 'PLAINTEXT' | 'SASL_PLAINTEXT' | 'SSL' | 'SASL_SSL';
  /** What a client needs there, for `dev status`. */
  needs: string;
}

/** The local broker's client listeners: server.properties is written from this list, `dev status` prints it. */
export const localListeners: readonly LocalListener[] = [
  { name: 'PLAINTEXT', port: localPorts.kafka, protocol: 'PLAINTEXT', needs: 'no credentials' },
  { name: 'SASL_PLAINTEXT', port: localPorts.kafkaScram, protocol: 'SASL_PLAINTEXT', needs: 'SCRAM-SHA-512 login' },
  { name: 'SSL', port: localPorts.kafkaSsl, protocol: 'SSL', needs: 'the CA file' },
  { name: 'MTLS', port: localPorts.kafkaMtls, protocol: 'SSL', needs: 'the CA file and a client certificate' },
  { name: 'SASL_SSL', port: localPorts.kafkaSaslSsl, protocol: 'SASL_SSL', needs: 'the CA file and SCRAM-SHA-512 login' },
];
