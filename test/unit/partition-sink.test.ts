import { describe, expect, it } from 'vitest';
import pino from 'pino';
import type { StreamscoreError } from '../../src/errors.js';
import { KafkaAdmin } from '../../src/kafka/admin.js';
import { KafkaClient } from '../../src/kafka/client.js';
import { FakeKafka, kafkaError } from '../../src/kafka/fake.js';
import { RecordProducer } from '../../src/kafka/producer.js';
import { AtLeastOnceOutput, TransactionalOutput } from '../../src/kafka/sink.js';
import { systemClock, systemTimers } from '../../src/observability/clock.js';
import { PartitionSink, type ScoredChunk, type TransactionResult } from '../../src/sink/partition-sink.js';
import { waitFor } from '../../src/util/wait.js';

const tp = { topic: 'in', partition: 0 };
const silent = pino({ level: 'silent' });

function chunk(generation: number, offset: number, bytes: number): ScoredChunk {
  return { generation, lastOffset: BigInt(offset), inputs: 1, records: [{ topic: 'out', key: null, value: Buffer.alloc(bytes) }] };
}

/** A sink over the fake adapter, with everything it reports recorded. */
function sinkOver(fake: FakeKafka, mode: 'exactly-once' | 'at-least-once', commitIntervalMs = 0) {
  const client = new KafkaClient({ brokers: ['fake:9092'], clientId: 'test', connectionTimeoutMs: 1000, requestTimeoutMs: 1000 }, silent, 'test', fake.asKafka());
  const admin = new KafkaAdmin(client);
  const shared = new RecordProducer(client);
  const consumer = fake.asKafka().consumer({ groupId: 'g' });
  const output = mode === 'exactly-once'
    ? new TransactionalOutput({ client, admin, groupId: 'g', tp, transactionTimeoutMs: 60_000 })
    : new AtLeastOnceOutput({ admin, groupId: 'g', tp, producer: shared, commitOffset: (p, next) => consumer.commitOffsets([{ topic: p.topic, partition: p.partition, offset: next.toString() }]) });
  const seen = { rewinds: [] as bigint[], results: [] as TransactionResult[], troubles: [] as (string | undefined)[], retries: [] as string[] };
  const sink = new PartitionSink({
    tp, output, commitIntervalMs, retry: { initialMs: 1, maxMs: 5, budget: 3 }, clock: systemClock, timers: systemTimers, logger: silent,
    rewind: (offset) => seen.rewinds.push(offset),
    onTransaction: (result) => seen.results.push(result),
    onRetry: (err: StreamscoreError) => seen.retries.push(err.code),
    onSettled: () => {},
    onTrouble: (err) => seen.troubles.push(err?.code),
  });
  return { sink, seen };
}

function fakeWithTopics(): FakeKafka {
  const fake = new FakeKafka();
  fake.createTopic('in', 1);
  fake.createTopic('out', 1);
  return fake;
}

describe('PartitionSink: commit cadence', () => {
  it('splits a long backlog into sends under 512 KiB, commits in offset order, every byte once', async () => {
    const fake = fakeWithTopics();
    const { sink } = sinkOver(fake, 'at-least-once');
    await sink.start();
    for (let i = 0; i <= 30; i++) sink.submit(chunk(sink.generation, i, i === 0 ? 1000 : 100_000));
    await sink.drained();
    const out = fake.records('out');
    expect(out.length).toBe(31);
    expect(out.reduce((n, r) => n + r.value!.length, 0)).toBe(1000 + 30 * 100_000);
    expect(fake.calls.filter((c) => c === 'Produce').length).toBeGreaterThan(4);
    expect(fake.committedOffset('g', 'in', 0)).toBe(31n);
  });

  it('many chunks within one interval become one transaction', async () => {
    const fake = fakeWithTopics();
    const { sink, seen } = sinkOver(fake, 'exactly-once', 200);
    await sink.start();
    for (let i = 0; i < 10; i++) sink.submit(chunk(sink.generation, i, 10));
    await waitFor(() => fake.committedOffset('g', 'in', 0) === 10n, { timeoutMs: 5_000, what: 'the commit' });
    expect(seen.results).toEqual(['committed']);
    expect(fake.calls.filter((c) => c === 'EndTxn').length).toBe(1);
    await sink.close();
  });

  it('drops chunks from before a rewind', async () => {
    const fake = fakeWithTopics();
    const { sink } = sinkOver(fake, 'at-least-once');
    await sink.start();
    sink.submit(chunk(sink.generation - 1, 7, 10));
    sink.submit(chunk(sink.generation, 8, 20));
    await sink.drained();
    expect(fake.records('out').map((r) => r.value!.length)).toEqual([20]);
  });
});

