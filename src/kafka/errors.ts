import { StreamscoreError } from '../errors.js';

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
 * A transaction failure, coded: fenced (drop the producer, never retry with it) or
 * abortable (abort, rewind the partition to its committed offset, process again).
 */
export function classifyTransactionError(err: unknown): StreamscoreError {
  for (const e of chain(err)) {
    if (FENCED_TYPES.has(e.type as string) || FENCED_CODES.has(e.code as number)) {
      return new StreamscoreError('KAFKA_PRODUCER_FENCED', `producer fenced: ${String(e.message)}`, { cause: err });
    }
  }
  return new StreamscoreError('KAFKA_TRANSACTION_FAILED', `transaction failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}
