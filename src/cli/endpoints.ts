import pino from 'pino';
import { createRegistryClient, type SchemaRegistryClient } from '../codec/schema-registry.js';
import { type StackEndpoints, externalEndpoints, localStackEndpoints } from '../devstack/stack.js';
import { DEFAULTS } from '../config/defaults.js';
import { KafkaClient } from '../kafka/client.js';

export interface ToolClients {
  kafka: KafkaClient;
  registry: SchemaRegistryClient;
  brokers: string[];
  registryUrl: string;
}

/** A Kafka client (default settings, errors-only log) and a registry client for the tools: demo, produce, tail, bench, chaos. */
export function clientsFor(endpoints: StackEndpoints, clientId: string): ToolClients {
  const kafka = new KafkaClient({ ...DEFAULTS.kafka, brokers: endpoints.kafkaBrokers, clientId }, pino({ level: 'error' }));
  return { kafka, registry: createRegistryClient({ url: endpoints.schemaRegistryUrl }), brokers: endpoints.kafkaBrokers, registryUrl: endpoints.schemaRegistryUrl };
}

/** The cluster the tools talk to: KAFKA_BROKERS / SCHEMA_REGISTRY_URL, else the local stack. */
export function toolClients(clientId: string): ToolClients {
  return clientsFor(externalEndpoints() ?? localStackEndpoints(), clientId);
}
