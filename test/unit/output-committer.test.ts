import { describe, expect, it } from 'vitest';
import pino from 'pino';
import type { StreamscoreError } from '../../src/errors.js';
import { KafkaAdmin } from '../../src/kafka/admin.js';
import { KafkaClient } from '../../src/kafka/client.js';
import { FakeKafka, kafkaError } from '../../src/kafka/fake.js';
import { RecordProducer } from '../../src/kafka/producer.js';
import type { TopicPartition } from '../../src/kafka/records.js';
import { AtLeastOnceOutput, TransactionalOutput } from '../../src/kafka/sink.js';
import { systemClock, systemTimers } from '../../src/observability/clock.js';
import { OutputCommitter, type TransactionResult } from '../../src/sink/committer.js';
import { PartitionSink, type ScoredChunk } from '../../src/sink/partition-sink.js';
import { waitFor } from '../../src/util/wait.js';

const silent = pino({ level: 'silent' });
const retry = { initialMs: 1, maxMs: 5, budget: 3 };

function chunk(generation: number, offset: number, bytes: number): ScoredChunk {
  return { generation, lastOffset: BigInt(offset), inputs: 1, records: [{ topic: 'out', key: null, value: Buffer.alloc(bytes) }] };
}

/** A committer over the fake adapter with one sink per input partition, everything they report recorded. */
function over(fake: FakeKafka, mode: 'exactly-once' | 'at-least-once', commitIntervalMs = 0, partitions = 1) {
  const client = new KafkaClient({ brokers: ['fake:9092'], clientId: 'test', connectionTimeoutMs: 1000, requestTimeoutMs: 1000 }, silent, 'test', fake.asKafka());
  const admin = new KafkaAdmin(client);
  const shared = new RecordProducer(client);
  const consumer = fake.asKafka().consumer({ groupId: 'g' });
  const group = { memberId: 'm', generationId: 1, groupInstanceId: null };
  const output = mode === 'exactly-once'
    ? new TransactionalOutput({ client, admin, groupId: 'g', transactionTimeoutMs: 1_000, transactionalId: 'streamscore-g-test', groupMetadata: () => group })
    : new AtLeastOnceOutput({ admin, groupId: 'g', producer: shared, commitOffsets: (offsets) => consumer.commitOffsets(offsets.map(({ tp, nextOffset }) => ({ topic: tp.topic, partition: tp.partition, offset: nextOffset.toString() }))) });
  const seen = { rewinds: [] as string[], results: [] as TransactionResult[], troubles: [] as (string | undefined)[], retries: [] as string[] };
  const committer = new OutputCommitter({
    output, commitIntervalMs, maxRecordsPerTransaction: 10_000, retry, clock: systemClock, timers: systemTimers, logger: silent,
    onTransaction: (result) => seen.results.push(result),
    onRetry: (err: StreamscoreError) => seen.retries.push(err.code),
    onSettled: () => {},
    onTrouble: (err) => seen.troubles.push(err?.code),
  });
  const sinkFor = (tp: TopicPartition) => {
    const sink = new PartitionSink({
      tp, committer, retry, clock: systemClock, timers: systemTimers, logger: silent,
      rewind: (offset) => seen.rewinds.push(`${tp.partition}@${offset}`),
      onRetry: (err: StreamscoreError) => seen.retries.push(err.code),
      onSettled: () => {},
      onTrouble: (err) => seen.troubles.push(err?.code),
    });
    committer.register(sink);
    return sink;
  };
  const sinks = Array.from({ length: partitions }, (_, partition) => sinkFor({ topic: 'in', partition }));
  return { committer, sink: sinks[0]!, sinks, seen, group };
}

function fakeWithTopics(partitions = 1): FakeKafka {
  const fake = new FakeKafka();
  fake.createTopic('in', partitions);
  fake.createTopic('out', 1);
  return fake;
}