describe('PartitionSink: a transaction that fails to end retires its producer (W1)', () => {
  it('EndTxn fails once: a new producer fences the old, the committed offset is re-read from the broker, the partition rewinds there and goes on', async () => {
    const fake = fakeWithTopics();
    const { sink, seen } = sinkOver(fake, 'exactly-once');
    await sink.start();
    sink.submit(chunk(sink.generation, 0, 10));
    await sink.drained();
    expect(fake.committedOffset('g', 'in', 0)).toBe(1n);

    fake.failNext('EndTxn');
    fake.calls.length = 0;
    sink.submit(chunk(sink.generation, 1, 10));
    await waitFor(() => seen.rewinds.length === 1, { timeoutMs: 5_000, what: 'the rewind' });
    // kafkajs leaves the old producer in COMMITTING; only a new InitProducerId gets out of it.
    expect(fake.calls).toEqual(['AddOffsetsToTxn', 'Produce', 'EndTxn', 'InitProducerId', 'AbortTxn', 'OffsetFetch']);
    expect(seen.rewinds).toEqual([1n]);
    expect(seen.results).toEqual(['committed', 'aborted']);

    // The partition is read again from offset 1 and commits on the new producer.
    sink.submit(chunk(sink.generation, 1, 10));
    await sink.drained();
    expect(fake.committedOffset('g', 'in', 0)).toBe(2n);
    expect(fake.records('out').length).toBe(2);
    expect(sink.state).toBe('ready');
  });

  it('AddOffsetsToTxn fails: the transaction is aborted, nothing of it is visible, the partition rewinds', async () => {
    const fake = fakeWithTopics();
    const { sink, seen } = sinkOver(fake, 'exactly-once');
    await sink.start();
    fake.failNext('AddOffsetsToTxn');
    sink.accepted(0n, 1n);
    sink.submit(chunk(sink.generation, 0, 10));
    await waitFor(() => seen.rewinds.length === 1, { timeoutMs: 5_000, what: 'the rewind' });
    expect(fake.records('out')).toEqual([]);
    expect(fake.committedOffset('g', 'in', 0)).toBe(-1n);
    sink.submit(chunk(sink.generation, 0, 10));
    await sink.drained();
    expect(fake.records('out').length).toBe(1);
  });

  it('fenced: the sink ends and never retries with that producer', async () => {
    const fake = fakeWithTopics();
    const { sink, seen } = sinkOver(fake, 'exactly-once');
    await sink.start();
    fake.failNext('Produce', kafkaError('PRODUCER_FENCED', 90));
    sink.submit(chunk(sink.generation, 0, 10));
    await sink.drained();
    expect(sink.state).toBe('fenced');
    expect(seen.results).toEqual(['fenced']);
    expect(seen.rewinds).toEqual([]);
  });

  it('a retry that keeps failing is reported once the budget is spent, and cleared when it works again', async () => {
    const fake = fakeWithTopics();
    const { sink, seen } = sinkOver(fake, 'exactly-once');
    fake.failNext('InitProducerId', undefined, 3);
    const start = sink.start();
    await start;
    expect(seen.retries).toEqual(['KAFKA_TRANSACTION_FAILED', 'KAFKA_TRANSACTION_FAILED', 'KAFKA_TRANSACTION_FAILED']);
    expect(seen.troubles).toEqual(['KAFKA_TRANSACTION_FAILED', undefined]);
  });
});

/** Starts the sink, closes it once its producer is fenced in but the committed offset is still being read, then lets the read finish. */
async function closeWhileOpening(fake: FakeKafka, sink: PartitionSink): Promise<void> {
  const release = fake.holdNext('OffsetFetch');
  const starting = sink.start();
  await waitFor(() => fake.calls.includes('InitProducerId'), { timeoutMs: 2_000, intervalMs: 1, what: 'the fence' });
  await sink.close();
  release();
  await starting;
}

describe('PartitionSink start racing a revocation', () => {
  it('a sink closed while it was starting stays closed and releases the producer it made', async () => {
    const fake = fakeWithTopics();
    const { sink } = sinkOver(fake, 'exactly-once');
    await closeWhileOpening(fake, sink);
    expect(sink.state).toBe('closed');
    sink.submit(chunk(sink.generation, 4, 10));
    expect(sink.pendingRecords).toBe(0);
  });

  it('a sink closed while a failing open is in flight stays closed: no fence is reported for it', async () => {
    const fake = fakeWithTopics();
    const { sink, seen } = sinkOver(fake, 'exactly-once');
    fake.failNext('OffsetFetch');
    await closeWhileOpening(fake, sink);
    expect(sink.state).toBe('closed');
    expect(seen.results).toEqual([]);
  });
});
