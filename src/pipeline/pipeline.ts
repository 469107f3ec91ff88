import type { Admin, Consumer, EachBatchPayload, Kafka, KafkaMessage, Producer } from 'kafkajs';
import { Batcher } from '../batching/batcher.js';
import { AvroInputCodec, AvroOutputEncoder } from '../codec/avro-codec.js';
import type { InputCodec, OutputEncoder } from '../codec/codec.js';
import { JsonInputCodec, JsonOutputEncoder } from '../codec/json-codec.js';
import type { SchemaRegistryClient } from '../codec/schema-registry.js';
import type { PipelineConfig, StreamscoreConfig } from '../config/types.js';
import { StreamscoreError, errorMessage } from '../errors.js';
import { FeatureMapper } from '../inference/features.js';
import { OnnxModel } from '../inference/model.js';
import type { Clock, Timers } from '../observability/clock.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { OutputRecords, unfillableOutputFields } from '../sink/output-records.js';
import { PartitionSink } from '../sink/partition-sink.js';
import { KafkaClient } from '../kafka/client.js';
import { withHeartbeats } from '../kafka/heartbeats.js';
import { BatchScorer, type WorkItem } from './batch-scorer.js';

export interface PipelineDeps {
  config: StreamscoreConfig;
  pipeline: PipelineConfig;
  logger: Logger;
  metrics: Metrics;
  clock: Clock;
  timers: Timers;
  registry?: SchemaRegistryClient;
}


/** A refused login is a config problem: say so plainly, naming the user but never the password. */
function kafkaConnectError(err: unknown, k: StreamscoreConfig['kafka']): StreamscoreError {
  const name = (err as Error)?.name ?? '';
  if (name === 'KafkaJSSASLAuthenticationError') {
    return new StreamscoreError('KAFKA_AUTH_FAILED', `Kafka refused SASL login as '${k.sasl?.username}' (${k.sasl?.mechanism}) at ${k.brokers.join(',')}: check kafka.sasl.username and kafka.sasl.password`, { cause: err });
  }
  return new StreamscoreError('KAFKA_UNREACHABLE', `cannot connect to Kafka at ${k.brokers.join(',')}: ${errorMessage(err)}`, { cause: err });
}

export type PipelineStatus = 'new' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

/**
 * One pipeline: consumer group → decode → batcher → ONNX Runtime → per-partition sinks.
 * The source never waits for commits: it hands records to the batcher and pauses its
 * partitions when too many records are outstanding (queued, being scored, or waiting to
 * commit), so memory stays bounded and nothing fetched is dropped.
 */
export class Pipeline {
  status: PipelineStatus = 'new';
  /** True once the consumer has joined its group (with or without partitions). */
  joined = false;
  modelLoaded = false;
  private readonly cfg: PipelineConfig;
  private log: Logger;
  private kafka!: Kafka;
  private admin!: Admin;
  private consumer!: Consumer;
  private sharedProducer: Producer | undefined;
  private codec!: InputCodec;
  private model!: OnnxModel;
  private scorer!: BatchScorer;
  private batcher!: Batcher<WorkItem>;
  private readonly sinks = new Map<string, PartitionSink>();
  /** Each sink's start (fence, then read the committed offset). */
  private readonly starting = new Map<PartitionSink, Promise<void>>();
  /** Started sinks whose first batch has not come yet. */
  private readonly untouched = new Set<PartitionSink>();
  private readonly paused = new Map<string, { topic: string; partition: number }>();
  private scoring = 0;
  private activeBatches = 0;
  private closing: Promise<void> | undefined;
  private released = false;

  constructor(private readonly deps: PipelineDeps) {
    this.cfg = deps.pipeline;
    this.log = deps.logger.child({ pipeline: this.cfg.name });
  }

  get name(): string {
    return this.cfg.name;
  }

  get modelInfo() {
    return this.model?.info;
  }

  /** Input partitions assigned at the last rebalance. */
  assignedPartitions = 0;

  async start(): Promise<void> {
    this.status = 'starting';
    try {
      await this.prepareScoring();
      await this.connectKafka();
      this.status = 'running';
    } catch (err) {
      this.status = 'failed';
      await this.release();
      throw err;
    }
  }

