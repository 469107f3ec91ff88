import { createRequire } from 'node:module';
import { StreamscoreError } from '../errors.js';

/**
 * The consumer group generation kafkajs joined in, which it never exposes and an
 * exactly-once offset commit must carry (KIP-447, src/kafka/txn-offset-commit.ts). kafkajs
 * builds a new OffsetManager, handing it the member id and generation, on every successful
 * join and sync, right before it emits GROUP_JOIN: its module is replaced, before kafkajs
 * loads it, by a subclass that records the two.
 */
const require = createRequire(import.meta.url);
const modulePath = require.resolve('kafkajs/src/consumer/offsetManager/index.js');
// A consumer group module loaded before this one holds kafkajs's own OffsetManager for good.
const loadedTooLate = require.resolve('kafkajs/src/consumer/consumerGroup.js') in require.cache;
type Constructor = new (options: { memberId: string; generationId: number }) => object;
const OffsetManager = require(modulePath) as Constructor;

const generations = new Map<string, number>();

/** Records a member's generation (kafkajs, through the subclass below; the fake adapter directly). */
export function recordGroupGeneration(memberId: string, generationId: number): void {
  generations.set(memberId, generationId);
}

/** The latest generation kafkajs joined in with this member id (undefined: it never did). */
export function groupGeneration(memberId: string): number | undefined {
  return generations.get(memberId);
}

/** Throws when kafkajs's consumer group loaded first: no generation would ever be recorded, and every exactly-once commit would be refused. */
export function assertGenerationRecording(): void {
  if (loadedTooLate) {
    throw new StreamscoreError('KAFKA_READ_COMMITTED_UNSAFE', "kafkajs loaded its consumer group before src/kafka/group-generation.ts: the group generation would never be known and no exactly-once commit could succeed; import src/kafka/kafkajs-fixes.ts before anything that loads kafkajs");
  }
}

class GenerationRecordingOffsetManager extends OffsetManager {
  constructor(options: { memberId: string; generationId: number }) {
    super(options);
    recordGroupGeneration(options.memberId, options.generationId);
  }
}

// kafkajs's consumer group requires this module when it loads, after this: it gets ours.
require.cache[modulePath]!.exports = GenerationRecordingOffsetManager;