describe('OutputCommitter: commit cadence', () => {
  it('splits a long backlog into sends under 512 KiB, commits in offset order, every byte once', async () => {
    const fake = fakeWithTopics();
    const { sink, committer } = over(fake, 'at-least-once');
    await sink.start();
    for (let i = 0; i <= 30; i++) sink.submit(chunk(sink.generation, i, i === 0 ? 1000 : 100_000));
    await committer.flush();
    const out = fake.records('out');
    expect(out.length).toBe(31);
    expect(out.reduce((n, r) => n + r.value!.length, 0)).toBe(1000 + 30 * 100_000);
    expect(fake.calls.filter((c) => c === 'Produce').length).toBeGreaterThan(4);
    expect(fake.committedOffset('g', 'in', 0)).toBe(31n);
  });

  it("many chunks of several partitions within one interval become one transaction carrying every partition's offset", async () => {
    const fake = fakeWithTopics(3);
    const { sinks, seen, committer } = over(fake, 'exactly-once', 200, 3);
    await committer.start();
    await Promise.all(sinks.map((s) => s.start()));
    for (let i = 0; i < 10; i++) for (const s of sinks) s.submit(chunk(s.generation, i, 10));
    await waitFor(() => [0, 1, 2].every((p) => fake.committedOffset('g', 'in', p) === 10n), { timeoutMs: 5_000, what: 'the commit' });
    expect(seen.results).toEqual(['committed']);
    expect(fake.calls.filter((c) => c === 'EndTxn').length).toBe(1);
    expect(fake.calls.filter((c) => c === 'InitProducerId').length).toBe(1);
    expect(fake.records('out').length).toBe(30);
    await committer.close();
  });

  it("a coordinator still ending the last transaction (CONCURRENT_TRANSACTIONS on AddOffsetsToTxn) is waited out: the transaction commits, nothing rewinds", async () => {
    const fake = fakeWithTopics();
    const { sink, seen, committer } = over(fake, 'exactly-once');
    await sink.start();
    fake.failNext('AddOffsetsToTxn', kafkaError('CONCURRENT_TRANSACTIONS', 51), 3);
    sink.submit(chunk(sink.generation, 0, 10));
    await committer.flush();
    expect(fake.committedOffset('g', 'in', 0)).toBe(1n);
    expect(seen.results).toEqual(['committed']);
    expect(seen.rewinds).toEqual([]);
    expect(fake.calls.filter((c) => c === 'InitProducerId').length).toBe(1);
    await committer.close();
  });

  it('drops chunks from before a rewind', async () => {
    const fake = fakeWithTopics();
    const { sink, committer } = over(fake, 'at-least-once');
    await sink.start();
    sink.submit(chunk(sink.generation - 1, 7, 10));
    sink.submit(chunk(sink.generation, 8, 20));
    await committer.flush();
    expect(fake.records('out').map((r) => r.value!.length)).toEqual([20]);
  });
});