  /** Model, features, codecs and output schemas: everything checked before touching Kafka's group. */
  private async prepareScoring(): Promise<void> {
    const { cfg, deps } = this;
    if (cfg.codec === 'avro') {
      if (!deps.registry || !cfg.readerSchema) throw new StreamscoreError('CONFIG_INVALID', `pipeline '${cfg.name}': the avro codec needs schemaRegistry and readerSchema`);
      this.codec = new AvroInputCodec(deps.registry, cfg.readerSchema);
    } else {
      this.codec = new JsonInputCodec();
    }
    this.model = await OnnxModel.load(cfg.model, this.log);
    const mapper = FeatureMapper.build(this.model.info.featureNames, cfg.features, this.codec, cfg.name);
    const threshold = cfg.outputs.alerts.threshold ?? this.model.info.threshold;
    if (threshold === undefined) throw new StreamscoreError('CONFIG_INVALID', `pipeline '${cfg.name}': set outputs.alerts.threshold (the model declares no alert_threshold)`);
    const scoredEncoder = await this.encoder(cfg.outputs.scored.topic, cfg.outputs.scored.schema);
    const alertEncoder = await this.encoder(cfg.outputs.alerts.topic, cfg.outputs.alerts.schema);
    const unfillable = [
      ...unfillableOutputFields(scoredEncoder, this.codec).map((f) => `${cfg.outputs.scored.schema}: ${f}`),
      ...unfillableOutputFields(alertEncoder, this.codec).map((f) => `${cfg.outputs.alerts.schema}: ${f}`),
    ];
    if (unfillable.length) throw new StreamscoreError('OUTPUT_SCHEMA_MISMATCH', `pipeline '${cfg.name}': output fields with no default that the input does not carry: ${unfillable.join(', ')}`);
    const scoredOut = new OutputRecords(scoredEncoder, this.model.info);
    const alertOut = new OutputRecords(alertEncoder, this.model.info);
    const sizes = [...new Set([1, ...cfg.batching.preferredBatchSizes, cfg.batching.maxBatchSize])];
    await this.model.warmUp(sizes);
    this.modelLoaded = true;
    const info = this.model.info;
    this.log = this.log.child({ model: info.name, modelVersion: info.version });
    this.deps.metrics.modelInfo.set({ pipeline: cfg.name, model: info.name, version: info.version, execution_provider: info.executionProvider }, 1);
    this.log.info({ executionProvider: info.executionProvider, features: info.featureNames.length, threshold, warmUpBatchSizes: sizes }, 'model loaded');
    this.scorer = new BatchScorer({
      pipeline: cfg.name, mapper, model: this.model, scoredOut, alertOut, threshold, outputs: cfg.outputs,
      maxBatchSize: cfg.batching.maxBatchSize, metrics: deps.metrics, clock: deps.clock, logger: this.log,
    });
    this.batcher = new Batcher<WorkItem>({
      policy: { ...cfg.batching, preferredBatchSizes: [...cfg.batching.preferredBatchSizes].sort((a, b) => a - b) },
      handle: (items, waitedMs) => this.scoreBatch(items, waitedMs),
      clock: deps.clock,
      timers: deps.timers,
      onDequeued: () => this.maybeResume(),
    });
  }

  private async encoder(topic: string, schemaFile: string | undefined): Promise<OutputEncoder> {
    if (!schemaFile) return new JsonOutputEncoder();
    if (!this.deps.registry) throw new StreamscoreError('CONFIG_INVALID', `pipeline '${this.cfg.name}': an output schema needs schemaRegistry`);
    return AvroOutputEncoder.register(this.deps.registry, topic, schemaFile);
  }

