import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { groupGeneration } from '../../src/kafka/group-generation.js';
import { kafkajsFrameRequest } from '../../src/kafka/request-framing.js';
import { decodeTxnOffsetCommitV3, encodeTxnOffsetCommitV3, setTransactionGroupMetadata } from '../../src/kafka/txn-offset-commit.js';

const require = createRequire(import.meta.url);

const args = {
  transactionalId: 't',
  groupId: 'g',
  producerId: '5',
  producerEpoch: 2,
  topics: [{ topic: 'a', partitions: [{ partition: 1, offset: '300' }] }],
};

/** The body after the producer epoch: topic 'a', partition 1, offset 300, leader epoch -1, then `metadata`. */
const topicsWith = (metadata: number[]) => [
  0x02, 0x02, 0x61, // topics [1], name 'a'
  0x02, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x01, 0x2c, 0xff, 0xff, 0xff, 0xff, // partitions [1]: 1, offset 300, leader epoch -1
  ...metadata, 0x00, // committed metadata, partition tags
  0x00, 0x00, // topic tags, request tags
];

const head = [
  0x00, // request header v2's tagged fields (kafkajs writes the v1 header before this)
  0x02, 0x74, 0x02, 0x67, // transactional id 't', group id 'g'
  0, 0, 0, 0, 0, 0, 0, 5, 0, 2, // producer id 5, epoch 2
];

describe('TxnOffsetCommit v3 (KIP-447)', () => {
  it('without group metadata, carries generation -1, member id "" and no instance id (the coordinator checks no generation)', () => {
    const expected = [...head, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00, ...topicsWith([0x00])];
    expect([...encodeTxnOffsetCommitV3(args)]).toEqual(expected);
  });

  it("with group metadata, carries the member's generation, member id and instance id, and each partition's metadata", () => {
    const withMetadata = { ...args, topics: [{ topic: 'a', partitions: [{ partition: 1, offset: '300', metadata: 'x' }] }] };
    const body = encodeTxnOffsetCommitV3(withMetadata, { memberId: 'm-1', generationId: 7, groupInstanceId: 'i' });
    const expected = [...head, 0, 0, 0, 7, 0x04, 0x6d, 0x2d, 0x31, 0x02, 0x69, ...topicsWith([0x02, 0x78])];
    expect([...body]).toEqual(expected);
  });

  it("kafkajs's request table speaks v3, and its request carries the metadata set for the transactional id", async () => {
    const { requests } = require('kafkajs/src/protocol/requests/index.js') as { requests: { TxnOffsetCommit: { versions: string[]; protocol: (o: { version: string }) => (a: typeof args) => { request: { apiKey: number; apiVersion: number; encode: () => Promise<{ buffer: Buffer }> } } } } };
    expect(requests.TxnOffsetCommit.versions).toEqual(['0', '1', '3']);
    const meta = { memberId: 'm-1', generationId: 7, groupInstanceId: null };
    setTransactionGroupMetadata('t', meta);
    try {
      const { request } = requests.TxnOffsetCommit.protocol({ version: '3' })(args);
      expect(request.apiVersion).toBe(3);
      expect((await request.encode()).buffer).toEqual(encodeTxnOffsetCommitV3(args, meta));
      // kafkajs's own framing takes it too (it wants an Encoder, not a bare buffer).
      const framed = (await kafkajsFrameRequest({ correlationId: 1, clientId: 'c', request })).buffer;
      expect(framed.subarray(framed.length - encodeTxnOffsetCommitV3(args, meta).length)).toEqual(encodeTxnOffsetCommitV3(args, meta));
    } finally {
      setTransactionGroupMetadata('t', undefined);
    }
    const { request } = requests.TxnOffsetCommit.protocol({ version: '3' })(args);
    expect((await request.encode()).buffer).toEqual(encodeTxnOffsetCommitV3(args));
  });

  it("decodes the response (after the header's tagged fields) and a partition's error becomes kafkajs's protocol error", async () => {
    const raw = Buffer.from([
      0x00, // response header v1's tagged fields
      0, 0, 0, 9, // throttle time
      0x02, 0x02, 0x61, // topics [1], name 'a'
      0x03, 0, 0, 0, 0, 0, 0, 0x00, 0, 0, 0, 1, 0, 22, 0x00, // partitions [2]: 0 ok, 1 ILLEGAL_GENERATION (22)
      0x00, 0x00, // topic tags, response tags
    ]);
    const decoded = await decodeTxnOffsetCommitV3(raw);
    expect(decoded).toEqual({ throttleTime: 0, clientSideThrottleTime: 9, topics: [{ topic: 'a', partitions: [{ partition: 0, errorCode: 0 }, { partition: 1, errorCode: 22 }] }] });
    const { requests } = require('kafkajs/src/protocol/requests/index.js') as { requests: { TxnOffsetCommit: { protocol: (o: { version: string }) => (a: typeof args) => { response: { parse: (d: unknown) => Promise<unknown> } } } } };
    const { response } = requests.TxnOffsetCommit.protocol({ version: '3' })(args);
    await expect(response.parse(decoded)).rejects.toMatchObject({ name: 'KafkaJSProtocolError', type: 'ILLEGAL_GENERATION', code: 22, retriable: false });
    const ok = { ...decoded, topics: [{ topic: 'a', partitions: [{ partition: 0, errorCode: 0 }] }] };
    await expect(response.parse(ok)).resolves.toEqual(ok);
  });

  it("kafkajs's OffsetManager, as its consumer group builds it on a join, records the member's generation", () => {
    const OffsetManager = require('kafkajs/src/consumer/offsetManager/index.js') as new (o: object) => { generationId: number };
    const manager = new OffsetManager({ cluster: { committedOffsets: () => ({}) }, memberAssignment: {}, groupId: 'g', memberId: 'member-unit', generationId: 4 });
    expect(manager.generationId).toBe(4);
    expect(groupGeneration('member-unit')).toBe(4);
    expect(groupGeneration('never-joined')).toBeUndefined();
  });
});
