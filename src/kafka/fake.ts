/**
 * Test support: an in-memory stand-in for the part of kafkajs the port uses, so a unit test
 * can fail exactly one call (EndTxn, AddOffsetsToTxn, a produce, InitProducerId, an offset
 * commit), fence a producer, crash the consumer or rebalance mid-transaction, and watch
 * what the service does next. It models kafkajs's own behaviour where that matters: a
 * transactional producer whose EndTxn failed stays in COMMITTING and refuses every later
 * transaction (kafkajs #1275); pauses survive reassignment; a seek makes fetched batches
 * stale. Every behaviour tested with it is also covered on the real broker.
 */
import type { Kafka } from 'kafkajs';
import { recordGroupGeneration } from './group-generation.js';

let fakeMembers = 0;

export type FakeCall = 'InitProducerId' | 'Produce' | 'AddOffsetsToTxn' | 'EndTxn' | 'AbortTxn' | 'OffsetCommit' | 'OffsetFetch' | 'ListOffsets';

interface StoredRecord {
  offset: bigint;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | string>;
  timestampMs: number;
}

interface RawMessage { key?: Buffer | string | null; value: Buffer | string | null; headers?: Record<string, Buffer | string>; partition?: number }

const buf = (v: Buffer | string | null | undefined): Buffer | null => (v == null ? null : Buffer.isBuffer(v) ? v : Buffer.from(v));
const tpKey = (topic: string, partition: number) => `${topic}:${partition}`;

/** A Kafka error as kafkajs raises it (type + code), so classification sees what it would see. */
export function kafkaError(type: string, code: number, message = type): Error {
  return Object.assign(new Error(message), { name: 'KafkaJSProtocolError', type, code, retriable: false });
}

export class FakeKafka {
  readonly #logs = new Map<string, StoredRecord[]>();
  readonly #committed = new Map<string, bigint>();
  readonly #faults = new Map<FakeCall, { error: Error; times: number }>();
  readonly #epochs = new Map<string, number>();
  readonly #consumers = new Map<string, FakeConsumer>();
  readonly #partitions = new Map<string, number>();
  readonly #holds = new Map<FakeCall, Promise<void>>();
  readonly #assignOnRun = new Map<string, Record<string, number[]>>();
  /** Every call made, in order, for assertions. */
  readonly calls: FakeCall[] = [];

  createTopic(topic: string, partitions: number): void {
    this.#partitions.set(topic, partitions);
    for (let p = 0; p < partitions; p++) this.#logs.set(tpKey(topic, p), []);
  }

  /** Appends records to a partition (as a producer outside the test's subject would). */
  append(topic: string, partition: number, messages: RawMessage[]): void {
    const log = this.#log(topic, partition);
    for (const m of messages) log.push({ offset: BigInt(log.length), key: buf(m.key), value: buf(m.value), headers: m.headers ?? {}, timestampMs: Date.now() });
  }

  records(topic: string): StoredRecord[] {
    return [...this.#logs].filter(([k]) => k.startsWith(`${topic}:`)).flatMap(([, r]) => r);
  }

  committedOffset(groupId: string, topic: string, partition: number): bigint {
    return this.#committed.get(`${groupId}|${tpKey(topic, partition)}`) ?? -1n;
  }

  /** The next `times` calls of this kind fail with `error` (once, unless told otherwise). */
  failNext(call: FakeCall, error: Error = kafkaError('REQUEST_TIMED_OUT', 7, `fake: ${call} timed out`), times = 1): void {
    this.#faults.set(call, { error, times });
  }

  /** The next call of this kind waits until the returned function is called. */
  holdNext(call: FakeCall): () => void {
    let release!: () => void;
    this.#holds.set(call, new Promise((r) => { release = r; }));
    return () => release();
  }

  async #held(call: FakeCall): Promise<void> {
    const hold = this.#holds.get(call);
    this.#holds.delete(call);
    await hold;
  }

  /** Makes the next consumer of `groupId` get `assignment` while its run() starts. */
  assignOnRun(groupId: string, assignment: Record<string, number[]>): void {
    this.#assignOnRun.set(groupId, assignment);
  }

