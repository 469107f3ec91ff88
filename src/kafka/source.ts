import type { Consumer, EachBatchPayload } from 'kafkajs';
import { StreamscoreError, errorMessage } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { KafkaClient } from './client.js';
import { withHeartbeats } from './heartbeats.js';
import { groupGeneration } from './group-generation.js';
import { toConsumedRecord } from './reader.js';
import type { OffsetToCommit } from './sink.js';
import type { GroupMetadata } from './txn-offset-commit.js';
import { type ConsumedRecord, type TopicPartition, partitionKey } from './records.js';

export interface SourceOptions {
  groupId: string;
  topics: readonly string[];
  fromBeginning: boolean;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  heartbeatIntervalMs: number;
  fetchMaxWaitMs: number;
  fetchMaxBytes: number;
  fetchMaxBytesPerPartition: number;
}

/** One fetch of one partition, as the pipeline sees it. */
export interface FetchedBatch {
  readonly tp: TopicPartition;
  /** Data records only (control and aborted records are gone), copied out of the fetch buffer. */
  readonly records: ConsumedRecord[];
  /** Where the next fetch starts: after the last entry, control records included. */
  readonly nextOffset: bigint;
  /** False once the partition was sought or revoked after this fetch: its records must be dropped. */
  isCurrent(): boolean;
  /** Keeps the group membership alive while `work` runs (kafkajs heartbeats only between batches). */
  heartbeatDuring<T>(work: Promise<T>): Promise<T>;
}

export interface SourceListener {
  /** The group gave this member its partitions (the whole assignment, and what is new in it). */
  assigned(all: TopicPartition[], added: TopicPartition[]): void;
  revoked(partitions: TopicPartition[]): void;
  /** Must not throw: a throw would crash the consumer. */
  batch(batch: FetchedBatch): Promise<void>;
  /** The consumer crashed; with `restarting` false it is gone for good. */
  crashed(err: StreamscoreError, restarting: boolean): void;
}

/**
 * A consumer group member: read_committed, no auto-commit, assignments and revocations as
 * events, pause / resume / seek per partition. A seek bumps the partition's epoch, and a
 * batch fetched before the latest seek is no longer current, so rewinds never leave gaps.
 */
export class GroupSource {
  readonly #consumer: Consumer;
  readonly #epochs = new Map<string, number>();
  readonly #paused = new Map<string, TopicPartition>();
  #assigned = new Map<string, TopicPartition>();
  #member = false;
  /** This member's generation, as of the assignment it is working on. */
  #generation: GroupMetadata | undefined;

