import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { StreamscoreError } from '../errors.js';

/**
 * The read_committed filter streamscore owns, installed in place of kafkajs 2.2.4's before
 * kafkajs loads, and the start-up check that kafkajs's batches really use it.
 *
 * kafkajs drops aborted records with src/consumer/filterAbortedMessages.js, which has two faults:
 * - it opens at most ONE aborted transaction per record it looks at. When several aborted
 *   transactions begin before a record (several producers aborting around the same offsets:
 *   what fencing after a crash causes) the later ones open too late and their records are
 *   delivered. The chaos suite caught it against Kafka's own read_committed console consumer.
 * - it ends a producer's aborted range at ANY record keyed 00000000, control or not (our
 *   fault W4 copied that). A data record with that key inside an aborted transaction would
 *   end the range early and the rest of the transaction would leak.
 * Here, as in the Java consumer, every aborted transaction that has begun is opened before a
 * record is judged, and only an ABORT control record of that producer ends its range.
 */
const require = createRequire(import.meta.url);
const modulePath = require.resolve('kafkajs/src/consumer/filterAbortedMessages.js');
const Long = require('kafkajs/src/utils/long') as { fromValue(v: unknown): { gte(o: unknown): boolean; compare(o: unknown): number } };

/** A record as kafkajs's fetch decoder leaves it (protocol/recordBatch/record/v0/decoder.js). */
export interface RawMessage {
  offset: string;
  key: Buffer | null;
  value?: Buffer | null;
  /** Copied from the batch's control flag: kafkajs ignores the record's own attributes. */
  isControlRecord?: boolean;
  /** Absent on records of the pre-0.11 message-set format, which cannot be transactional. */
  batchContext?: { producerId: string; inTransaction: boolean; isControlBatch?: boolean };
}
export interface AbortedTransaction {
  firstOffset: string;
  producerId: string;
}
type Filter = (args: { messages: RawMessage[]; abortedTransactions?: AbortedTransaction[] }) => RawMessage[];

/** A control record's key is version (int16) then type (int16): 0 is ABORT, 1 is COMMIT. */
function isAbortMarker({ isControlRecord, batchContext, key }: RawMessage): boolean {
  const control = isControlRecord === true || batchContext?.isControlBatch === true;
  return control && key != null && key.length >= 4 && key[2] === 0 && key[3] === 0;
}

export function filterAbortedMessages({ messages, abortedTransactions }: { messages: RawMessage[]; abortedTransactions?: AbortedTransaction[] }): RawMessage[] {
  if (!abortedTransactions?.length) return messages;
  // Brokers send them in offset order, but the opening loop below must not depend on it.
  const pending = [...abortedTransactions].sort((a, b) => Long.fromValue(a.firstOffset).compare(b.firstOffset));
  const open = new Set<string>();
  return messages.filter((message) => {
    while (pending.length && Long.fromValue(message.offset).gte(pending[0]!.firstOffset)) open.add(String(pending.shift()!.producerId));
    if (!message.batchContext) return true;
    const producerId = String(message.batchContext.producerId);
    if (isAbortMarker(message)) {
      // The range ends here; a later aborted transaction of this producer reopens it at its firstOffset.
      // The marker itself is kept: kafkajs's Batch drops control records after this filter.
      open.delete(producerId);
      return true;
    }
    return !(message.batchContext.inTransaction && open.has(producerId));
  });
}

// Installed at module load so that batch.js, when kafkajs requires it, gets this filter. An
// entry already there is left alone: a re-evaluation of this module (vitest isolates test
// files, not the require cache) must not matter, and the self-check judges by behaviour.
if (!require.cache[modulePath]) {
  require.cache[modulePath] = { id: modulePath, filename: modulePath, loaded: true, exports: filterAbortedMessages } as unknown as NodeJS.Module;
}

/** The filter kafkajs ships, evaluated from its source without touching the require cache: for tests. */
export function originalKafkajsFilter(): Filter {
  const mod = { exports: {} as unknown };
  new Function('module', 'exports', 'require', readFileSync(modulePath, 'utf8'))(mod, mod.exports, createRequire(modulePath));
  return mod.exports as Filter;
}

export type BatchConstructor = new (topic: string, fetchedOffset: string, partitionData: { partition: number; highWatermark: string; messages: RawMessage[]; abortedTransactions: AbortedTransaction[] }) => { messages: RawMessage[] };