  consumerOf(groupId: string): FakeConsumer {
    const c = this.#consumers.get(groupId);
    if (!c) throw new Error(`no consumer for group ${groupId}`);
    return c;
  }

  /** The shape the port expects of a kafkajs client. */
  asKafka(): Kafka {
    return {
      producer: (opts: { transactionalId?: string }) => new FakeProducer(this, opts.transactionalId),
      consumer: (opts: { groupId: string }) => {
        const c = new FakeConsumer(this, opts.groupId);
        c.assignOnRun = this.#assignOnRun.get(opts.groupId);
        this.#consumers.set(opts.groupId, c);
        return c;
      },
      admin: () => this.#admin(),
      // Where kafkajs keeps its cluster factory: the port reads single partitions' offsets through it.
      [Symbol('private:Kafka:createCluster')]: () => ({
        connect: async () => {},
        disconnect: async () => {},
        findGroupCoordinator: async () => ({
          offsetFetch: async ({ groupId, topics }: { groupId: string; topics: { topic: string; partitions: { partition: number }[] }[] }) => {
            await this.#held('OffsetFetch');
            this.call('OffsetFetch');
            return { responses: topics.map((t) => ({ topic: t.topic, partitions: t.partitions.map(({ partition }) => ({ partition, offset: this.committedOffset(groupId, t.topic, partition).toString() })) })) };
          },
        }),
      }),
    } as unknown as Kafka;
  }

  call(kind: FakeCall): void {
    this.calls.push(kind);
    const fault = this.#faults.get(kind);
    if (fault) {
      if (--fault.times <= 0) this.#faults.delete(kind);
      throw fault.error;
    }
  }

