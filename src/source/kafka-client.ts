import { readCommittedFixActive } from './kafkajs-read-committed.js';
import fs from 'node:fs';
import { Kafka, logLevel, type LogEntry, type SASLOptions } from 'kafkajs';
import type { KafkaConfig } from '../config/types.js';
import { StreamscoreError } from '../errors.js';
import type { Logger } from '../observability/logger.js';

const levels: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  // kafkajs logs every failed request at ERROR, though it retries most of them; our own code
  // logs what finally fails, so kafkajs's view of it is a warning.
  [logLevel.ERROR]: 'warn', [logLevel.WARN]: 'warn', [logLevel.INFO]: 'debug', [logLevel.DEBUG]: 'debug',
};

/** A kafkajs client from config: TLS and SASL passed through, its log routed into ours. */
export function createKafka(config: KafkaConfig, logger: Logger, clientId = config.clientId): Kafka {
  if (!readCommittedFixActive()) {
    throw new StreamscoreError('KAFKAJS_UNPATCHED', 'kafkajs was loaded before src/source/kafkajs-read-committed.ts: read_committed would deliver some aborted records; import that module first');
  }
  const ssl = config.ssl
    ? {
        rejectUnauthorized: config.ssl.rejectUnauthorized,
        ca: config.ssl.caFile ? [fs.readFileSync(config.ssl.caFile, 'utf8')] : undefined,
        cert: config.ssl.certFile ? fs.readFileSync(config.ssl.certFile, 'utf8') : undefined,
        key: config.ssl.keyFile ? fs.readFileSync(config.ssl.keyFile, 'utf8') : undefined,
      }
    : undefined;
  const sasl = config.sasl ? ({ mechanism: config.sasl.mechanism, username: config.sasl.username, password: config.sasl.password } as SASLOptions) : undefined;
  const kafkaLog = logger.child({ component: 'kafkajs' });
  return new Kafka({
    clientId,
    brokers: config.brokers,
    ssl,
    sasl,
    connectionTimeout: config.connectionTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    // kafkajs INFO lines are per-connection chatter; they go to debug.
    logLevel: logLevel.INFO,
    logCreator: () => ({ level, log }: LogEntry) => {
      const { message, ...extra } = log;
      kafkaLog[levels[level] ?? 'debug'](extra, message);
    },
  });
}
