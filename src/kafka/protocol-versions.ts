import { createRequire } from 'node:module';

/**
 * Adding a request version kafkajs 2.2.4 does not speak (stable-offsets.ts, txn-offset-commit.ts):
 * kafkajs's Encoder and Decoder, and the replacement of a request's module in kafkajs's require
 * cache, which only works before kafkajs loads it.
 */
const require = createRequire(import.meta.url);

/** As much of kafkajs's Encoder as the added versions use. */
export interface KafkaEncoder {
  writeUVarInt(v: number): KafkaEncoder;
  writeUVarIntString(v: string | null): KafkaEncoder;
  writeBoolean(v: boolean): KafkaEncoder;
  writeInt16(v: number): KafkaEncoder;
  writeInt32(v: number): KafkaEncoder;
  writeInt64(v: number | string): KafkaEncoder;
  readonly buffer: Buffer;
}

/** As much of kafkajs's Decoder as the added versions use. */
export interface KafkaDecoder {
  readInt16(): number;
  readInt32(): number;
  readInt64(): { toString(): string };
  readUVarIntString(): string | null;
  readUVarIntArray<T>(reader: (d: KafkaDecoder) => T): T[] | null;
  readTaggedFields(): unknown;
}

export const Encoder = require('kafkajs/src/protocol/encoder.js') as new () => KafkaEncoder;
export const Decoder = require('kafkajs/src/protocol/decoder.js') as new (b: Buffer) => KafkaDecoder;

type BuildRequest<A> = (args: A) => { request: unknown; response: unknown };

/**
 * Adds `version` to the request kafkajs keeps in requests/<dir>/ (kafkajs picks the highest
 * version both it and the broker speak). Returns a check that kafkajs's request table for
 * `apiName` has it: false when kafkajs loaded its protocol before this ran.
 */
export function addRequestVersion<A>(dir: string, apiName: string, version: number, build: BuildRequest<A>): () => boolean {
  const modulePath = require.resolve(`kafkajs/src/protocol/requests/${dir}/index.js`);
  const original = require(modulePath) as { versions: string[]; protocol: (o: { version: string }) => BuildRequest<A> };
  // kafkajs's request table takes the module from the cache when it loads: after this line, ours.
  require.cache[modulePath]!.exports = {
    versions: [...original.versions, String(version)],
    protocol: (o: { version: string }) => (Number(o.version) === version ? build : original.protocol(o)),
  };
  return () => {
    const { requests } = require('kafkajs/src/protocol/requests/index.js') as { requests: Record<string, { versions: string[] } | undefined> };
    return requests[apiName]?.versions.includes(String(version)) ?? false;
  };
}
