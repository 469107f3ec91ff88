import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { KafkaClient } from '../../src/kafka/client.js';
import { FakeKafka } from '../../src/kafka/fake.js';
import { type FetchedBatch, GroupSource } from '../../src/kafka/source.js';

function sourceOver(fake: FakeKafka, onBatch: (b: FetchedBatch) => Promise<void>) {
  const logger = pino({ level: 'silent' });
  const client = new KafkaClient({ brokers: ['fake:9092'], clientId: 't', connectionTimeoutMs: 1000, requestTimeoutMs: 1000 }, logger, 't', fake.asKafka());
  return new GroupSource(client, {
    groupId: 'g', topics: ['in'], fromBeginning: true, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, heartbeatIntervalMs: 1_000,
    fetchMaxWaitMs: 100, fetchMaxBytes: 1 << 20, fetchMaxBytesPerPartition: 1 << 18,
  }, { assigned: () => {}, revoked: () => {}, crashed: () => {}, batch: onBatch }, logger);
}

describe('GroupSource', () => {
  it('W5: a batch fetched before a seek is no longer current, whatever the client does with it', async () => {
    const fake = new FakeKafka();
    fake.createTopic('in', 1);
    fake.append('in', 0, Array.from({ length: 10 }, (_, i) => ({ value: String(i) })));
    const seen: { first: bigint; currentAfterSeek: boolean }[] = [];
    let seekDuring = true;
    const source: GroupSource = sourceOver(fake, async (b) => {
      // The pipeline rewinds this partition while the batch is being decoded.
      if (seekDuring) source.seek(b.tp, 3n);
      seen.push({ first: b.records[0]!.offset, currentAfterSeek: b.isCurrent() });
    });
    await source.start();
    const consumer = fake.consumerOf('g');
    consumer.assign({ in: [0] });
    await consumer.fetch('in', 0);
    seekDuring = false;
    await consumer.fetch('in', 0);
    expect(seen).toEqual([{ first: 0n, currentAfterSeek: false }, { first: 3n, currentAfterSeek: true }]);
  });

  it('copies keys and values out of the fetch buffer', async () => {
    const fake = new FakeKafka();
    fake.createTopic('in', 1);
    const value = Buffer.from('abc');
    fake.append('in', 0, [{ key: 'k', value }]);
    let got: Buffer | null = null;
    const source = sourceOver(fake, async (b) => { got = b.records[0]!.value; });
    await source.start();
    fake.consumerOf('g').assign({ in: [0] });
    await fake.consumerOf('g').fetch('in', 0);
    value.write('xyz');
    expect(got!.toString()).toBe('abc');
  });
});
