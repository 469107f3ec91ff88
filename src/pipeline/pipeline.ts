import { Batcher } from '../batching/batcher.js';
import type { SchemaRegistryClient } from '../codec/schema-registry.js';
import type { PipelineConfig, StreamscoreConfig } from '../config/types.js';
import { StreamscoreError, asStreamscoreError, errorMessage } from '../errors.js';
import { KafkaAdmin } from '../kafka/admin.js';
import { KafkaClient } from '../kafka/client.js';
import { kafkaConnectError } from '../kafka/errors.js';
import { type TopicPartition, partitionKey } from '../kafka/records.js';
import { RecordProducer } from '../kafka/producer.js';
import { type FetchedBatch, GroupSource, type SourceListener } from '../kafka/source.js';
import type { Clock, Timers } from '../observability/clock.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { PartitionSink } from '../sink/partition-sink.js';
import type { OutputCommitter } from '../sink/committer.js';
import { createCommitter, createPartitionSink } from './partition-output.js';
import { Backoff, DEFAULT_RETRY } from '../util/backoff.js';
import type { WorkItem } from './batch-scorer.js';
import { RetryingDecoder } from './decode-retry.js';
import { ModelSlot } from './model-slot.js';
import { inputCodec, registryEncoders } from './scoring.js';
import { StallWatchdog } from './watchdog.js';
import type { DriftEvent } from '../inference/drift.js';

export interface PipelineDeps {
  config: StreamscoreConfig;
  pipeline: PipelineConfig;
  logger: Logger;
  metrics: Metrics;
  clock: Clock;
  timers: Timers;
  registry?: SchemaRegistryClient;
  /** The Kafka client (tests pass one over a fake adapter); made from config when absent. */
  kafka?: KafkaClient;
}

export type PipelineStatus = 'new' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

/** An assigned input partition: its sink (made at assignment) and how far it was fetched. */
interface AssignedPartition {
  tp: TopicPartition;
  sink: PartitionSink | undefined;
  /** Where the next fetch starts (control records included): lag is measured from here. */
  fetchPosition: bigint;
  decodeBackoff: Backoff;
}

/** How often lag and stalls are judged. */
const WATCHDOG_INTERVAL_MS = 1_000;
/** How long shutdown waits for what was fetched to commit before leaving it to the next owner. */
const SHUTDOWN_FLUSH_MS = 20_000;

/**
 * One pipeline: consumer group → decode → batcher → ONNX Runtime → per-partition sinks.
 * The source never waits for commits: it hands records to the batcher, and when too many
 * records are between fetch and commit it pauses every partition (a hard bound: at most one
 * more fetch, itself capped in bytes, arrives after the pause).
 */
export class Pipeline implements SourceListener {
  status: PipelineStatus = 'new';
  modelLoaded = false;
  readonly #cfg: PipelineConfig;
  /** The pipeline's logger; #log adds the serving model's name and version. */
  readonly #baseLog: Logger;
  #admin: KafkaAdmin | undefined;
  #source: GroupSource | undefined;
  #shared: RecordProducer | undefined;
  /** Drift events to outputs.drift.topic: informational, so sent at least once, outside transactions. */
  #driftProducer: RecordProducer | undefined;
  /** The instance's transactional producers' commit cadences; each partition is given to the least loaded. */
  #committers: OutputCommitter[] = [];
  #decoder!: RetryingDecoder;
  #slot: ModelSlot | undefined;
  #batcher: Batcher<WorkItem<PartitionSink>> | undefined;
  #watchdog: StallWatchdog | undefined;
  readonly #partitions = new Map<string, AssignedPartition>();
  /** Troubles reported after a retry budget ran out (or at once for what retrying cannot fix), by where. */
  readonly #troubles = new Map<string, StreamscoreError>();
  #consumerGone: StreamscoreError | undefined;
  #scoring = 0;
  #activeBatches = 0;
  #backpressured = false;
  #closing: Promise<void> | undefined;
  #released = false;

  constructor(private readonly deps: PipelineDeps) {
    this.#cfg = deps.pipeline;
    this.#baseLog = deps.logger.child({ pipeline: this.#cfg.name });
  }

