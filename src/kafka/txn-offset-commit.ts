import { createRequire } from 'node:module';
import { StreamscoreError } from '../errors.js';
import { Decoder, Encoder, type KafkaEncoder, addRequestVersion } from './protocol-versions.js';

/**
 * TxnOffsetCommit v3 (KIP-447), installed into kafkajs before it loads. kafkajs 2.2.4 speaks
 * v0-v1, which carry no group generation: the transactional id was then the only fence, and
 * streamscore needed one producer per input partition. v3 carries the member id and the
 * generation of the consumer group, and the coordinator refuses the offsets (and so the
 * transaction) of a member a rebalance has moved past: one producer per instance is safe.
 * kafkajs picks the highest version both sides speak, so every TxnOffsetCommit is v3 on
 * brokers from 2.5 on. The group metadata is not among the arguments kafkajs passes down,
 * so it is set per transactional id before the offsets are sent.
 */
const require = createRequire(import.meta.url);
const { parse } = require('kafkajs/src/protocol/requests/txnOffsetCommit/v0/response.js') as { parse: (data: unknown) => Promise<unknown> };
const { TxnOffsetCommit: apiKey } = require('kafkajs/src/protocol/requests/apiKeys.js') as { TxnOffsetCommit: number };

export const GENERATION_FENCED_VERSION = 3;

/** Who commits: the consumer group member and the generation its partitions were assigned in. */
export interface GroupMetadata {
  memberId: string;
  generationId: number;
  groupInstanceId: string | null;
}

interface Args {
  transactionalId: string;
  groupId: string;
  producerId: number | string;
  producerEpoch: number;
  topics: { topic: string; partitions: { partition: number; offset: string; metadata?: string | null }[] }[];
}

const metadataByTransactionalId = new Map<string, GroupMetadata>();

/** What the next TxnOffsetCommit of this transactional id carries; undefined: no member (the coordinator then checks no generation). */
export function setTransactionGroupMetadata(transactionalId: string, meta: GroupMetadata | undefined): void {
  if (meta) metadataByTransactionalId.set(transactionalId, meta);
  else metadataByTransactionalId.delete(transactionalId);
}

/** Without a member the coordinator skips the generation check: what a producer outside any group (the replay) sends. */
const NO_MEMBER: GroupMetadata = { memberId: '', generationId: -1, groupInstanceId: null };

/** The v3 request body (after kafkajs's v1 request header). */
export function encodeTxnOffsetCommitV3(args: Args, meta: GroupMetadata = NO_MEMBER): Buffer {
  return writeV3(args, meta).buffer;
}

function writeV3(args: Args, meta: GroupMetadata): KafkaEncoder {
  const e = new Encoder();
  // kafkajs writes a v1 request header; a flexible request's v2 header adds empty tagged fields.
  e.writeUVarInt(0);
  e.writeUVarIntString(args.transactionalId);
  e.writeUVarIntString(args.groupId);
  e.writeInt64(args.producerId);
  e.writeInt16(args.producerEpoch);
  e.writeInt32(meta.generationId);
  e.writeUVarIntString(meta.memberId);
  e.writeUVarIntString(meta.groupInstanceId);
  e.writeUVarInt(args.topics.length + 1);
  for (const t of args.topics) {
    e.writeUVarIntString(t.topic);
    e.writeUVarInt(t.partitions.length + 1);
    for (const p of t.partitions) {
      e.writeInt32(p.partition);
      e.writeInt64(p.offset);
      e.writeInt32(-1); // committed leader epoch: unknown
      e.writeUVarIntString(p.metadata ?? null);
      e.writeUVarInt(0);
    }
    e.writeUVarInt(0);
  }
  e.writeUVarInt(0);
  return e;
}

export async function decodeTxnOffsetCommitV3(raw: Buffer) {
  const d = new Decoder(raw);
  d.readTaggedFields(); // flexible response header
  const throttleTime = d.readInt32();
  const topics = d.readUVarIntArray((t) => {
    const topic = t.readUVarIntString();
    const partitions = t.readUVarIntArray((p) => {
      const partition = p.readInt32();
      const errorCode = p.readInt16();
      p.readTaggedFields();
      return { partition, errorCode };
    }) ?? [];
    t.readTaggedFields();
    return { topic, partitions };
  }) ?? [];
  d.readTaggedFields();
  return { throttleTime: 0, clientSideThrottleTime: throttleTime, topics };
}

function requestV3(args: Args) {
  // The metadata set when sendOffsets sends: each of its attempts builds a request anew.
  const meta = metadataByTransactionalId.get(args.transactionalId) ?? NO_MEMBER;
  return {
    apiKey,
    apiVersion: GENERATION_FENCED_VERSION,
    apiName: 'TxnOffsetCommit',
    // An Encoder, as kafkajs's own requests return: both its framing and ours (request-framing.ts) take one.
    encode: async () => writeV3(args, meta),
  };
}

const generationFencingInstalled = addRequestVersion<Args>('txnOffsetCommit', 'TxnOffsetCommit', GENERATION_FENCED_VERSION, (args) => ({
  request: requestV3(args),
  response: { decode: decodeTxnOffsetCommitV3, parse },
}));

/** Refuses to go on when kafkajs's TxnOffsetCommit is not ours (kafkajs loaded its requests first): zombies would not be fenced. */
export function assertGenerationFencing(): void {
  if (!generationFencingInstalled()) {
    throw new StreamscoreError('KAFKA_READ_COMMITTED_UNSAFE', 'kafkajs loaded its protocol before src/kafka/txn-offset-commit.ts: exactly-once offsets would carry no group generation, and a paused instance could commit partitions another owns; import src/kafka/client.ts before anything that loads kafkajs');
  }
}
