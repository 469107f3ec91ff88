import { describe, expect, it } from 'vitest';
import pino from 'pino';
import type { Admin, Kafka, Message, Producer } from 'kafkajs';
import { PartitionSink, type ScoredChunk } from '../../src/sink/partition-sink.js';

/** The shared (at-least-once) producer, swapped for one that records what it was asked to send. */
function recordingProducer() {
  const sends: number[] = [];
  let release!: () => void;
  let blocked: Promise<void> | undefined = new Promise((r) => { release = r; });
  const producer = {
    sendBatch: async ({ topicMessages }: { topicMessages: { messages: Message[] }[] }) => {
      sends.push(topicMessages.reduce((n, t) => n + t.messages.reduce((b, m) => b + (m.value as Buffer).length, 0), 0));
      const wait = blocked;
      blocked = undefined;
      await wait;
      return [];
    },
  } as unknown as Producer;
  return { producer, sends, release: () => release() };
}

function chunk(generation: number, offset: number, bytes: number): ScoredChunk {
  return { generation, lastOffset: BigInt(offset), records: 1, messages: [{ topic: 'out', message: { key: null, value: Buffer.alloc(bytes) } }] };
}

describe('PartitionSink', () => {
  it('splits a long backlog into transactions the broker accepts (under 1 MiB each), in offset order', async () => {
    const { producer, sends, release } = recordingProducer();
    const committed: string[] = [];
    const sink = new PartitionSink({
      kafka: {} as Kafka,
      admin: { fetchOffsets: async () => [{ topic: 'in', partitions: [{ partition: 0, offset: '-1' }] }] } as unknown as Admin,
      groupId: 'g', topic: 'in', partition: 0, delivery: 'at-least-once', transactionTimeoutMs: 60_000,
      sharedProducer: producer,
      commitOffset: async (offset) => { committed.push(offset); },
      rewind: () => { throw new Error('no rewind expected'); },
      logger: pino({ level: 'silent' }),
      onTransaction: () => {},
    });
    await sink.start();
    sink.submit(chunk(0, 0, 1000));
    // 3 MB arrive while the first commit is in flight.
    for (let i = 1; i <= 30; i++) sink.submit(chunk(0, i, 100_000));
    release();
    await sink.drained();
    expect(sends.length).toBeGreaterThan(4);
    expect(Math.max(...sends)).toBeLessThanOrEqual(512 * 1024);
    expect(sends.reduce((a, b) => a + b, 0)).toBe(1000 + 30 * 100_000);
    expect(committed.at(-1)).toBe('31');
    expect(committed.map(Number)).toEqual([...committed.map(Number)].sort((a, b) => a - b));
  });

  it('drops chunks from before a rewind', async () => {
    const { producer, sends, release } = recordingProducer();
    release();
    const sink = new PartitionSink({
      kafka: {} as Kafka,
      admin: { fetchOffsets: async () => [{ topic: 'in', partitions: [{ partition: 0, offset: '5' }] }] } as unknown as Admin,
      groupId: 'g', topic: 'in', partition: 0, delivery: 'at-least-once', transactionTimeoutMs: 60_000,
      sharedProducer: producer, commitOffset: async () => {}, rewind: () => {}, logger: pino({ level: 'silent' }), onTransaction: () => {},
    });
    await sink.start();
    sink.rewind();
    sink.submit(chunk(0, 7, 10));
    sink.submit(chunk(sink.generation, 8, 20));
    await sink.drained();
    expect(sends).toEqual([20]);
  });
});

describe('PartitionSink start racing a revocation', () => {
  it('a sink closed while it was starting stays closed and releases the producer it made', async () => {
    let releaseOffsets!: () => void;
    const offsetsHeld = new Promise<void>((r) => { releaseOffsets = r; });
    let disconnects = 0;
    const producer = {
      connect: async () => {},
      transaction: async () => ({ abort: async () => {} }),
      disconnect: async () => { disconnects++; },
    };
    const sink = new PartitionSink({
      kafka: { producer: () => producer } as unknown as Kafka,
      admin: { fetchOffsets: async () => { await offsetsHeld; return [{ topic: 'in', partitions: [{ partition: 0, offset: '3' }] }]; } } as unknown as Admin,
      groupId: 'g', topic: 'in', partition: 0, delivery: 'exactly-once', transactionTimeoutMs: 60_000,
      commitOffset: async () => {}, rewind: () => {}, logger: pino({ level: 'silent' }), onTransaction: () => {},
    });
    const starting = sink.start();
    await new Promise((r) => setImmediate(r));
    await sink.close();
    releaseOffsets();
    await starting;
    expect(sink.state).toBe('closed');
    expect(disconnects).toBeGreaterThanOrEqual(1);
    sink.submit(chunk(sink.generation, 4, 10));
    expect(sink.pendingRecords).toBe(0);
  });
});
