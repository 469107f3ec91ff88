import type { ICustomPartitioner } from 'kafkajs';

const M = 0x5bd1e995;
const SEED = 0x9747b28c;

/**
 * Kafka's murmur2 (the Java client's Utils.murmur2), in 32-bit integer arithmetic. kafkajs's
 * own does each multiply on a 64-bit Long object: with the partition lookup around it, ~4 % of
 * the main thread in a full-speed drain (`npm run bench:profile`).
 */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = SEED ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  switch (length & 3) {
    case 3:
      h ^= data[whole + 2]! << 16;
    // falls through
    case 2:
      h ^= data[whole + 1]! << 8;
    // falls through
    case 1:
      h ^= data[whole]!;
      h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * The Java client's partitioning for keyed records (and kafkajs's DefaultPartitioner's):
 * murmur2 of the key, made positive, modulo the partition count; an explicit partition wins.
 * Records without a key go round-robin over the partitions that have a leader.
 */
export const keyHashPartitioner: ICustomPartitioner = () => {
  const next = new Map<string, number>();
  return ({ topic, partitionMetadata, message }) => {
    if (message.partition != null) return message.partition;
    if (message.key != null) {
      const key = Buffer.isBuffer(message.key) ? message.key : Buffer.from(String(message.key));
      return (murmur2(key) & 0x7fffffff) % partitionMetadata.length;
    }
    const available = partitionMetadata.filter((p) => p.leader >= 0);
    const candidates = available.length ? available : partitionMetadata;
    const i = next.get(topic) ?? Math.floor(Math.random() * 0x7fffffff);
    next.set(topic, (i + 1) % 0x7fffffff);
    return candidates[i % candidates.length]!.partitionId;
  };
};
