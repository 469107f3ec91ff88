import { afterAll, beforeAll, inject } from 'vitest';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { createTopicsAndWait } from '../../src/kafka/admin.js';

export { uniqueName, readTopic, readAll, highWatermarks, type ReadOptions } from './read.js';

export const kafkaBrokers = () => inject('kafkaBrokers');
export const schemaRegistryUrl = () => inject('schemaRegistryUrl');

export function testKafka(clientId = 'streamscore-test'): Kafka {
  return new Kafka({ clientId, brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
}

export async function createTopics(admin: Admin, topics: string[], numPartitions = 1): Promise<void> {
  await createTopicsAndWait(admin, topics.map((topic) => ({ topic, numPartitions })));
}

/** A client and a connected admin for one describe block (connected before, closed after). */
export function kafkaForSuite(): { kafka: Kafka; admin: Admin } {
  const kafka = testKafka();
  const admin = kafka.admin();
  beforeAll(() => admin.connect());
  afterAll(() => admin.disconnect());
  return { kafka, admin };
}
