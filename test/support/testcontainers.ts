import { KafkaContainer } from '@testcontainers/kafka';
import { GenericContainer, Network, Wait } from 'testcontainers';

/**
 * The same stack as the local one, in containers, for machines with a Docker engine
 * (STREAMSCORE_TESTCONTAINERS=1). Same topic settings as deploy/local: replication 1,
 * auto topic creation off.
 */
export async function startContainers(log: (line: string) => void) {
  log('starting Kafka and Confluent Schema Registry with testcontainers…');
  const network = await new Network().start();
  const kafka = await new KafkaContainer('confluentinc/cp-kafka:7.7.1')
    .withKraft()
    .withNetwork(network)
    .withNetworkAliases('kafka')
    .withEnvironment({
      KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
    })
    .start();
  const registry = await new GenericContainer('confluentinc/cp-schema-registry:7.7.1')
    .withNetwork(network)
    .withExposedPorts(8081)
    .withEnvironment({
      SCHEMA_REGISTRY_HOST_NAME: 'schema-registry',
      SCHEMA_REGISTRY_LISTENERS: 'http://0.0.0.0:8081',
      SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS: 'PLAINTEXT://kafka:9092',
    })
    .withWaitStrategy(Wait.forHttp('/subjects', 8081))
    .start();
  return {
    kafkaBrokers: [`${kafka.getHost()}:${kafka.getMappedPort(9093)}`],
    schemaRegistryUrl: `http://${registry.getHost()}:${registry.getMappedPort(8081)}`,
    stop: async () => {
      await registry.stop();
      await kafka.stop();
      await network.stop();
    },
  };
}