  get #log(): Logger {
    return this.#slot?.log ?? this.#baseLog;
  }

  get name(): string {
    return this.#cfg.name;
  }

  get modelInfo() {
    return this.#slot?.info;
  }

  /** Its models (primary, shadow, canary) as they stand, for listing; undefined before the start. */
  get modelSlot(): ModelSlot | undefined {
    return this.#slot;
  }

  /** Its models, to change while it runs (admin API, SIGHUP); refused while it starts or stops. */
  models(): ModelSlot {
    if (!this.#slot || this.status !== 'running') throw new StreamscoreError('PIPELINE_NOT_RUNNING', `pipeline '${this.name}' is ${this.status}: its models cannot change now`);
    return this.#slot;
  }

  /** True while the consumer is in its group (with or without partitions). */
  get joined(): boolean {
    return this.#source?.member ?? false;
  }

  get assignedPartitions(): number {
    return this.#partitions.size;
  }

  /** Empty when ready; otherwise every reason, each with its code where there is one. */
  notReady(): string[] {
    if (!this.modelLoaded) return [`${this.name}: model not loaded`];
    if (this.status !== 'running') return [`${this.name}: ${this.status}`];
    const reasons: string[] = [];
    if (this.#consumerGone) reasons.push(`${this.name}: ${this.#consumerGone.code}: ${this.#consumerGone.message}`);
    else if (!this.joined) reasons.push(`${this.name}: consumer not in its group`);
    for (const c of this.#committers) if (!c.isOpen) reasons.push(`${this.name}: opening the output producer ${c.transactionalId ?? ''}`.trimEnd());
    const takingOver = [...this.#partitions.values()].filter((p) => p.sink?.state !== 'ready').map((p) => partitionKey(p.tp));
    if (takingOver.length) reasons.push(`${this.name}: taking over ${takingOver.join(', ')} (reading the committed offset once the previous owner's transaction has ended)`);
    for (const [where, err] of this.#troubles) reasons.push(`${this.name}: ${where}: ${err.code}: ${err.message}`);
    for (const r of this.#watchdog?.stalledReasons() ?? []) reasons.push(`${this.name}: ${r}`);
    return reasons;
  }

  /** True when the consumer is gone for good: only a restart helps (liveness). */
  get dead(): boolean {
    return this.#consumerGone !== undefined;
  }

  async start(): Promise<void> {
    this.status = 'starting';
    try {
      const codec = inputCodec(this.#cfg, this.deps.registry);
      this.#slot = await ModelSlot.open({
        pipeline: this.#cfg, schema: codec, encoderFor: registryEncoders(this.#cfg, this.deps.registry),
        metrics: this.deps.metrics, clock: this.deps.clock, logger: this.#baseLog,
        onDriftEvent: (event) => this.#sendDriftEvent(event),
      });
      this.#decoder = new RetryingDecoder({
        codec, pipeline: this.name, metrics: this.deps.metrics, timers: this.deps.timers, logger: this.#baseLog,
        seek: (tp, offset) => this.#source?.seek(tp, offset),
        report: (tp, err) => {
          const where = `${partitionKey(tp)} decode`;
          if (err) this.#troubles.set(where, err);
          else if (this.#troubles.delete(where)) this.#log.info({ topic: tp.topic, partition: tp.partition }, 'decoding works again');
        },
      });
      this.modelLoaded = true;
      this.#batcher = new Batcher<WorkItem<PartitionSink>>({
        policy: { ...this.#cfg.batching, preferredBatchSizes: [...this.#cfg.batching.preferredBatchSizes].sort((a, b) => a - b) },
        handle: (items, waitedMs) => this.#scoreBatch(items, waitedMs),
        clock: this.deps.clock,
        timers: this.deps.timers,
        onDequeued: () => this.#maybeResume(),
      });
      await this.#connectKafka();
      this.status = 'running';
    } catch (err) {
      this.status = 'failed';
      await this.#release();
      throw err;
    }
  }

  async #connectKafka(): Promise<void> {
    const cfg = this.#cfg;
    const k = this.deps.config.kafka;
    const client = this.deps.kafka ?? new KafkaClient(k, this.#baseLog, `${k.clientId}-${cfg.name}`);
    const admin = (this.#admin = new KafkaAdmin(client));
    await admin.connect().catch((err: unknown) => { throw kafkaConnectError(err, k); });
    const existing = new Set(await admin.listTopics());
    const needed = [...cfg.inputs, cfg.outputs.scored.topic, cfg.outputs.alerts.topic, cfg.outputs.deadLetter.topic, ...(cfg.outputs.shadow ? [cfg.outputs.shadow.topic] : []), ...(cfg.outputs.drift ? [cfg.outputs.drift.topic] : [])];
    const missing = needed.filter((t) => !existing.has(t));
    if (missing.length) throw new StreamscoreError('TOPICS_MISSING', `pipeline '${cfg.name}': these topics do not exist (streamscore does not create them): ${missing.join(', ')}`);
    if (cfg.delivery.mode === 'at-least-once') {
      this.#shared = new RecordProducer(client);
      await this.#shared.connect();
    }
    if (cfg.outputs.drift) {
      this.#driftProducer = this.#shared ?? new RecordProducer(client);
      if (this.#driftProducer !== this.#shared) await this.#driftProducer.connect();
    }
    this.#source = new GroupSource(client, {
      groupId: cfg.groupId, topics: cfg.inputs, fromBeginning: k.startFrom === 'earliest',
      sessionTimeoutMs: k.sessionTimeoutMs, rebalanceTimeoutMs: k.rebalanceTimeoutMs, heartbeatIntervalMs: k.heartbeatIntervalMs,
      fetchMaxWaitMs: k.fetchMaxWaitMs, fetchMaxBytes: k.fetchMaxBytes, fetchMaxBytesPerPartition: k.fetchMaxBytesPerPartition,
    }, this, this.#baseLog);
    this.#committers = Array.from({ length: cfg.delivery.producers }, (_, n) => createCommitter({
      pipeline: cfg, kafka: k, client, admin, source: this.#source!, shared: this.#shared,
      metrics: this.deps.metrics, clock: this.deps.clock, timers: this.deps.timers, logger: this.#baseLog,
      onSettled: () => this.#maybeResume(),
      onTrouble: (err) => (err ? this.#troubles.set(`output ${n}`, err) : this.#troubles.delete(`output ${n}`)),
    }));
    // Fenced in before the first assignment: the producers are the instance's, not a partition's.
    for (const c of this.#committers) void c.start();
    this.#watchdog = new StallWatchdog({
      pipeline: cfg.name, admin, topics: cfg.inputs, partitions: () => this.#partitions.values(),
      intervalMs: WATCHDOG_INTERVAL_MS, stallTimeoutMs: cfg.delivery.stallTimeoutMs, startFrom: k.startFrom,
      clock: this.deps.clock, timers: this.deps.timers, metrics: this.deps.metrics, logger: this.#baseLog,
    });
    await this.#source.start();
    this.#watchdog.start();
    this.#log.info({ inputs: cfg.inputs, groupId: cfg.groupId, delivery: cfg.delivery }, 'consuming');
  }

  assigned(all: TopicPartition[], added: TopicPartition[]): void {
    this.#consumerGone = undefined;
    // Every new partition's committed offset is read at once, in parallel, not on its first
    // batch; never for a pipeline that is already stopping.
    if (this.status === 'starting' || this.status === 'running') {
      for (const tp of added) {
        const part: AssignedPartition = { tp, sink: undefined, fetchPosition: -1n, decodeBackoff: new Backoff(DEFAULT_RETRY) };
        this.#partitions.set(partitionKey(tp), part);
        this.#openSink(part);
      }
    }
    this.deps.metrics.assignedPartitions.set({ pipeline: this.name }, this.#partitions.size);
    this.#log.info({ partitions: all.map(partitionKey), added: added.length }, 'partitions assigned');
  }

  revoked(partitions: TopicPartition[]): void {
    for (const tp of partitions) {
      const key = partitionKey(tp);
      const part = this.#partitions.get(key);
      if (!part) continue;
      this.#partitions.delete(key);
      this.#retireSink(part);
      this.#watchdog?.forget(tp);
      this.#troubles.delete(`${key} decode`);
    }
    this.deps.metrics.assignedPartitions.set({ pipeline: this.name }, this.#partitions.size);
    this.#maybeResume();
  }

  crashed(err: StreamscoreError, restarting: boolean): void {
    if (!restarting) this.#consumerGone = err;
  }

  #openSink(part: AssignedPartition): void {
    const { tp } = part;
    const key = partitionKey(tp);
    const sink: PartitionSink = createPartitionSink({
      tp, pipeline: this.#cfg, committer: this.#leastLoadedCommitter(),
      metrics: this.deps.metrics, clock: this.deps.clock, timers: this.deps.timers, logger: this.#baseLog,
      rewind: (offset) => {
        this.#batcher?.discard((item) => item.sink === sink);
        part.fetchPosition = offset;
        this.#source?.seek(tp, offset);
      },
      onSettled: () => this.#maybeResume(),
      onTrouble: (err) => (err ? this.#troubles.set(`${key} offsets`, err) : this.#troubles.delete(`${key} offsets`)),
    });
    part.sink = sink;
    void sink.start().then(() => {
      if (sink.state === 'ready' && part.sink === sink) this.#log.info({ topic: tp.topic, partition: tp.partition, committed: sink.committedOffset.toString() }, 'partition taken over');
    });
  }

  #sendDriftEvent(event: DriftEvent): void {
    const topic = this.#cfg.outputs.drift?.topic;
    if (!topic || !this.#driftProducer) return;
    const record = { topic, key: Buffer.from(`${event.pipeline}/${event.feature}`), value: Buffer.from(JSON.stringify(event)), headers: {} };
    this.#driftProducer.send([record]).catch((err: unknown) => this.#log.warn({ err: errorMessage(err), feature: event.feature }, 'drift event not sent'));
  }

  #leastLoadedCommitter(): OutputCommitter {
    return this.#committers.reduce((least, c) => (c.partitions < least.partitions ? c : least));
  }

  /** Forgets a partition's sink, drops its queued records, and closes it. */
  #retireSink(part: AssignedPartition): void {
    const sink = part.sink;
    if (!sink) return;
    part.sink = undefined;
    this.#batcher?.discard((item) => item.sink === sink);
    this.#troubles.delete(`${partitionKey(part.tp)} offsets`);
    void sink.close();
  }

  async batch(fetched: FetchedBatch): Promise<void> {
    const part = this.#partitions.get(partitionKey(fetched.tp));
    if (this.status !== 'running' || !part || !fetched.isCurrent()) return;
    this.#activeBatches++;
    try {
      await this.#accept(part, fetched);
    } catch (err) {
      // A throw would crash the consumer; this is a bug of ours: report it and read again.
      const coded = asStreamscoreError(err);
      this.#log.error({ err, code: coded.code }, 'accepting a batch failed; reading the partition again from its committed offset');
      if (part.sink?.state === 'ready') this.#source?.seek(part.tp, part.sink.committedOffset >= 0n ? part.sink.committedOffset : fetched.records[0]!.offset);
    } finally {
      this.#activeBatches--;
    }
  }

  async #accept(part: AssignedPartition, fetched: FetchedBatch): Promise<void> {
    if (!part.sink || part.sink.state === 'closed') {
      this.#retireSink(part);
      this.#openSink(part);
    }
    const sink = part.sink!;
    await fetched.heartbeatDuring(sink.start());
    if (sink.state !== 'ready' || !fetched.isCurrent()) return;
    const generation = sink.generation;
    const records = sink.nextOffset < 0n ? fetched.records : fetched.records.filter((r) => r.offset >= sink.nextOffset);
    if (!records.length) return;
    const decoded = await this.#decoder.decode(part.tp, part.decodeBackoff, records, fetched);
    // A rewind, revocation or shutdown while decoding makes these records stale.
    if (!decoded || !fetched.isCurrent() || sink.generation !== generation || sink.state !== 'ready' || this.status !== 'running') return;
    const items: WorkItem<PartitionSink>[] = records.map((input, i) => {
      const d = decoded[i]!;
      return d.ok ? { sink, generation, input, record: d.record } : { sink, generation, input, error: d.error };
    });
    sink.accepted(records[0]!.offset, records[records.length - 1]!.offset + 1n);
    this.#log.debug({ topic: part.tp.topic, partition: part.tp.partition, first: records[0]!.offset.toString(), last: records[records.length - 1]!.offset.toString(), generation }, 'accepted');
    part.fetchPosition = fetched.nextOffset;
    this.deps.metrics.consumed.inc({ pipeline: this.name, topic: part.tp.topic, partition: part.tp.partition }, items.length);
    this.#batcher!.enqueue(items);
    if (this.#outstanding() >= this.#cfg.batching.maxQueuedRecords) this.#pauseAll();
  }

  /** Records between fetch and commit: queued, being scored, or waiting in their partition's transaction. */
  #outstanding(): number {
    let pending = 0;
    for (const part of this.#partitions.values()) pending += part.sink?.pendingRecords ?? 0;
    return (this.#batcher?.queued ?? 0) + this.#scoring + pending;
  }

  #pauseAll(): void {
    if (this.#backpressured) return;
    this.#backpressured = true;
    for (const part of this.#partitions.values()) this.#source?.pause(part.tp);
    this.deps.metrics.pausedPartitions.set({ pipeline: this.name }, this.#source?.pausedCount ?? 0);
  }

  #maybeResume(): void {
    const outstanding = this.#outstanding();
    this.deps.metrics.queuedRecords.set({ pipeline: this.name }, this.#batcher?.queued ?? 0);
    this.deps.metrics.outstandingRecords.set({ pipeline: this.name }, outstanding);
    if (!this.#backpressured || this.status !== 'running' || outstanding > this.#cfg.batching.maxQueuedRecords / 2) return;
    this.#backpressured = false;
    for (const part of this.#partitions.values()) this.#source?.resume(part.tp);
    this.deps.metrics.pausedPartitions.set({ pipeline: this.name }, 0);
  }

  async #scoreBatch(items: WorkItem<PartitionSink>[], waitedMs: number): Promise<void> {
    this.#scoring += items.length;
    try {
      for (const [sink, chunk] of await this.#slot!.score(items, waitedMs)) sink.submit(chunk);
    } catch (err) {
      // Never expected (a failing model run is bisected and dead-lettered row by row): the
      // partitions involved read again from their commits.
      this.#log.error({ err }, 'scoring a batch failed; reading its partitions again');
      for (const part of this.#partitions.values()) {
        if (!items.some((i) => i.sink === part.sink)) continue;
        this.#retireSink(part);
        this.#openSink(part);
      }
    } finally {
      this.#scoring -= items.length;
      this.#maybeResume();
    }
  }

  /** Stops fetching, scores and commits what was fetched, says what it left, then leaves the group. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#doClose();
    return this.#closing;
  }

  async #doClose(): Promise<void> {
    if (this.status === 'new' || this.status === 'stopped') return;
    const wasRunning = this.status === 'running';
    this.status = 'stopping';
    this.#watchdog?.stop();
    if (wasRunning) {
      this.#source?.pauseAll();
      let timer: unknown;
      const timedOut = new Promise<false>((r) => { timer = this.deps.timers.setTimeout(() => r(false), SHUTDOWN_FLUSH_MS); });
      const done = await Promise.race([this.#flush().then(() => true), timedOut]);
      this.deps.timers.clearTimeout(timer);
      this.#logHandOver(done);
    }
    await this.#release();
    this.status = 'stopped';
  }

  async #flush(): Promise<void> {
    while (this.#activeBatches > 0) await new Promise((r) => setTimeout(r, 10));
    await this.#batcher?.flush();
    await Promise.all(this.#committers.map((c) => c.flush()));
  }

  /** What shutdown really committed, and what it leaves for the next owner of each partition. */
  #logHandOver(flushed: boolean): void {
    const partitions = [...this.#partitions.values()].map((p) => ({
      partition: partitionKey(p.tp),
      committed: p.sink?.committedOffset.toString() ?? 'unknown',
      uncommitted: p.sink?.pendingRecords ?? 0,
      sink: p.sink?.state ?? 'none',
    }));
    const left = partitions.filter((p) => p.uncommitted > 0 || p.sink !== 'ready');
    if (flushed && !left.length) this.#log.info({ partitions }, 'flushed: every record fetched is committed');
    else this.#log.warn({ partitions: left, flushTimedOut: !flushed }, 'closing with records not committed: the next owner reads them again from the committed offsets');
  }

  /** Frees clients and the model; once only (a failed start releases, then close would again). */
  async #release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    this.#watchdog?.stop();
    this.#batcher?.close();
    await Promise.all([...this.#partitions.values()].map((p) => p.sink?.close()));
    this.#partitions.clear();
    await Promise.all(this.#committers.map((c) => c.close()));
    const quiet = (p: Promise<unknown> | undefined) => p?.catch((err: unknown) => this.#log.debug({ err: errorMessage(err) }, 'close failed'));
    await quiet(this.#source?.close());
    await quiet(this.#shared?.disconnect());
    if (this.#driftProducer !== this.#shared) await quiet(this.#driftProducer?.disconnect());
    await quiet(this.#admin?.disconnect());
    await quiet(this.#slot?.close());
    this.modelLoaded = false;
  }
}