describe('OutputCommitter: a transaction that fails retires its producer (W1)', () => {
  it('EndTxn fails once: a new producer fences the old, the committed offset is re-read from the broker, the partition rewinds there and goes on', async () => {
    const fake = fakeWithTopics();
    const { sink, seen, committer } = over(fake, 'exactly-once');
    await sink.start();
    sink.submit(chunk(sink.generation, 0, 10));
    await committer.flush();
    expect(fake.committedOffset('g', 'in', 0)).toBe(1n);

    fake.failNext('EndTxn');
    fake.calls.length = 0;
    sink.submit(chunk(sink.generation, 1, 10));
    await waitFor(() => seen.rewinds.length === 1 && committer.isOpen, { timeoutMs: 5_000, what: 'the rewind and the new producer' });
    // kafkajs leaves the old producer in COMMITTING; only a new InitProducerId gets out of it.
    expect(fake.calls.slice(0, 3)).toEqual(['AddOffsetsToTxn', 'Produce', 'EndTxn']);
    expect(fake.calls).toContain('InitProducerId');
    expect(fake.calls).toContain('OffsetFetch');
    expect(seen.rewinds).toEqual(['0@1']);
    expect(seen.results).toEqual(['committed', 'aborted']);

    // The partition is read again from offset 1 and commits on the new producer.
    sink.submit(chunk(sink.generation, 1, 10));
    await committer.flush();
    expect(fake.committedOffset('g', 'in', 0)).toBe(2n);
    expect(fake.records('out').length).toBe(2);
    expect(sink.state).toBe('ready');
  });

  it('AddOffsetsToTxn fails: the transaction is aborted, nothing of it is visible, the partition rewinds', async () => {
    const fake = fakeWithTopics();
    const { sink, seen, committer } = over(fake, 'exactly-once');
    await sink.start();
    fake.failNext('AddOffsetsToTxn');
    sink.accepted(0n, 1n);
    sink.submit(chunk(sink.generation, 0, 10));
    await waitFor(() => seen.rewinds.length === 1 && sink.state === 'ready', { timeoutMs: 5_000, what: 'the rewind' });
    expect(fake.records('out')).toEqual([]);
    expect(fake.committedOffset('g', 'in', 0)).toBe(-1n);
    sink.submit(chunk(sink.generation, 0, 10));
    await committer.flush();
    expect(fake.records('out').length).toBe(1);
  });

  it('a stale group generation (a zombie after a rebalance): counted as fenced, nothing visible, the partition rewinds', async () => {
    const fake = fakeWithTopics();
    const { sink, seen, committer } = over(fake, 'exactly-once');
    await sink.start();
    sink.accepted(0n, 1n);
    fake.failNext('AddOffsetsToTxn', kafkaError('ILLEGAL_GENERATION', 22));
    sink.submit(chunk(sink.generation, 0, 10));
    await waitFor(() => seen.rewinds.length === 1 && committer.isOpen, { timeoutMs: 5_000, what: 'the rewind' });
    expect(seen.results).toEqual(['fenced']);
    expect(seen.retries).toEqual([]);
    expect(fake.records('out')).toEqual([]);
  });

  it('a retry that keeps failing is reported once the budget is spent, and cleared when it works again', async () => {
    const fake = fakeWithTopics();
    const { seen, committer } = over(fake, 'exactly-once');
    fake.failNext('InitProducerId', undefined, 3);
    await committer.start();
    expect(seen.retries).toEqual(['KAFKA_TRANSACTION_FAILED', 'KAFKA_TRANSACTION_FAILED', 'KAFKA_TRANSACTION_FAILED']);
    expect(seen.troubles).toEqual(['KAFKA_TRANSACTION_FAILED', undefined]);
    expect(committer.isOpen).toBe(true);
  });
});

describe('OutputCommitter: partitions leaving', () => {
  it('a partition revoked mid-transaction: the transaction aborts, the producer stays, the other partition rewinds and commits next', async () => {
    const fake = fakeWithTopics(2);
    const { sinks, seen, committer } = over(fake, 'exactly-once', 10_000, 2);
    const [kept, revoked] = sinks as [PartitionSink, PartitionSink];
    await committer.start();
    await Promise.all(sinks.map((s) => s.start()));
    kept.accepted(0n, 1n);
    kept.submit(chunk(kept.generation, 0, 10));
    // Past the 512 KiB a send may carry: sent at once, inside the open transaction.
    revoked.submit(chunk(revoked.generation, 0, 600_000));
    await waitFor(() => fake.calls.includes('Produce'), { timeoutMs: 2_000, intervalMs: 1, what: 'the early send' });
    const closing = revoked.close();
    await committer.flush();
    await closing;
    expect(seen.results).toEqual(['aborted']);
    expect(fake.calls.filter((c) => c === 'InitProducerId').length).toBe(1);
    expect(fake.records('out')).toEqual([]);
    await waitFor(() => kept.state === 'ready' && seen.rewinds.includes('0@0'), { timeoutMs: 2_000, what: 'the rewind' });
    kept.submit(chunk(kept.generation, 0, 10));
    await committer.flush();
    expect(fake.committedOffset('g', 'in', 0)).toBe(1n);
    expect(fake.committedOffset('g', 'in', 1)).toBe(-1n);
  });

  it('a sink closed while it reads its committed offset stays closed and takes nothing', async () => {
    const fake = fakeWithTopics();
    const { sink, committer } = over(fake, 'exactly-once');
    await committer.start();
    const release = fake.holdNext('OffsetFetch');
    const starting = sink.start();
    await sink.close();
    release();
    await starting;
    expect(sink.state).toBe('closed');
    sink.submit(chunk(sink.generation, 4, 10));
    expect(sink.pendingRecords).toBe(0);
  });
});
