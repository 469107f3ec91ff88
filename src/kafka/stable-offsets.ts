import { createRequire } from 'node:module';
import { StreamscoreError } from '../errors.js';
import { Decoder, Encoder, addRequestVersion } from './protocol-versions.js';

/**
 * OffsetFetch with require_stable (KIP-447), installed into kafkajs before it loads.
 *
 * kafkajs 2.2.4 speaks OffsetFetch v1-v4, which return the last committed offset even while
 * a transaction's offsets are still being materialised by the group coordinator. Right after
 * a new producer fences an old one (InitProducerId waits for the old transaction to finish),
 * the coordinator can still answer with the offset from before that transaction: the chaos
 * suite's broker stall caught it, and a partition rewound there scored one transaction's
 * records twice. v7 asks with require_stable: while offsets are pending the broker answers
 * UNSTABLE_OFFSET_COMMIT (retriable), and the caller asks again. A broker older than 2.5
 * lacks v7; kafkajs then falls back to v4 (see the README's known limits).
 */
const require = createRequire(import.meta.url);
const { parse } = require('kafkajs/src/protocol/requests/offsetFetch/v2/response.js') as { parse: (data: unknown) => Promise<unknown> };
const { OffsetFetch: apiKey } = require('kafkajs/src/protocol/requests/apiKeys.js') as { OffsetFetch: number };

interface Args {
  groupId: string;
  topics: { topic: string; partitions: { partition: number }[] }[] | null;
}

export const STABLE_OFFSET_FETCH_VERSION = 7;

function requestV7({ groupId, topics }: Args) {
  return {
    apiKey,
    apiVersion: STABLE_OFFSET_FETCH_VERSION,
    apiName: 'OffsetFetch',
    encode: async () => {
      const e = new Encoder();
      // kafkajs writes a v1 request header; a flexible request's v2 header adds empty tagged fields.
      e.writeUVarInt(0);
      e.writeUVarIntString(groupId);
      if (topics === null) e.writeUVarInt(0);
      else {
        e.writeUVarInt(topics.length + 1);
        for (const t of topics) {
          e.writeUVarIntString(t.topic);
          e.writeUVarInt(t.partitions.length + 1);
          for (const p of t.partitions) e.writeInt32(p.partition);
          e.writeUVarInt(0);
        }
      }
      e.writeBoolean(true); // require_stable
      e.writeUVarInt(0);
      return e;
    },
  };
}

async function decodeV7(raw: Buffer) {
  const d = new Decoder(raw);
  d.readTaggedFields(); // flexible response header
  const throttleTime = d.readInt32();
  const responses = d.readUVarIntArray((t) => {
    const topic = t.readUVarIntString();
    const partitions = t.readUVarIntArray((p) => {
      const partition = p.readInt32();
      const offset = p.readInt64().toString();
      p.readInt32(); // committed leader epoch
      const metadata = p.readUVarIntString();
      const errorCode = p.readInt16();
      p.readTaggedFields();
      return { partition, offset, metadata, errorCode };
    }) ?? [];
    t.readTaggedFields();
    return { topic, partitions };
  }) ?? [];
  const errorCode = d.readInt16();
  d.readTaggedFields();
  return { throttleTime: 0, clientSideThrottleTime: throttleTime, responses, errorCode };
}

const stableFetchInstalled = addRequestVersion<Args>('offsetFetch', 'OffsetFetch', STABLE_OFFSET_FETCH_VERSION, (args) => ({
  request: requestV7(args),
  response: { decode: decodeV7, parse },
}));

/** Refuses to go on when kafkajs's OffsetFetch is not the stable one (kafkajs loaded its requests first). */
export function assertStableOffsetFetch(): void {
  if (!stableFetchInstalled()) {
    throw new StreamscoreError('KAFKA_READ_COMMITTED_UNSAFE', 'kafkajs loaded its protocol before src/kafka/stable-offsets.ts: committed offsets could be read stale after a fence, and records scored twice; import src/kafka/client.ts before anything that loads kafkajs');
  }
}

interface OffsetFetchBroker {
  offsetFetch(args: Args): Promise<{ responses: { topic: string; partitions: { partition: number; offset: string; metadata?: string | null }[] }[] }>;
}

interface KafkajsCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  findGroupCoordinator(args: { groupId: string }): Promise<OffsetFetchBroker>;
}

/**
 * A kafkajs cluster connection of its own, made the way kafkajs's own admin and consumer make
 * one (through the client's private cluster factory): for requests kafkajs has no public call
 * for (a stable OffsetFetch of one partition, a Fetch of assigned partitions without a group).
 */
export function createKafkajsCluster<T>(kafka: object, options: Record<string, unknown>): T {
  const factory = Object.getOwnPropertySymbols(kafka).find((s) => s.description === 'private:Kafka:createCluster');
  if (!factory) throw new StreamscoreError('KAFKA_READ_COMMITTED_UNSAFE', 'this kafkajs has no cluster factory where 2.2.4 keeps it: committed offsets cannot be read per partition, nor partitions fetched by assignment; use kafkajs 2.2.x');
  return (kafka as Record<symbol, (o: object) => T>)[factory]!(options);
}

/** A committed offset (-1n: none) with the metadata string committed alongside it. */
export interface CommittedEntry {
  offset: bigint;
  metadata: string | null;
}

/**
 * Committed offsets of single partitions, read stable. kafkajs's admin asks for every
 * partition of a topic, and one partition's open transaction makes the whole stable read
 * fail, which under traffic is nearly always: so this asks the group coordinator for the
 * one partition wanted, on a cluster connection of its own (made the way kafkajs's own
 * admin makes one, through the client's cluster factory).
 */
export class PartitionOffsetReader {
  readonly #cluster: KafkajsCluster;
  #connected: Promise<void> | undefined;

  constructor(kafka: object) {
    this.#cluster = createKafkajsCluster<KafkajsCluster>(kafka, { metadataMaxAge: 300_000, allowAutoTopicCreation: false });
  }

  /** The group's committed offset of one partition (-1n: none); throws UNSTABLE_OFFSET_COMMIT (retriable) while a transaction's offsets for it are pending. */
  async read(groupId: string, tp: { topic: string; partition: number }): Promise<bigint> {
    return (await this.readEntry(groupId, tp)).offset;
  }

  /** As read(), with the commit's metadata. */
  async readEntry(groupId: string, tp: { topic: string; partition: number }): Promise<CommittedEntry> {
    this.#connected ??= this.#cluster.connect().catch((err: unknown) => {
      this.#connected = undefined;
      throw err;
    });
    await this.#connected;
    const coordinator = await this.#cluster.findGroupCoordinator({ groupId });
    const { responses } = await coordinator.offsetFetch({ groupId, topics: [{ topic: tp.topic, partitions: [{ partition: tp.partition }] }] });
    const entry = responses.find((r) => r.topic === tp.topic)?.partitions.find((p) => p.partition === tp.partition);
    return { offset: BigInt(entry?.offset ?? '-1'), metadata: entry?.metadata ?? null };
  }

  async close(): Promise<void> {
    if (this.#connected) await this.#cluster.disconnect();
    this.#connected = undefined;
  }
}