// The self-check's fetch of partition 0 from offset 100. A aborts twice (its first transaction
// began at 98, before the fetch, as B's did at 96), with a data record keyed 00000000 inside
// the first; C commits twice, once with a 00000000-keyed record; D is not transactional.
const A = '1001', B = '1002', C = '1003', D = '-1';
type Kind = 'txn' | 'zero-key' | 'plain' | 'abort' | 'commit';
const FETCHED_OFFSET = 100;
const FIXTURE: [offset: number, producerId: string, kind: Kind, delivered: boolean][] = [
  [99, A, 'txn', false], // before the fetched offset: Batch drops it
  [100, A, 'txn', false], // kafkajs's filter opens only B's range here
  [101, B, 'txn', false],
  [102, C, 'txn', true],
  [103, A, 'zero-key', false],
  [104, A, 'txn', false], // W4 delivered this one and 103
  [105, B, 'abort', false],
  [106, C, 'commit', false],
  [107, D, 'plain', true],
  [108, A, 'abort', false],
  [109, C, 'zero-key', true],
  [110, A, 'txn', false], // A's second aborted transaction
  [111, A, 'txn', false],
  [112, C, 'commit', false],
  [113, A, 'abort', false],
  [114, A, 'txn', true], // A's next transaction commits
  [115, A, 'commit', false],
];
const FIXTURE_ABORTED: AbortedTransaction[] = [{ producerId: B, firstOffset: '96' }, { producerId: A, firstOffset: '98' }, { producerId: A, firstOffset: '110' }];

function fixtureMessages(): RawMessage[] {
  return FIXTURE.map(([offset, producerId, kind]) => {
    const control = kind === 'abort' || kind === 'commit';
    const key = control ? Buffer.from([0, 0, 0, kind === 'abort' ? 0 : 1]) : kind === 'zero-key' ? Buffer.alloc(4) : Buffer.from(`k${offset}`);
    const batchContext = { firstOffset: String(offset), producerId, inTransaction: kind !== 'plain', isControlBatch: control };
    return { offset: String(offset), key, value: control ? Buffer.alloc(6) : Buffer.from('v'), isControlRecord: control, batchContext };
  });
}

function kafkajsBatch(): BatchConstructor {
  try {
    // Resolved from here, as `import 'kafkajs'` in client.ts resolves: the copy our consumers use.
    return require('kafkajs/src/consumer/batch.js') as BatchConstructor;
  } catch (error) {
    throw new StreamscoreError('KAFKA_READ_COMMITTED_UNSAFE', `cannot load kafkajs/src/consumer/batch.js to check its read_committed filtering (${(error as Error).message}); kafkajs must be an ordinary node_modules package, not bundled`, { cause: error });
  }
}

/**
 * Runs a fixture fetch through kafkajs's real Batch and refuses to go on unless exactly the
 * committed data records come out. Cheap (17 records); once per client. `Batch` is a seam for tests.
 */
export function assertReadCommittedFilter(Batch: BatchConstructor = kafkajsBatch()): void {
  const expected = FIXTURE.filter((row) => row[3]).map(([offset]) => String(offset));
  let delivered: string[];
  try {
    delivered = new Batch('streamscore-self-check', String(FETCHED_OFFSET), { partition: 0, highWatermark: '116', messages: fixtureMessages(), abortedTransactions: FIXTURE_ABORTED }).messages.map((m) => String(m.offset));
  } catch (error) {
    throw new StreamscoreError('KAFKA_READ_COMMITTED_UNSAFE', `kafkajs's Batch failed on the read_committed self-check fetch: ${(error as Error).message}`, { cause: error });
  }
  const leaked = delivered.filter((offset) => !expected.includes(offset));
  const lost = expected.filter((offset) => !delivered.includes(offset));
  if (leaked.length || lost.length) {
    throw new StreamscoreError(
      'KAFKA_READ_COMMITTED_UNSAFE',
      `kafkajs's read_committed filtering is not streamscore's: in a self-check fetch its Batch delivered records it must drop (of aborted transactions, or control records) at offsets [${leaked.join(', ')}]` +
        (lost.length ? ` and dropped committed records at offsets [${lost.join(', ')}]` : '') +
        `, so consumers would process output that Kafka rolled back. Most likely kafkajs's batch.js was loaded before src/kafka/read-committed.ts replaced its filter in the require cache: import src/kafka/read-committed.js before anything that imports kafkajs (as src/cli/main.ts does), keep a single copy of kafkajs (npm ls kafkajs), and do not bundle it.`,
    );
  }
}
