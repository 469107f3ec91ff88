import type { KafkaConfig } from '../config/types.js';
import { type ErrorCode, StreamscoreError, errorMessage } from '../errors.js';

/** Kafka error types that mean another producer now owns our transactional id. */
const FENCED_TYPES = new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED', 'INVALID_PRODUCER_ID_MAPPING']);
/** Code 90 (PRODUCER_FENCED) is newer than kafkajs's error table. */
const FENCED_CODES = new Set([47, 49, 90]);

function* chain(err: unknown): Generator<Record<string, unknown>> {
  let current = err as Record<string, unknown> | undefined;
  for (let depth = 0; current && depth < 8; depth++) {
    yield current;
    current = (current.originalError ?? current.cause) as Record<string, unknown> | undefined;
  }
}

/**
 * A produce or transaction failure, coded: fenced (drop the producer, never retry with it)
 * or retryable (replace the producer, rewind the partition to its committed offset, go again).
 */
export function classifyTransactionError(err: unknown, otherwise: ErrorCode = 'KAFKA_TRANSACTION_FAILED'): StreamscoreError {
  if (err instanceof StreamscoreError) return err;
  for (const e of chain(err)) {
    if (FENCED_TYPES.has(e.type as string) || FENCED_CODES.has(e.code as number)) {
      return new StreamscoreError('KAFKA_PRODUCER_FENCED', `producer fenced: ${String(e.message)}`, { cause: err });
    }
  }
  return new StreamscoreError(otherwise, `${otherwise === 'KAFKA_PRODUCE_FAILED' ? 'produce' : 'transaction'} failed: ${errorMessage(err)}`, { cause: err });
}

/** A refused login is a config problem: say so plainly, naming the user but never the password. */
export function kafkaConnectError(err: unknown, k: Pick<KafkaConfig, 'brokers' | 'sasl'>): StreamscoreError {
  if ((err as Error)?.name === 'KafkaJSSASLAuthenticationError') {
    return new StreamscoreError('KAFKA_AUTH_FAILED', `Kafka refused SASL login as '${k.sasl?.username}' (${k.sasl?.mechanism}) at ${k.brokers.join(',')}: check kafka.sasl.username and kafka.sasl.password`, { cause: err });
  }
  return new StreamscoreError('KAFKA_UNREACHABLE', `cannot connect to Kafka at ${k.brokers.join(',')}: ${errorMessage(err)}`, { cause: err });
}
