import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { KafkaClient } from '../../src/kafka/client.js';
import { PartitionRangeReader } from '../../src/kafka/partition-reader.js';
import { KafkaAdmin } from '../../src/kafka/admin.js';
import { scanTopic } from '../../src/replay/compare.js';
import { createTopics, kafkaBrokers, kafkaForSuite, uniqueName } from '../support/kafka.js';

describe('PartitionRangeReader', () => {
  const { kafka, admin } = kafkaForSuite();

  it('a range whose end lies past the log (truncated or deleted since it was fixed) fails with a code instead of fetching forever', async () => {
    const topic = uniqueName('reader-short');
    await createTopics(admin, [topic], 1);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: Array.from({ length: 10 }, (_, i) => ({ value: String(i), partition: 0 })) });
    await producer.disconnect();
    const client = new KafkaClient({ brokers: kafkaBrokers(), clientId: 'reader-test', connectionTimeoutMs: 5_000, requestTimeoutMs: 10_000 }, pino({ level: 'silent' }));
    // As if the log had held 20 records when the range was fixed.
    const reader = new PartitionRangeReader(client, [{ tp: { topic, partition: 0 }, start: 0n, end: 20n }], { maxWaitMs: 100, maxBytes: 1 << 20, maxBytesPerPartition: 1 << 20 });
    try {
      const read: number[] = [];
      const outcome = await (async () => {
        for (;;) {
          const batches = await reader.next();
          if (!batches) return 'ended';
          for (const b of batches) read.push(...b.records.map((r) => Number(r.value!.toString())));
        }
      })().catch((err: unknown) => err);
      expect(read).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(outcome).toMatchObject({ code: 'KAFKA_OFFSET_OUT_OF_RANGE', message: expect.stringMatching(/ends at offset 10, short of the range being read \(to 20\)/) });
    } finally {
      await reader.close();
    }
  }, 20_000);

  it('a whole-topic scan (replay --compare) reads to the high watermark: a transaction committed while it reads is waited for, not cut off at the last stable offset', async () => {
    const topic = uniqueName('scan-hw');
    await createTopics(admin, [topic], 1);
    const plain = kafka.producer();
    await plain.connect();
    await plain.send({ topic, messages: Array.from({ length: 10 }, (_, i) => ({ value: `p${i}`, partition: 0 })) });
    await plain.disconnect();
    const producer = kafka.producer({ transactionalId: uniqueName('scan-hw-tx'), idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const txn = await producer.transaction();
    await txn.send({ topic, messages: Array.from({ length: 100 }, (_, i) => ({ value: `t${i}`, partition: 0 })) });
    const client = new KafkaClient({ brokers: kafkaBrokers(), clientId: 'scan-test', connectionTimeoutMs: 5_000, requestTimeoutMs: 10_000 }, pino({ level: 'silent' }));
    const kafkaAdmin = new KafkaAdmin(client);
    await kafkaAdmin.connect();
    try {
      const seen: string[] = [];
      // The scan lists the topic's offsets while the transaction is open (last stable offset 10,
      // high watermark 110); the commit comes once it has.
      let listed!: () => void;
      const listing = new Promise<void>((r) => { listed = r; });
      const watched = {
        offsetRanges: async (t: string) => { const r = await kafkaAdmin.offsetRanges(t); listed(); return r; },
        highWatermarkRanges: async (t: string) => { const r = await kafkaAdmin.highWatermarkRanges(t); listed(); return r; },
      } as unknown as KafkaAdmin;
      const scanning = scanTopic({ client, admin: watched, reader: { maxWaitMs: 100, maxBytes: 1 << 20, maxBytesPerPartition: 1 << 20 } }, topic, async (r) => { seen.push(r.value!.toString()); });
      await listing;
      await txn.commit();
      await scanning;
      expect(seen).toEqual([...Array.from({ length: 10 }, (_, i) => `p${i}`), ...Array.from({ length: 100 }, (_, i) => `t${i}`)]);
    } finally {
      await producer.disconnect();
      await kafkaAdmin.disconnect();
    }
  }, 30_000);
});
