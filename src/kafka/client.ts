// First: kafkajs must load with our read_committed filter and stable offset reads in place.
import { assertReadCommittedFilter } from './read-committed.js';
import { assertStableOffsetFetch } from './stable-offsets.js';
import { assertGenerationFencing } from './txn-offset-commit.js';
import { assertGenerationRecording } from './group-generation.js';
import fs from 'node:fs';
import { Kafka, logLevel, type KafkaConfig as KafkaConfigOptions, type LogEntry, type SASLOptions } from 'kafkajs';
import type { KafkaConfig } from '../config/types.js';
import type { Logger } from '../observability/logger.js';

/**
 * kafkajs retries most failed requests itself and logs each try; a retry that succeeds is
 * not news, so its lines go to our logger at debug. What finally fails is logged by our code.
 */
function kafkajsLogCreator(logger: Logger) {
  const kafkaLog = logger.child({ component: 'kafkajs' });
  return () => ({ log }: LogEntry) => {
    const { message, ...extra } = log;
    kafkaLog.debug(extra, message);
  };
}

export type KafkaClientConfig = Pick<KafkaConfig, 'brokers' | 'clientId' | 'ssl' | 'sasl' | 'connectionTimeoutMs' | 'requestTimeoutMs'>;

/**
 * The one place a Kafka client is made. Everything else in src/ reaches Kafka through the
 * port's classes (admin, source, sink, producer, reader), which take this client.
 */
export class KafkaClient {
  /** The kafkajs client: for src/kafka/ only. */
  readonly raw: Kafka;
  readonly #options: KafkaConfigOptions | undefined;

  /** `raw` is for tests: a fake adapter (fake.ts) in place of kafkajs. */
  constructor(readonly config: KafkaClientConfig, readonly logger: Logger, clientId = config.clientId, raw?: Kafka) {
    if (raw) {
      this.raw = raw;
      return;
    }
    assertReadCommittedFilter();
    assertStableOffsetFetch();
    assertGenerationFencing();
    assertGenerationRecording();
    const ssl = config.ssl
      ? {
          rejectUnauthorized: config.ssl.rejectUnauthorized,
          ca: config.ssl.caFile ? [fs.readFileSync(config.ssl.caFile, 'utf8')] : undefined,
          cert: config.ssl.certFile ? fs.readFileSync(config.ssl.certFile, 'utf8') : undefined,
          key: config.ssl.keyFile ? fs.readFileSync(config.ssl.keyFile, 'utf8') : undefined,
        }
      : undefined;
    const sasl = config.sasl ? ({ mechanism: config.sasl.mechanism, username: config.sasl.username, password: config.sasl.password } as SASLOptions) : undefined;
    this.#options = {
      clientId,
      brokers: [...config.brokers],
      ssl,
      sasl,
      connectionTimeout: config.connectionTimeoutMs,
      requestTimeout: config.requestTimeoutMs,
      logLevel: logLevel.INFO,
      logCreator: kafkajsLogCreator(logger),
    };
    this.raw = new Kafka(this.#options);
  }

  /**
   * A kafkajs client like `raw` whose connections are tried once, not retried (kafkajs takes
   * connection retries from the client, not from the admin or producer made from it).
   */
  withoutConnectionRetries(): Kafka {
    return this.#options ? new Kafka({ ...this.#options, retry: { retries: 0 } }) : this.raw;
  }
}
