import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { StreamscoreError } from '../../src/errors.js';
import { assertReadCommittedFilter, originalKafkajsFilter, type AbortedTransaction, type BatchConstructor, type RawMessage } from '../../src/kafka/read-committed.js';

const require = createRequire(import.meta.url);
/** kafkajs's real Batch, as its consumer uses it in this process (the unit setup file loads our filter first). */
const Batch = require('kafkajs/src/consumer/batch.js') as BatchConstructor;

/** kafkajs's Batch evaluated from its source with another filter in place: what a process that loaded kafkajs first would run. */
function batchWithFilter(filter: unknown): BatchConstructor {
  const path = require.resolve('kafkajs/src/consumer/batch.js');
  const local = createRequire(path);
  const mod = { exports: {} as unknown };
  new Function('module', 'exports', 'require', readFileSync(path, 'utf8'))(mod, mod.exports, (id: string) => (id === './filterAbortedMessages' ? filter : local(id)));
  return mod.exports as BatchConstructor;
}

/** The filter as of commit 51f9ec7 (fault W4): any record keyed 00000000 ends its producer's aborted range. */
function filterAsOf51f9ec7({ messages, abortedTransactions }: { messages: RawMessage[]; abortedTransactions?: AbortedTransaction[] }): RawMessage[] {
  if (!abortedTransactions?.length) return messages;
  const pending = [...abortedTransactions].sort((a, b) => Number(BigInt(a.firstOffset) - BigInt(b.firstOffset)));
  const open = new Set<string>();
  return messages.filter((message) => {
    while (pending.length && BigInt(message.offset) >= BigInt(pending[0]!.firstOffset)) open.add(String(pending.shift()!.producerId));
    const producerId = String(message.batchContext!.producerId);
    if (message.key && Buffer.from(message.key).equals(Buffer.alloc(4))) {
      open.delete(producerId);
      return true;
    }
    return !(message.batchContext!.inTransaction && open.has(producerId));
  });
}

// Records shaped as kafkajs's decoder leaves them: isControlRecord copies the batch's control flag.
const record = (offset: number, producerId: number, key: Buffer, control = false, inTransaction = true): RawMessage => ({
  offset: String(offset),
  key,
  value: Buffer.from('v'),
  isControlRecord: control,
  batchContext: { producerId: String(producerId), inTransaction, isControlBatch: control },
});
const data = (offset: number, producerId: number, inTransaction = true) => record(offset, producerId, Buffer.from(`k${offset}`), false, inTransaction);
const zeroKeyed = (offset: number, producerId: number) => record(offset, producerId, Buffer.alloc(4));
const abortMarker = (offset: number, producerId: number) => record(offset, producerId, Buffer.from([0, 0, 0, 0]), true);
const commitMarker = (offset: number, producerId: number) => record(offset, producerId, Buffer.from([0, 0, 0, 1]), true);

const delivered = (BatchClass: BatchConstructor, fetchedOffset: number, messages: RawMessage[], abortedTransactions: AbortedTransaction[]) =>
  new BatchClass('t', String(fetchedOffset), { partition: 0, highWatermark: '1000', messages, abortedTransactions }).messages.map((m) => Number(m.offset));

// Two producers (partition owners around a crash) have aborted transactions that began at
// offsets 10 and 11; this fetch starts at 20, inside both. Producer 9's records are committed.
const overlapping = [data(20, 8), data(21, 7), data(22, 9), abortMarker(23, 7), abortMarker(24, 8), data(25, 9)];
const overlappingAborted = [{ firstOffset: '10', producerId: '7' }, { firstOffset: '11', producerId: '8' }];

// Producer 7 aborts at 40..41, commits at 42..43 and aborts again at 44..46; 8 is not transactional.
const twice = [data(40, 7), abortMarker(41, 7), data(42, 7), commitMarker(43, 7), data(44, 7), data(45, 8, false), abortMarker(46, 7), data(47, 7), commitMarker(48, 7)];
const twiceAborted = [{ firstOffset: '40', producerId: '7' }, { firstOffset: '44', producerId: '7' }];

describe('read_committed filtering of aborted records', () => {
  it('kafkajs 2.2.4 lets an aborted record through when two aborted transactions overlap (the bug)', () => {
    expect(originalKafkajsFilter()({ messages: overlapping, abortedTransactions: overlappingAborted }).map((m) => m.offset)).toContain('20');
    expect(delivered(batchWithFilter(originalKafkajsFilter()), 20, overlapping, overlappingAborted)).toContain(20);
  });

  it('drops every aborted record of overlapping transactions and keeps the committed ones', () => {
    expect(delivered(Batch, 20, overlapping, overlappingAborted)).toEqual([22, 25]);
  });

  it('a data record keyed 00000000 inside an aborted transaction does not end it (W4)', () => {
    const messages = [data(30, 7), zeroKeyed(31, 7), data(32, 7), data(33, 9), abortMarker(34, 7), zeroKeyed(35, 9), commitMarker(36, 9)];
    const aborted = [{ firstOffset: '30', producerId: '7' }];
    // The old logic delivers the zero-keyed record itself and the rest of the aborted transaction.
    expect(delivered(batchWithFilter(filterAsOf51f9ec7), 30, messages, aborted)).toEqual([31, 32, 33, 35]);
    expect(delivered(batchWithFilter(originalKafkajsFilter()), 30, messages, aborted)).toEqual([31, 32, 33, 35]);
    // A committed record with that key is still delivered.
    expect(delivered(Batch, 30, messages, aborted)).toEqual([33, 35]);
  });

  it('one producer aborting twice in one fetch: both transactions dropped, the committed one between kept', () => {
    expect(delivered(Batch, 40, twice, twiceAborted)).toEqual([42, 45, 47]);
  });

  it('handles an aborted list that is not in offset order', () => {
    // Taken in the order given, nothing would open before offset 44 and record 40 would leak.
    expect(delivered(Batch, 40, twice, [...twiceAborted].reverse())).toEqual([42, 45, 47]);
    expect(delivered(Batch, 20, overlapping, [...overlappingAborted].reverse())).toEqual([22, 25]);
  });
});

describe('assertReadCommittedFilter (start-up self-check)', () => {
  it('passes with kafkajs as loaded in this process', async () => {
    await import('kafkajs');
    expect(() => assertReadCommittedFilter()).not.toThrow();
  });

  it('throws KAFKA_READ_COMMITTED_UNSAFE when Batch uses the filter kafkajs ships', () => {
    let thrown: unknown;
    try {
      assertReadCommittedFilter(batchWithFilter(originalKafkajsFilter()));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(StreamscoreError);
    expect((thrown as StreamscoreError).code).toBe('KAFKA_READ_COMMITTED_UNSAFE');
    expect((thrown as StreamscoreError).message).toMatch(/offsets \[100, 103, 104\]/);
  });

  it('throws KAFKA_READ_COMMITTED_UNSAFE when Batch uses the filter as of 51f9ec7 (W4)', () => {
    expect(() => assertReadCommittedFilter(batchWithFilter(filterAsOf51f9ec7))).toThrow(/offsets \[103, 104\]/);
  });
});
