import { createRequire } from 'node:module';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encodeProduceRequest, kafkajsProduceRequestV3 } from '../../src/kafka/produce-request.js';
import { groupMessagesPerPartition, kafkajsGroupMessagesPerPartition } from '../../src/kafka/partition-grouping.js';
import { frameRequest, kafkajsFrameRequest } from '../../src/kafka/request-framing.js';

const require = createRequire(import.meta.url);

/** A deterministic generator, so a failure names a seed that reproduces it. */
function random(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Bytes = Buffer | string;

function message(rnd: () => number, base: number, withTimestamp: boolean) {
  const bytes = (max: number): Bytes => {
    const n = Math.floor(rnd() * max);
    if (rnd() < 0.3) return 'ключ-é-'.repeat(1 + (n % 5)) + n;
    return Buffer.from(Array.from({ length: n }, () => Math.floor(rnd() * 256)));
  };
  const headers: Record<string, Bytes | Bytes[]> = {};
  const headerCount = Math.floor(rnd() * 4);
  for (let h = 0; h < headerCount; h++) headers[`h${h}-ü`] = rnd() < 0.3 ? [bytes(20), bytes(40)] : bytes(60);
  return {
    key: rnd() < 0.2 ? null : bytes(40),
    value: rnd() < 0.05 ? null : bytes(rnd() < 0.1 ? 20_000 : 600),
    headers,
    // Spread over ~40 days, so some deltas need more than 32 bits of zig-zag varlong; same digit count as `base`.
    ...(withTimestamp ? { timestamp: String(base + Math.floor(rnd() * 3.5e9)) } : {}),
  };
}

function request(seed: number, withTimestamps = true, maxMessages = 50) {
  const rnd = random(seed);
  const base = 1_700_000_000_000;
  const topicData = Array.from({ length: 1 + Math.floor(rnd() * 3) }, (_, t) => ({
    topic: `topic-${t}-${seed}`,
    partitions: Array.from({ length: 1 + Math.floor(rnd() * 4) }, (_, p) => ({
      partition: p * 3,
      firstSequence: Math.floor(rnd() * 1e6),
      messages: Array.from({ length: 1 + Math.floor(rnd() * maxMessages) }, () => message(rnd, base, withTimestamps)),
    })),
  }));
  const transactional = rnd() < 0.5;
  return {
    acks: -1,
    timeout: 30_000,
    transactionalId: transactional ? `streamscore-g-in-${seed}` : null,
    producerId: String(Math.floor(rnd() * 2 ** 40)),
    producerEpoch: Math.floor(rnd() * 30_000),
    topicData,
  };
}

async function kafkajsBytes(args: ReturnType<typeof request>): Promise<Buffer> {
  return ((await kafkajsProduceRequestV3(args).encode()) as { buffer: Buffer }).buffer;
}

describe('produce request encoding', () => {
  afterEach(() => vi.useRealTimers());

  it('writes the same bytes as kafkajs for random records, keys, values and headers', async () => {
    for (let seed = 1; seed <= 60; seed++) {
      const args = request(seed);
      expect(encodeProduceRequest(args).equals(await kafkajsBytes(args)), `seed ${seed}`).toBe(true);
    }
  });

  it('writes the same bytes for a request larger than the sizing scratch starts (it grows), and for a small one after it', async () => {
    const large = request(61, true, 3_000);
    // Five numbers per record and two per header value: past the scratch's first 2^14.
    const sized = large.topicData.flatMap((t) => t.partitions).flatMap((p) => p.messages).reduce((n, m) => n + 5 + 2 * Object.values(m.headers).flat().length, 0);
    expect(sized).toBeGreaterThan(1 << 14);
    expect(encodeProduceRequest(large).equals(await kafkajsBytes(large))).toBe(true);
    const small = request(62);
    expect(encodeProduceRequest(small).equals(await kafkajsBytes(small))).toBe(true);
  });

  it('stamps records without a timestamp with the time of encoding, as kafkajs does', async () => {
    vi.useFakeTimers({ now: 1_750_000_000_123, toFake: ['Date'] });
    const args = request(7, false);
    expect(encodeProduceRequest(args).equals(await kafkajsBytes(args))).toBe(true);
  });

  it('is what kafkajs uses for every produce version it speaks (v3-v7)', async () => {
    const args = request(3);
    for (const version of [3, 4, 5, 6, 7]) {
      const build = require(`kafkajs/src/protocol/requests/produce/v${version}/request.js`) as (a: typeof args) => { apiVersion: number; encode: () => Promise<{ buffer: Buffer }> };
      const r = build(args);
      expect(r.apiVersion).toBe(version);
      expect((await r.encode()).buffer.equals(encodeProduceRequest(args))).toBe(true);
    }
  });

  it('frames a request exactly as kafkajs does, with and without a client id', async () => {
    const body = encodeProduceRequest(request(11));
    const encode = async () => ({ buffer: body, buf: body, offset: body.length, size: () => body.length });
    for (const clientId of ['streamscore-ü', null]) {
      const args = { correlationId: 4242, clientId, request: { apiKey: 0, apiVersion: 7, encode } };
      expect((await frameRequest(args)).buffer.equals((await kafkajsFrameRequest(args)).buffer)).toBe(true);
    }
    expect(require('kafkajs/src/protocol/request.js')).toBe(frameRequest);
  });
});

describe('grouping messages by partition', () => {
  it('gives what kafkajs gives: each partition\'s messages in send order', () => {
    const rnd = random(99);
    const messages = Array.from({ length: 2_000 }, (_, i) => ({ i, partition: Math.floor(rnd() * 12) }));
    const args = { topic: 't', partitionMetadata: [{}], messages, partitioner: ({ message }: { message: { partition: number } }) => message.partition };
    expect(groupMessagesPerPartition(args)).toEqual(kafkajsGroupMessagesPerPartition(args));
    expect(groupMessagesPerPartition({ ...args, partitionMetadata: [] })).toEqual({});
    expect(require('kafkajs/src/producer/groupMessagesPerPartition.js')).toBe(groupMessagesPerPartition);
  });
});

describe('null header values', () => {
  it('are written as length -1 and read back as null, where kafkajs would throw', async () => {
    const decodeBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder.js') as (d: unknown) => Promise<{ records: { headers: Record<string, unknown> }[] }>;
    const Decoder = require('kafkajs/src/protocol/decoder.js') as new (b: Buffer) => unknown;
    const args = {
      acks: -1, timeout: 1000, transactionalId: null, producerId: '-1', producerEpoch: 0,
      topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [{ key: null, value: Buffer.from('v'), headers: { kept: 'x', gone: null }, timestamp: '1700000000000' }] }] }],
    };
    const buf = encodeProduceRequest(args as never);
    // transactional id (null), acks, timeout, topic count, topic 't', partition count, partition, record set size
    const batchAt = 2 + 2 + 4 + 4 + (2 + 1) + 4 + 4 + 4;
    const batch = await decodeBatch(new Decoder(buf.subarray(batchAt)));
    expect(batch.records[0]!.headers.gone).toBeNull();
    expect(String(batch.records[0]!.headers.kept)).toBe('x');
    await expect(kafkajsBytes(args as never)).rejects.toThrow();
  });
});
