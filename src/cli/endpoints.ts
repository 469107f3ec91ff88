import pino from 'pino';
import type { Kafka } from 'kafkajs';
import { createRegistryClient, type SchemaRegistryClient } from '../codec/schema-registry.js';
import { externalEndpoints, localStackEndpoints } from '../devstack/stack.js';
import { DEFAULTS } from '../config/defaults.js';
import { createKafka } from '../source/kafka-client.js';

/** The cluster the tools talk to: KAFKA_BROKERS / SCHEMA_REGISTRY_URL, else the local stack. */
export function toolClients(clientId: string): { kafka: Kafka; registry: SchemaRegistryClient; brokers: string[]; registryUrl: string } {
  const endpoints = externalEndpoints() ?? localStackEndpoints();
  const quiet = pino({ level: 'error' });
  const kafka = createKafka({ ...DEFAULTS.kafka, brokers: endpoints.kafkaBrokers, clientId }, quiet);
  return { kafka, registry: createRegistryClient({ url: endpoints.schemaRegistryUrl }), brokers: endpoints.kafkaBrokers, registryUrl: endpoints.schemaRegistryUrl };
}