  private async connectKafka(): Promise<void> {
    const { cfg, deps } = this;
    const k = deps.config.kafka;
    this.kafka = new KafkaClient(k, this.log, `${k.clientId}-${cfg.name}`).raw;
    this.admin = this.kafka.admin();
    await this.admin.connect().catch((err: unknown) => { throw kafkaConnectError(err, k); });
    const existing = new Set(await this.admin.listTopics());
    const needed = [...cfg.inputs, cfg.outputs.scored.topic, cfg.outputs.alerts.topic, cfg.outputs.deadLetter.topic];
    const missing = needed.filter((t) => !existing.has(t));
    if (missing.length) throw new StreamscoreError('TOPICS_MISSING', `pipeline '${cfg.name}': these topics do not exist (streamscore does not create them): ${missing.join(', ')}`);
    if (cfg.delivery === 'at-least-once') {
      this.sharedProducer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await this.sharedProducer.connect();
    }
    this.consumer = this.kafka.consumer({
      groupId: cfg.groupId,
      readUncommitted: false,
      sessionTimeout: k.sessionTimeoutMs,
      rebalanceTimeout: k.rebalanceTimeoutMs,
      heartbeatInterval: k.heartbeatIntervalMs,
      // Short, so pauses, resumes and shutdown take effect quickly on quiet partitions.
      maxWaitTimeInMs: 250,
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, (e) => this.onAssignment(e.payload.memberAssignment));
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: cfg.inputs, fromBeginning: k.startFrom === 'earliest' });
    await this.consumer.run({ autoCommit: false, eachBatchAutoResolve: true, eachBatch: (payload) => this.onBatch(payload) });
    this.log.info({ inputs: cfg.inputs, groupId: cfg.groupId, delivery: cfg.delivery }, 'consuming');
  }

  private key(topic: string, partition: number): string {
    return `${topic}:${partition}`;
  }

  private onAssignment(assignment: Record<string, number[]>): void {
    this.joined = true;
    const assigned = new Set(Object.entries(assignment).flatMap(([topic, parts]) => parts.map((p) => this.key(topic, p))));
    for (const [key, sink] of this.sinks) {
      if (assigned.has(key)) continue;
      this.paused.delete(key);
      this.retireSink(key, sink);
    }
    // A group can hand partitions to a member that is already stopping; those are left alone.
    if (this.status === 'running') {
      for (const [topic, partitions] of Object.entries(assignment)) {
        for (const partition of partitions) if (!this.sinks.has(this.key(topic, partition))) this.openSink(topic, partition);
      }
    }
    this.assignedPartitions = assigned.size;
    this.deps.metrics.assignedPartitions.set({ pipeline: this.cfg.name }, assigned.size);
    this.log.info({ partitions: [...assigned] }, 'partitions assigned');
  }

  /**
   * Creates the sink of a partition and starts fencing + reading its committed offset at
   * once. Opened for every partition as soon as it is assigned, so the producers of a fresh
   * assignment initialise in parallel rather than one per fetched batch.
   */
  private openSink(topic: string, partition: number): PartitionSink {
    const key = this.key(topic, partition);
    const sink = new PartitionSink({
      kafka: this.kafka,
      admin: this.admin,
      groupId: this.cfg.groupId,
      topic,
      partition,
      delivery: this.cfg.delivery,
      transactionTimeoutMs: this.deps.config.kafka.transactionTimeoutMs,
      sharedProducer: this.sharedProducer,
      commitOffset: (offset) => this.consumer.commitOffsets([{ topic, partition, offset }]),
      rewind: (offset) => {
        this.batcher.discard((item) => item.sink === sink);
        this.consumer.seek({ topic, partition, offset: offset.toString() });
      },
      logger: this.log.child({ topic, partition }),
      onTransaction: (result, ms) => {
        this.deps.metrics.transactions.inc({ pipeline: this.cfg.name, result });
        if (result === 'committed') this.deps.metrics.commitMs.observe({ pipeline: this.cfg.name }, ms);
        this.maybeResume();
      },
    });
    this.sinks.set(key, sink);
    const started = sink.start().then(
      () => { this.untouched.add(sink); },
      (err: unknown) => {
        this.retireSink(key, sink);
        throw err;
      },
    );
    started.catch(() => {}); // the batch that needs this sink sees the failure
    this.starting.set(sink, started);
    return sink;
  }

  /** Forgets a sink (if it is still the partition's), drops its queued records, and closes it. */
  private retireSink(key: string, sink: PartitionSink): void {
    if (this.sinks.get(key) === sink) this.sinks.delete(key);
    this.batcher.discard((item) => item.sink === sink);
    void sink.close();
  }

  /** The ready sink of a partition; `fresh` on the first batch after it started. */
  private async sinkFor(topic: string, partition: number, heartbeat: () => Promise<void>): Promise<{ sink: PartitionSink; fresh: boolean }> {
    const key = this.key(topic, partition);
    let sink = this.sinks.get(key);
    if (sink && (sink.state === 'fenced' || sink.state === 'closed')) {
      this.retireSink(key, sink);
      sink = undefined;
    }
    sink ??= this.openSink(topic, partition);
    await withHeartbeats(this.starting.get(sink)!, heartbeat, this.deps.config.kafka.heartbeatIntervalMs);
    return { sink, fresh: this.untouched.delete(sink) };
  }

  private async onBatch({ batch, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    if (this.status !== 'running' || !isRunning() || isStale() || batch.isEmpty()) return;
    this.activeBatches++;
    try {
      await this.acceptBatch(batch.topic, batch.partition, batch.messages, BigInt((batch as unknown as { fetchedOffset: string }).fetchedOffset), heartbeat);
      this.deps.metrics.consumerLag.set({ pipeline: this.cfg.name, topic: batch.topic, partition: batch.partition }, Number(BigInt(batch.highWatermark) - BigInt(batch.lastOffset()) - 1n));
      await heartbeat();
    } finally {
      this.activeBatches--;
    }
  }

  private async acceptBatch(topic: string, partition: number, messages: KafkaMessage[], fetchedOffset: bigint, heartbeat: () => Promise<void>): Promise<void> {
    const { sink, fresh } = await this.sinkFor(topic, partition, heartbeat);
    if (fresh) {
      const committed = sink.committedOffset;
      this.log.info({ topic, partition, committed: committed.toString(), fetched: fetchedOffset.toString(), transactionalId: sink.transactionalId }, 'partition taken over');
      if (committed >= 0n && fetchedOffset > committed) {
        // Our fetch position came from before the fence: read again from the committed offset.
        sink.nextOffset = committed;
        sink.baseOffset = committed;
        this.consumer.seek({ topic, partition, offset: committed.toString() });
        return;
      }
      sink.nextOffset = committed >= 0n ? committed : fetchedOffset;
      sink.baseOffset = sink.nextOffset;
    }
    const generation = sink.generation;
    const fresher = messages.filter((m) => BigInt(m.offset) >= sink.nextOffset);
    if (!fresher.length) return;
    let decoded;
    try {
      decoded = await this.codec.decodeBatch(fresher);
    } catch (err) {
      // The registry is unreachable: nothing is the records' fault. Read them again later.
      this.log.warn({ err: errorMessage(err), code: (err as StreamscoreError).code }, 'decoding paused; retrying the batch');
      this.consumer.seek({ topic, partition, offset: fresher[0]!.offset });
      await withHeartbeats(new Promise((r) => setTimeout(r, 1_000)), heartbeat, this.deps.config.kafka.heartbeatIntervalMs);
      return;
    }
    // A rewind or revocation while decoding makes these records stale.
    if (sink.generation !== generation || sink.state !== 'ready' || this.status !== 'running') return;
    const items: WorkItem[] = fresher.map((m, i) => {
      const d = decoded[i]!;
      return {
        sink, generation, offset: m.offset, key: m.key, value: m.value, headers: m.headers, timestampMs: Number(m.timestamp),
        ...(d.ok ? { record: d.record } : { error: d.error }),
      };
    });
    sink.nextOffset = BigInt(fresher[fresher.length - 1]!.offset) + 1n;
    this.deps.metrics.consumed.inc({ pipeline: this.cfg.name, topic, partition }, items.length);
    this.batcher.enqueue(items);
    if (this.outstanding() >= this.cfg.batching.maxQueuedRecords) this.pause(topic, partition);
  }

  /** Records fetched but not yet committed: queued, being scored, or waiting for their transaction. */
  private outstanding(): number {
    let pending = 0;
    for (const sink of this.sinks.values()) pending += sink.pendingRecords;
    return this.batcher.queued + this.scoring + pending;
  }

  private pause(topic: string, partition: number): void {
    const key = this.key(topic, partition);
    if (this.paused.has(key)) return;
    this.paused.set(key, { topic, partition });
    this.consumer.pause([{ topic, partitions: [partition] }]);
    this.deps.metrics.pausedPartitions.set({ pipeline: this.cfg.name }, this.paused.size);
  }

  private maybeResume(): void {
    this.deps.metrics.queuedRecords.set({ pipeline: this.cfg.name }, this.batcher.queued);
    if (!this.paused.size || this.status !== 'running' || this.outstanding() > this.cfg.batching.maxQueuedRecords / 2) return;
    const byTopic = new Map<string, number[]>();
    for (const { topic, partition } of this.paused.values()) byTopic.set(topic, [...(byTopic.get(topic) ?? []), partition]);
    this.paused.clear();
    this.consumer.resume([...byTopic].map(([topic, partitions]) => ({ topic, partitions })));
    this.deps.metrics.pausedPartitions.set({ pipeline: this.cfg.name }, 0);
  }

  private async scoreBatch(items: WorkItem[], waitedMs: number): Promise<void> {
    this.scoring += items.length;
    try {
      for (const [sink, chunk] of await this.scorer.score(items, waitedMs)) sink.submit(chunk);
    } catch (err) {
      // Never expected; if it happens the partitions involved start again from their commits.
      this.log.error({ err }, 'scoring a batch failed; rewinding its partitions');
      for (const sink of new Set(items.map((i) => i.sink))) sink.rewind();
    } finally {
      this.scoring -= items.length;
    }
  }

  /** Stops fetching, scores and commits what was fetched, then leaves the group. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    if (this.status === 'new' || this.status === 'stopped') return;
    const wasRunning = this.status === 'running';
    this.status = 'stopping';
    if (wasRunning) {
      this.consumer.pause(this.cfg.inputs.map((topic) => ({ topic })));
      while (this.activeBatches > 0) await new Promise((r) => setTimeout(r, 10));
      await this.batcher.flush();
      await Promise.all([...this.sinks.values()].map((s) => s.drained()));
      this.log.info('flushed: every record fetched is committed');
    }
    await this.release();
    this.status = 'stopped';
  }

  /** Frees clients and the model; once only (a failed start releases, then close would again). */
  private async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.batcher?.close();
    await Promise.all([...this.sinks.values()].map((s) => s.close()));
    this.sinks.clear();
    const quiet = (p: Promise<unknown> | undefined) => p?.catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'close failed'));
    await quiet(this.consumer?.disconnect());
    await quiet(this.sharedProducer?.disconnect());
    await quiet(this.admin?.disconnect());
    await quiet(this.model?.close());
    this.modelLoaded = false;
  }
}
