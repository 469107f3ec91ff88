import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { keyHashPartitioner, murmur2 } from '../../src/kafka/partitioner.js';

const require = createRequire(import.meta.url);
const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: Buffer) => number;

function randomKey(length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = Math.floor(Math.random() * 256);
  return b;
}

describe('keyHashPartitioner', () => {
  it("hashes every key as kafkajs's Java-compatible murmur2 does, at every tail length", () => {
    for (let n = 0; n < 2_000; n++) {
      const key = randomKey(n % 41);
      expect(murmur2(key), key.toString('hex')).toBe(kafkajsMurmur2(key));
    }
  });

  it("gives what the Java client's Utils.murmur2 gives (kafka-clients 3.9.1, run in jshell)", () => {
    const java: [string, number][] = [['', 275646681], ['a', -1563381124], ['card-42', -1180489753], ['streamscore', -1228433952]];
    for (const [key, hash] of java) expect(murmur2(Buffer.from(key)), key).toBe(hash);
  });

  const partitionMetadata = Array.from({ length: 12 }, (_, partitionId) => ({ partitionId, leader: 1, partitionErrorCode: 0, replicas: [1], isr: [1] }));
  const partitionOf = keyHashPartitioner();

  it('keeps an explicit partition, and sends a keyed record where the Java client would', () => {
    expect(partitionOf({ topic: 't', partitionMetadata, message: { key: 'x', value: null, partition: 7 } })).toBe(7);
    const key = Buffer.from('card-42');
    expect(partitionOf({ topic: 't', partitionMetadata, message: { key, value: null } })).toBe((kafkajsMurmur2(key) & 0x7fffffff) % 12);
  });

  it('spreads records without a key over every partition', () => {
    const seen = new Set(Array.from({ length: 12 }, () => partitionOf({ topic: 't', partitionMetadata, message: { value: null } })));
    expect(seen.size).toBe(12);
  });
});