  /** InitProducerId: a new epoch fences every older producer with this id. */
  async initProducer(transactionalId: string): Promise<number> {
    await this.#held('InitProducerId');
    this.call('InitProducerId');
    const epoch = (this.#epochs.get(transactionalId) ?? 0) + 1;
    this.#epochs.set(transactionalId, epoch);
    return epoch;
  }

  checkEpoch(transactionalId: string, epoch: number): void {
    if (this.#epochs.get(transactionalId) !== epoch) throw kafkaError('INVALID_PRODUCER_EPOCH', 47, 'fake: producer fenced');
  }

  write(records: { topic: string; messages: RawMessage[] }[], offsets: { groupId: string; topic: string; partition: number; offset: bigint }[]): void {
    for (const { topic, messages } of records) {
      for (const m of messages) this.append(topic, m.partition ?? 0, [m]);
    }
    for (const o of offsets) this.#committed.set(`${o.groupId}|${tpKey(o.topic, o.partition)}`, o.offset);
  }

  #log(topic: string, partition: number): StoredRecord[] {
    const log = this.#logs.get(tpKey(topic, partition));
    if (!log) throw kafkaError('UNKNOWN_TOPIC_OR_PARTITION', 3, `fake: no partition ${tpKey(topic, partition)}`);
    return log;
  }

  end(topic: string, partition: number): bigint {
    return BigInt(this.#log(topic, partition).length);
  }

  slice(topic: string, partition: number, from: bigint, max: number): StoredRecord[] {
    return this.#log(topic, partition).slice(Number(from), Number(from) + max);
  }

  #admin() {
    const partitionsOf = (topic: string) => [...Array(this.#partitions.get(topic) ?? 0).keys()];
    return {
      connect: async () => {},
      disconnect: async () => {},
      listTopics: async () => [...this.#partitions.keys()],
      fetchTopicMetadata: async ({ topics }: { topics: string[] }) => ({ topics: topics.map((name) => ({ name, partitions: partitionsOf(name).map((partitionId) => ({ partitionId, leader: 0 })) })) }),
      fetchTopicOffsets: async (topic: string) => {
        this.call('ListOffsets');
        return partitionsOf(topic).map((partition) => ({ partition, high: this.end(topic, partition).toString(), low: '0', offset: this.end(topic, partition).toString() }));
      },
    };
  }
}

type TxnState = 'READY' | 'TRANSACTING' | 'COMMITTING' | 'ABORTING';

class FakeProducer {
  #epoch: number | undefined;
  #state: TxnState = 'READY';

  constructor(private readonly fake: FakeKafka, private readonly transactionalId: string | undefined) {}

  async connect(): Promise<void> {}
  async disconnect(): Promise<void> {}

  async sendBatch({ topicMessages }: { topicMessages: { topic: string; messages: RawMessage[] }[] }): Promise<unknown[]> {
    this.fake.call('Produce');
    this.fake.write(topicMessages, []);
    return [];
  }

  async transaction() {
    const id = this.transactionalId!;
    if (this.#state !== 'READY') throw Object.assign(new Error(`Cannot call "beginTransaction" in state "${this.#state}"`), { name: 'KafkaJSNonRetriableError' });
    this.#epoch ??= await this.fake.initProducer(id);
    this.#state = 'TRANSACTING';
    let ended = false;
    const records: { topic: string; messages: RawMessage[] }[] = [];
    const offsets: { groupId: string; topic: string; partition: number; offset: bigint }[] = [];
    const isActive = () => this.#state === 'TRANSACTING' && !ended;
    const guard = <A extends unknown[]>(fn: (...args: A) => Promise<void>) => async (...args: A) => {
      if (!isActive()) throw Object.assign(new Error('Cannot continue to use transaction once ended'), { name: 'KafkaJSNonRetriableError' });
      this.fake.checkEpoch(id, this.#epoch!);
      await fn(...args);
    };
    return {
      isActive,
      sendBatch: guard(async ({ topicMessages }: { topicMessages: { topic: string; messages: RawMessage[] }[] }) => {
        this.fake.call('Produce');
        records.push(...topicMessages);
      }),
      sendOffsets: guard(async ({ consumerGroupId, topics }: { consumerGroupId: string; topics: { topic: string; partitions: { partition: number; offset: string }[] }[] }) => {
        this.fake.call('AddOffsetsToTxn');
        for (const t of topics) for (const p of t.partitions) offsets.push({ groupId: consumerGroupId, topic: t.topic, partition: p.partition, offset: BigInt(p.offset) });
      }),
      // Like kafkajs: the state moves before EndTxn is sent and stays there if it fails.
      commit: guard(async () => {
        this.#state = 'COMMITTING';
        this.fake.call('EndTxn');
        this.fake.write(records, offsets);
        this.#state = 'READY';
        ended = true;
      }),
      abort: guard(async () => {
        this.#state = 'ABORTING';
        this.fake.call('AbortTxn');
        this.#state = 'READY';
        ended = true;
      }),
    };
  }
}

type Handler = (payload: unknown) => Promise<void>;

/** A consumer the test drives: it assigns, crashes and fetches when the test says so. */
export class FakeConsumer {
  readonly events = { GROUP_JOIN: 'consumer.group_join', CRASH: 'consumer.crash' };
  readonly #listeners = new Map<string, ((e: unknown) => void)[]>();
  readonly #positions = new Map<string, bigint>();
  readonly #pendingSeeks = new Set<string>();
  /** kafkajs keeps paused partitions across reassignment: so does this. */
  readonly paused = new Set<string>();
  #assigned: Record<string, number[]> = {};
  #generation = 0;
  readonly memberId = `fake-member-${++fakeMembers}`;
  #eachBatch: Handler | undefined;
  running = false;
  /** Like kafkajs, whose first GROUP_JOIN comes while run() is still starting: assigned inside run(). */
  assignOnRun: Record<string, number[]> | undefined;

  constructor(private readonly fake: FakeKafka, private readonly groupId: string) {}

  on(event: string, listener: (e: unknown) => void): void {
    this.#listeners.set(event, [...(this.#listeners.get(event) ?? []), listener]);
  }

  async connect(): Promise<void> {}
  async subscribe(): Promise<void> {}
  async disconnect(): Promise<void> {
    this.running = false;
  }

  async run({ eachBatch }: { eachBatch: Handler }): Promise<void> {
    this.#eachBatch = eachBatch;
    this.running = true;
    if (this.assignOnRun) this.assign(this.assignOnRun);
  }

  pause(tps: { topic: string; partitions?: number[] }[]): void {
    for (const { topic, partitions } of tps) for (const p of partitions ?? this.#assigned[topic] ?? []) this.paused.add(tpKey(topic, p));
  }

  resume(tps: { topic: string; partitions?: number[] }[]): void {
    for (const { topic, partitions } of tps) for (const p of partitions ?? this.#assigned[topic] ?? []) this.paused.delete(tpKey(topic, p));
  }

  seek({ topic, partition, offset }: { topic: string; partition: number; offset: string }): void {
    this.#positions.set(tpKey(topic, partition), BigInt(offset));
    this.#pendingSeeks.add(tpKey(topic, partition));
  }

  async commitOffsets(offsets: { topic: string; partition: number; offset: string }[]): Promise<void> {
    this.fake.call('OffsetCommit');
    this.fake.write([], offsets.map((o) => ({ groupId: this.groupId, topic: o.topic, partition: o.partition, offset: BigInt(o.offset) })));
  }

  /** A rebalance: this member now owns `assignment` (`generations` later: more than one means it was out of the group meanwhile). */
  assign(assignment: Record<string, number[]>, generations = 1): void {
    this.#assigned = assignment;
    for (const [topic, partitions] of Object.entries(assignment)) {
      for (const p of partitions) {
        const committed = this.fake.committedOffset(this.groupId, topic, p);
        this.#positions.set(tpKey(topic, p), committed >= 0n ? committed : 0n);
      }
    }
    // Each assignment is a new generation, recorded where kafkajs's own join records it.
    this.#generation += generations;
    recordGroupGeneration(this.memberId, this.#generation);
    this.#emit(this.events.GROUP_JOIN, { payload: { memberId: this.memberId, memberAssignment: assignment } });
  }

  crash(error: Error, restart: boolean): void {
    this.#assigned = {};
    this.#emit(this.events.CRASH, { payload: { error, restart, groupId: this.groupId } });
  }

  /**
   * One fetch of one partition, handed to eachBatch as kafkajs would; `during` runs while the
   * handler is busy (to seek, rebalance or fail something mid-batch). False when nothing was delivered.
   */
  async fetch(topic: string, partition: number, max = 500, during?: () => void): Promise<boolean> {
    const key = tpKey(topic, partition);
    if (!this.running || this.paused.has(key) || !(this.#assigned[topic] ?? []).includes(partition)) return false;
    this.#pendingSeeks.delete(key);
    const from = this.#positions.get(key) ?? 0n;
    const records = this.fake.slice(topic, partition, from, max);
    if (!records.length) return false;
    const lastOffset = records[records.length - 1]!.offset;
    const batch = {
      topic, partition, fetchedOffset: from.toString(), highWatermark: this.fake.end(topic, partition).toString(),
      messages: records.map((r) => ({ offset: r.offset.toString(), key: r.key, value: r.value, headers: r.headers, timestamp: String(r.timestampMs) })),
      isEmpty: () => records.length === 0,
      lastOffset: () => lastOffset.toString(),
    };
    const handling = this.#eachBatch!({
      batch, heartbeat: async () => {}, isRunning: () => this.running, isStale: () => this.#pendingSeeks.has(key),
    });
    during?.();
    await handling;
    if (!this.#pendingSeeks.has(key)) this.#positions.set(key, lastOffset + 1n);
    return true;
  }

  /** Fetches every assigned, unpaused partition once; how many delivered records. */
  async pump(max = 500): Promise<number> {
    let delivered = 0;
    for (const [topic, partitions] of Object.entries(this.#assigned)) {
      for (const p of partitions) if (await this.fetch(topic, p, max)) delivered++;
    }
    return delivered;
  }

  #emit(event: string, payload: unknown): void {
    for (const l of this.#listeners.get(event) ?? []) l(payload);
  }
}
