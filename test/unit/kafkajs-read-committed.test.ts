import { describe, expect, it } from 'vitest';
import { filterAbortedMessages, originalKafkajsFilter, readCommittedFixActive } from '../../src/kafka/read-committed.js';

const rec = (offset: number, producerId: number, inTransaction = true) => ({ offset: String(offset), key: Buffer.from(`k${offset}`), batchContext: { producerId: String(producerId), inTransaction } });
const abortMarker = (offset: number, producerId: number) => ({ offset: String(offset), key: Buffer.from([0, 0, 0, 0]), batchContext: { producerId: String(producerId), inTransaction: true } });

// Two producers (partition owners around a crash) have aborted transactions that began at
// offsets 10 and 11; this fetch starts at 20, inside both. Producer 9's records are committed.
const messages = [rec(20, 8), rec(21, 7), rec(22, 9), abortMarker(23, 7), abortMarker(24, 8), rec(25, 9)];
const abortedTransactions = [{ firstOffset: '10', producerId: '7' }, { firstOffset: '11', producerId: '8' }];

describe('read_committed filtering of aborted records', () => {
  it('kafkajs 2.2.4 lets an aborted record through when two aborted transactions overlap (the bug)', () => {
    const kept = originalKafkajsFilter()({ messages, abortedTransactions }).map((m) => m.offset);
    expect(kept).toContain('20');
  });

  it('drops every aborted record and keeps the committed ones', () => {
    const kept = filterAbortedMessages({ messages, abortedTransactions }).map((m) => m.offset);
    expect(kept).toEqual(['22', '23', '24', '25']);
  });

  it('handles an aborted list that is not in offset order', () => {
    const kept = filterAbortedMessages({ messages, abortedTransactions: [...abortedTransactions].reverse() }).map((m) => m.offset);
    expect(kept).toEqual(['22', '23', '24', '25']);
  });

  it('is what kafkajs uses in this process', async () => {
    await import('kafkajs');
    expect(readCommittedFixActive()).toBe(true);
  });
});
