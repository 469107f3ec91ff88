import { createRequire } from 'node:module';
import { StreamscoreError } from '../errors.js';

/**
 * A fix for kafkajs 2.2.4's read_committed filtering, installed before kafkajs loads.
 *
 * kafkajs drops aborted records with src/consumer/filterAbortedMessages.js, which opens at
 * most ONE aborted transaction per record it looks at. When a fetch holds several aborted
 * transactions whose first offsets lie before a record (several producers aborting around
 * the same offsets: exactly what fencing after a crash causes), the later ones open a record
 * too late, and their aborted records are delivered as if committed. The chaos suite caught
 * it: kafkajs readers saw aborted outputs that Kafka's own console consumer, read_committed,
 * skipped. Here every aborted transaction that has begun is opened before a record is judged,
 * as the Java consumer does.
 */
const require = createRequire(import.meta.url);
const modulePath = require.resolve('kafkajs/src/consumer/filterAbortedMessages.js');
const Long = require('kafkajs/src/utils/long') as { fromValue(v: unknown): { gte(o: unknown): boolean; compare(o: unknown): number } };
const ABORT_MARKER_KEY = Buffer.from([0, 0, 0, 0]);

interface RawMessage {
  offset: string;
  key: Buffer | null;
  batchContext: { producerId: string; inTransaction: boolean };
}

export function filterAbortedMessages({ messages, abortedTransactions }: { messages: RawMessage[]; abortedTransactions?: { firstOffset: string; producerId: string }[] }): RawMessage[] {
  if (!abortedTransactions?.length) return messages;
  const pending = [...abortedTransactions].sort((a, b) => Long.fromValue(a.firstOffset).compare(b.firstOffset));
  const open = new Set<string>();
  return messages.filter((message) => {
    while (pending.length && Long.fromValue(message.offset).gte(pending[0]!.firstOffset)) open.add(String(pending.shift()!.producerId));
    const producerId = String(message.batchContext.producerId);
    if (message.key && Buffer.from(message.key).equals(ABORT_MARKER_KEY)) {
      open.delete(producerId);
      return true;
    }
    return !(message.batchContext.inTransaction && open.has(producerId));
  });
}

const cached = require.cache[modulePath];
if (!cached) {
  require.cache[modulePath] = { id: modulePath, filename: modulePath, loaded: true, exports: filterAbortedMessages } as unknown as NodeJS.Module;
}

/** True when kafkajs's batches filter with the fix (it was installed before kafkajs loaded). */
export function readCommittedFixActive(): boolean {
  return require.cache[modulePath]?.exports === filterAbortedMessages;
}

/** The filter kafkajs ships, for the test that shows the bug. */
export function originalKafkajsFilter(): (args: { messages: RawMessage[]; abortedTransactions: { firstOffset: string; producerId: string }[] }) => RawMessage[] {
  const source = require('node:fs').readFileSync(modulePath, 'utf8') as string;
  const mod = { exports: {} as unknown };
  new Function('module', 'exports', 'require', source)(mod, mod.exports, createRequire(modulePath));
  return mod.exports as ReturnType<typeof originalKafkajsFilter>;
}

/** Refuses to go on when kafkajs would deliver aborted records (the fix is not what kafkajs's batches use). */
export function assertReadCommittedFilter(): void {
  if (!readCommittedFixActive()) {
    throw new StreamscoreError('KAFKA_READ_COMMITTED_UNSAFE', 'kafkajs was loaded before src/kafka/read-committed.ts: read_committed would deliver some aborted records');
  }
}