  constructor(client: KafkaClient, private readonly o: SourceOptions, private readonly listener: SourceListener, private readonly log: Logger) {
    this.#consumer = client.raw.consumer({
      groupId: o.groupId,
      readUncommitted: false,
      sessionTimeout: o.sessionTimeoutMs,
      rebalanceTimeout: o.rebalanceTimeoutMs,
      heartbeatInterval: o.heartbeatIntervalMs,
      maxWaitTimeInMs: o.fetchMaxWaitMs,
      maxBytes: o.fetchMaxBytes,
      maxBytesPerPartition: o.fetchMaxBytesPerPartition,
    });
    const { GROUP_JOIN, CRASH } = this.#consumer.events;
    this.#consumer.on(GROUP_JOIN, (e) => this.#onAssignment(e.payload.memberId, e.payload.memberAssignment));
    this.#consumer.on(CRASH, (e) => this.#onCrash(e.payload.error, e.payload.restart));
  }

  /** True while the consumer is in its group. */
  get member(): boolean {
    return this.#member;
  }

  async start(): Promise<void> {
    await this.#consumer.connect();
    await this.#consumer.subscribe({ topics: [...this.o.topics], fromBeginning: this.o.fromBeginning });
    await this.#consumer.run({ autoCommit: false, eachBatchAutoResolve: true, eachBatch: (p) => this.#onBatch(p) });
  }

  pause(tp: TopicPartition): void {
    const key = partitionKey(tp);
    if (this.#paused.has(key) || !this.#assigned.has(key)) return;
    this.#paused.set(key, tp);
    this.#consumer.pause([{ topic: tp.topic, partitions: [tp.partition] }]);
  }

  resume(tp: TopicPartition): void {
    if (!this.#paused.delete(partitionKey(tp))) return;
    this.#consumer.resume([{ topic: tp.topic, partitions: [tp.partition] }]);
  }

  get pausedCount(): number {
    return this.#paused.size;
  }

  /** Reads the partition again from `offset`; whatever was fetched before is dropped. */
  seek(tp: TopicPartition, offset: bigint): void {
    this.#bump(tp);
    this.#consumer.seek({ topic: tp.topic, partition: tp.partition, offset: offset.toString() });
  }

  /**
   * The group generation an exactly-once offset commit carries (KIP-447): it changes in the
   * same event that revokes partitions, so a commit that checked its partitions are assigned
   * and then reads this presents a generation they belong to.
   */
  groupMetadata(): GroupMetadata | undefined {
    return this.#generation;
  }

  /** At-least-once: the group's committed offsets. */
  async commit(offsets: readonly OffsetToCommit[]): Promise<void> {
    try {
      await this.#consumer.commitOffsets(offsets.map(({ tp, nextOffset }) => ({ topic: tp.topic, partition: tp.partition, offset: nextOffset.toString() })));
    } catch (err) {
      throw new StreamscoreError('KAFKA_REQUEST_FAILED', `offset commit failed: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** Stops fetching everything (shutdown); what was fetched is still delivered. */
  pauseAll(): void {
    this.#consumer.pause(this.o.topics.map((topic) => ({ topic })));
  }

  async close(): Promise<void> {
    this.#member = false;
    this.#generation = undefined;
    await this.#consumer.disconnect();
  }

  #bump(tp: TopicPartition): void {
    const key = partitionKey(tp);
    this.#epochs.set(key, (this.#epochs.get(key) ?? 0) + 1);
  }

  #onAssignment(memberId: string, assignment: Record<string, number[]>): void {
    this.#member = true;
    const previous = this.#generation;
    const generationId = groupGeneration(memberId);
    this.#generation = generationId === undefined ? undefined : { memberId, generationId, groupInstanceId: null };
    // A partition kept from the generation just before was ours throughout. After a gap (we
    // were out of the group: paused past the session timeout, or a new member id) another
    // member may have owned and committed it meanwhile: every partition is taken over anew.
    const continuous = previous !== undefined && generationId !== undefined && previous.memberId === memberId && generationId === previous.generationId + 1;
    const next = new Map<string, TopicPartition>();
    for (const [topic, partitions] of Object.entries(assignment)) for (const partition of partitions) next.set(partitionKey({ topic, partition }), { topic, partition });
    const kept = new Set(continuous ? [...this.#assigned.keys()].filter((key) => next.has(key)) : []);
    const revoked = [...this.#assigned].filter(([key]) => !kept.has(key)).map(([, tp]) => tp);
    const added = [...next].filter(([key]) => !kept.has(key)).map(([, tp]) => tp);
    this.#assigned = next;
    if (revoked.length) this.#revoke(revoked);
    this.listener.assigned([...next.values()], added);
  }

  /** Forgets a partition's pause (kafkajs keeps its pause set across reassignment) and makes its fetched records stale. */
  #revoke(partitions: TopicPartition[]): void {
    for (const tp of partitions) {
      this.#bump(tp);
      if (!this.#paused.delete(partitionKey(tp))) continue;
      try {
        this.#consumer.resume([{ topic: tp.topic, partitions: [tp.partition] }]);
      } catch (err) {
        // A consumer that crashed while starting has no group to resume in: its next run starts unpaused.
        this.log.debug({ err: errorMessage(err), topic: tp.topic, partition: tp.partition }, 'resume after revocation skipped');
      }
    }
    this.listener.revoked(partitions);
  }

  #onCrash(error: Error, restart: boolean): void {
    this.#member = false;
    this.#generation = undefined;
    const lost = [...this.#assigned.values()];
    this.#assigned = new Map();
    if (lost.length) this.#revoke(lost);
    const err = new StreamscoreError('KAFKA_CONSUMER_CRASHED', `the consumer of group ${this.o.groupId} crashed: ${errorMessage(error)}${restart ? '; rejoining' : '; it will not restart'}`, { cause: error });
    this.log.error({ code: err.code, err: err.message, restarting: restart }, 'consumer crashed');
    this.listener.crashed(err, restart);
  }

  async #onBatch({ batch, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const tp = { topic: batch.topic, partition: batch.partition };
    const key = partitionKey(tp);
    const epoch = this.#epochs.get(key) ?? 0;
    if (!isRunning() || isStale() || batch.isEmpty() || !this.#assigned.has(key)) return;
    const fetched: FetchedBatch = {
      tp,
      // Copies out of the fetch buffer: a slice would keep the whole fetch response alive until commit.
      records: batch.messages.map(toConsumedRecord),
      nextOffset: BigInt(batch.lastOffset()) + 1n,
      isCurrent: () => isRunning() && !isStale() && (this.#epochs.get(key) ?? 0) === epoch && this.#assigned.has(key),
      heartbeatDuring: (work) => withHeartbeats(work, heartbeat, this.o.heartbeatIntervalMs),
    };
    await this.listener.batch(fetched);
  }
}
