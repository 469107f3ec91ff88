import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Registry } from 'prom-client';
import type { SchemaRegistryClient } from '../codec/schema-registry.js';
import type { PipelineConfig, StreamscoreConfig } from '../config/types.js';
import { StreamscoreError, asStreamscoreError, errorMessage } from '../errors.js';
import { KafkaAdmin } from '../kafka/admin.js';
import type { KafkaClient } from '../kafka/client.js';
import { kafkaConnectError } from '../kafka/errors.js';
import { PartitionRangeReader } from '../kafka/partition-reader.js';
import { MAX_TRANSACTION_BYTES, type OutgoingRecord, partitionKey } from '../kafka/records.js';
import { TransactionalWriter } from '../kafka/transactional-writer.js';
import { systemClock } from '../observability/clock.js';
import type { Logger } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import { type Scoring, prepareScoring, withModel } from '../pipeline/scoring.js';
import { Backoff, DEFAULT_RETRY } from '../util/backoff.js';
import { compareWithLive } from './compare.js';
import { type Bound, type ReplayRange, type ReplayTarget, encodeRange, inTimeRange, resolveRanges, resumeFrom } from './ranges.js';
import { ReplayScorer } from './replay-scorer.js';
import type { PartitionSummary, ReplaySummary } from './summary.js';

export interface ReplayOptions {
  id: string;
  config: StreamscoreConfig;
  /** The live pipeline, as configured. */
  pipeline: PipelineConfig;
  from: Bound;
  to: Bound;
  /** Another model to score with (the pipeline's own when absent). */
  modelPath?: string;
  /** Where scored records go; default `<scored topic>.replay`. */
  output?: string;
  compare?: boolean;
  /** At most this many records per second (0 or absent: as fast as it goes). */
  maxRatePerSecond?: number;
}

export interface ReplayProgress {
  records: number;
  /** Offsets read of the range, over all partitions, and the range's size. */
  done: bigint;
  total: bigint;
  elapsedMs: number;
}

export interface ReplayDeps {
  client: KafkaClient;
  registry?: SchemaRegistryClient;
  logger: Logger;
  /** Decodes a scored record's value: needed by --compare. */
  decode?(value: Buffer | null): Promise<unknown>;
  onStart?(info: { resumed: boolean; ranges: readonly ReplayRange[] }): void;
  onProgress?(p: ReplayProgress): void;
}

/** The replay's own transactional id and offsets group: nothing the live pipeline uses (its ids are `streamscore-<group>-<topic>-<partition>`). */
export const replayGroupId = (pipeline: PipelineConfig, id: string) => `${pipeline.groupId}-replay-${id}`;
export const defaultReplayOutput = (pipeline: PipelineConfig) => `${pipeline.outputs.scored.topic}.replay`;

/** A replay reads in bulk: a transaction collects this long (or MAX_TRANSACTION_BYTES) before it commits. */
const COMMIT_INTERVAL_MS = 500;

interface Stats { records: number; scored: number; deadLettered: number; alerts: number; skippedByTime: number }
const noStats = (): Stats => ({ records: 0, scored: 0, deadLettered: 0, alerts: 0, skippedByTime: 0 });

/** The live pipeline's config with the replay's output topic and model: what prepareScoring is given. */
function replayPipeline(p: PipelineConfig, output: string, modelPath: string | undefined): PipelineConfig {
  const scoredBy = modelPath ? withModel(p, modelPath) : p;
  return { ...scoredBy, outputs: { ...p.outputs, scored: { ...p.outputs.scored, topic: output } } };
}

/**
 * One run of `streamscore replay`: fences any earlier run with the same id, finds the range
 * (stored by the first run, or resolved now and stored before anything is read), then reads,
 * scores and writes in transactions that also commit how far each partition was read.
 */
export class Replay {
  readonly groupId: string;
  readonly output: string;
  readonly #cfg: PipelineConfig;
  readonly #target: ReplayTarget;
  readonly #log: Logger;
  #stopRequested = false;
  #ranges = new Map<string, ReplayRange>();
  /** Committed (by this run or an earlier one) and read (committed or in the open transaction). */
  #committed = new Map<string, bigint>();
  #read = new Map<string, bigint>();
  #stats = new Map<string, Stats>();
  #pending = new Map<string, Stats>();
  #started = 0;
  readonly #backoff = new Backoff(DEFAULT_RETRY);

  constructor(private readonly o: ReplayOptions, private readonly deps: ReplayDeps) {
    if (!/^[a-zA-Z0-9._-]+$/.test(o.id)) throw new StreamscoreError('CLI_USAGE', `--id ${o.id}: use letters, digits, '.', '_' and '-' only`);
    this.groupId = replayGroupId(o.pipeline, o.id);
    this.output = o.output ?? defaultReplayOutput(o.pipeline);
    const own = [...o.pipeline.inputs, o.pipeline.outputs.alerts.topic, o.pipeline.outputs.deadLetter.topic];
    if (own.includes(this.output) || (o.compare && this.output === o.pipeline.outputs.scored.topic)) {
      throw new StreamscoreError('CLI_USAGE', `--output ${this.output} is one of the pipeline's own topics${o.compare ? ' (with --compare, the scored topic too)' : ''}`);
    }
    // Live producers' ids are streamscore-<group>-<topic>-<partition>, in any deployment, not
    // only this config's; and the replay's offsets must not land in a live consumer group
    // (TxnOffsetCommit v0 does not check the group's members).
    // A live id always ends in -<partition>, so an --id that does not end in -<digits> can
    // never equal one, whatever groups and topics exist.
    if (/-\d+$/.test(o.id)) throw new StreamscoreError('CLI_USAGE', `--id ${o.id}: an id ending in -<number> could make ${this.groupId} equal a live producer's id (streamscore-<group>-<topic>-<partition>): choose another`);
    const clash = o.config.pipelines.find((p) => p.groupId === this.groupId);
    if (clash) throw new StreamscoreError('CLI_USAGE', `the replay's offsets group ${this.groupId} is pipeline '${clash.name}''s consumer group: choose another --id`);
    this.#cfg = replayPipeline(o.pipeline, this.output, o.modelPath);
    this.#target = { output: this.output, model: path.resolve(this.#cfg.model.path) };
    this.#log = deps.logger.child({ pipeline: o.pipeline.name, replay: o.id });
  }

  /** Stops at the next batch boundary: what was read so far is committed, and the same command resumes. */
  stop(): void {
    this.#stopRequested = true;
  }

  async run(): Promise<ReplaySummary> {
    const scoring = await prepareScoring(this.#cfg, { registry: this.deps.registry, metrics: new Metrics(new Registry()), clock: systemClock }, this.#log);
    const admin = new KafkaAdmin(this.deps.client);
    const writer = new TransactionalWriter(this.deps.client, { transactionalId: this.groupId, transactionTimeoutMs: this.o.config.kafka.transactionTimeoutMs });
    try {
      await admin.connect().catch((err: unknown) => { throw kafkaConnectError(err, this.o.config.kafka); });
      await this.#ensureTopics(admin);
      await writer.open();
      const resumed = await this.#plan(admin, writer);
      this.deps.onStart?.({ resumed, ranges: [...this.#ranges.values()] });
      const resumedAt = new Map(this.#committed);
      this.#started = Date.now();
      await this.#replay(admin, writer, new ReplayScorer(scoring, this.#cfg, this.o.id, this.#log));
      const summary = this.#summary(scoring, resumed, resumedAt);
      if (this.o.compare && this.deps.decode) {
        const k = this.o.config.kafka;
        summary.compare = await compareWithLive(
          { client: this.deps.client, admin, decode: this.deps.decode, reader: { maxWaitMs: k.fetchMaxWaitMs, maxBytes: k.fetchMaxBytes, maxBytesPerPartition: k.fetchMaxBytesPerPartition } },
          { replayId: this.o.id, output: this.output, liveTopic: this.o.pipeline.outputs.scored.topic, ranges: [...this.#ranges.values()] },
        );
      }
      return summary;
    } finally {
      await writer.close();
      await admin.disconnect().catch(() => {});
      await scoring.model.close();
    }
  }

  async #ensureTopics(admin: KafkaAdmin): Promise<void> {
    const p = this.o.pipeline;
    const existing = new Set(await admin.listTopics());
    const missing = [...p.inputs, p.outputs.deadLetter.topic, ...(this.o.compare ? [p.outputs.scored.topic] : [])].filter((t) => !existing.has(t));
    if (missing.length) throw new StreamscoreError('TOPICS_MISSING', `pipeline '${p.name}': these topics do not exist: ${missing.join(', ')}`);
    if (!existing.has(this.output)) {
      const counts = await Promise.all(p.inputs.map(async (t) => (await admin.partitions(t)).length));
      await admin.createTopics([{ topic: this.output, numPartitions: Math.max(...counts) }]);
      this.#log.info({ topic: this.output, partitions: Math.max(...counts) }, 'replay output topic created');
    }
  }

  /** After the fence: the first run's stored ranges and committed positions, or (first run) the ranges resolved now and committed before anything is read. */
  async #plan(admin: KafkaAdmin, writer: TransactionalWriter): Promise<boolean> {
    const resume = await this.#readCommitted(admin);
    let ranges = resume?.ranges;
    if (!ranges) {
      ranges = await resolveRanges(admin, this.o.pipeline.inputs, this.o.from, this.o.to);
      // Stored with every partition's offset, empty ranges too, so a resumed run never resolves a range again.
      await writer.commit(this.groupId, ranges.map((r) => ({ tp: r.tp, offset: r.start, metadata: encodeRange(r, this.#target) })));
    } else if (resume?.target && (resume.target.output !== this.#target.output || resume.target.model !== this.#target.model)) {
      const was = resume.target;
      throw new StreamscoreError('CLI_USAGE', `replay '${this.o.id}' was started writing to ${was.output} with the model ${was.model}; this run would write to ${this.#target.output} with ${this.#target.model}, and one replay would mix the two. To continue it, give the same --output and --model; otherwise choose another --id`);
    }
    this.#ranges = new Map(ranges.map((r) => [partitionKey(r.tp), r]));
    this.#committed = resume?.positions ?? new Map(ranges.map((r) => [partitionKey(r.tp), r.start]));
    this.#read = new Map(this.#committed);
    return resume !== undefined;
  }

  async #readCommitted(admin: KafkaAdmin) {
    let entries;
    try {
      const tps = (await Promise.all(this.o.pipeline.inputs.map(async (topic) => (await admin.partitions(topic)).map((partition) => ({ topic, partition }))))).flat();
      entries = await Promise.all(tps.map(async (tp) => ({ tp, ...(await admin.committedEntry(this.groupId, tp)) })));
    } catch (err) {
      throw new StreamscoreError('KAFKA_REQUEST_FAILED', `reading replay '${this.o.id}''s committed positions (${this.groupId}): ${errorMessage(err)}`, { cause: err });
    }
    return resumeFrom(entries);
  }

  /** Reads every range to its end (or until stopped); a retryable failure fences, re-reads the committed positions and goes on from there. */
  async #replay(admin: KafkaAdmin, writer: TransactionalWriter, scorer: ReplayScorer): Promise<void> {
    let recovering = false;
    for (;;) {
      try {
        // Recovery is inside the try: a fence or re-read that fails is retried like the transaction.
        if (recovering) {
          await writer.open();
          this.#committed = (await this.#readCommitted(admin))?.positions ?? this.#committed;
          this.#read = new Map(this.#committed);
          recovering = false;
        }
        await this.#readFromCommitted(writer, scorer);
        return;
      } catch (err) {
        const coded = asStreamscoreError(err);
        if (coded.producerFenced) throw new StreamscoreError(coded.code, `another run of replay '${this.o.id}' took over (${this.groupId}): this one stops`, { cause: err });
        const wait = this.#backoff.fail();
        if (!coded.canRetry || this.#backoff.exhausted) throw coded;
        this.#log.warn({ code: coded.code, err: coded.message, retryInMs: wait }, 'replay transaction failed; going on from the committed positions');
        this.#pending.clear();
        await delay(wait);
        recovering = true;
      }
    }
  }

  async #readFromCommitted(writer: TransactionalWriter, scorer: ReplayScorer): Promise<void> {
    const open = [...this.#ranges].filter(([key, r]) => this.#committed.get(key)! < r.end).map(([key, r]) => ({ tp: r.tp, start: this.#committed.get(key)!, end: r.end }));
    const k = this.o.config.kafka;
    const reader = new PartitionRangeReader(this.deps.client, open, { maxWaitMs: k.fetchMaxWaitMs, maxBytes: k.fetchMaxBytes, maxBytesPerPartition: k.fetchMaxBytesPerPartition });
    let txnStartedMs = 0;
    try {
      while (!this.#stopRequested) {
        const batches = await reader.next();
        if (!batches) break;
        const out: OutgoingRecord[] = [];
        for (const b of batches) {
          const key = partitionKey(b.tp);
          const kept = b.records.filter((r) => inTimeRange(this.#ranges.get(key)!, r.timestampMs));
          const scored = await scorer.score(b.tp, kept);
          const st = this.#pending.get(key) ?? noStats();
          this.#pending.set(key, st);
          st.records += kept.length;
          st.skippedByTime += b.records.length - kept.length;
          st.scored += scored.scored;
          st.deadLettered += scored.deadLettered;
          st.alerts += scored.alerts;
          out.push(...scored.records);
          this.#read.set(key, b.nextOffset);
        }
        txnStartedMs ||= Date.now();
        await writer.send(out);
        if (Date.now() - txnStartedMs >= COMMIT_INTERVAL_MS || writer.transactionBytes >= MAX_TRANSACTION_BYTES) {
          await this.#commit(writer);
          txnStartedMs = 0;
        }
        this.#progress();
        await this.#throttle();
      }
      await this.#commit(writer);
      this.#progress();
    } catch (err) {
      await writer.abort().catch(() => {});
      throw err;
    } finally {
      await reader.close();
    }
  }

  /** Commits the open transaction with every partition's read position (and its range, again: a commit replaces the metadata). */
  async #commit(writer: TransactionalWriter): Promise<void> {
    const moved = [...this.#read].filter(([key, offset]) => offset !== this.#committed.get(key));
    if (!moved.length && !writer.inTransaction) return;
    await writer.commit(this.groupId, moved.map(([key, offset]) => {
      const range = this.#ranges.get(key)!;
      return { tp: range.tp, offset, metadata: encodeRange(range, this.#target) };
    }));
    for (const [key, offset] of moved) this.#committed.set(key, offset);
    // Failures count in a row: a long replay rides out any number of separate ones.
    this.#backoff.reset();
    for (const [key, st] of this.#pending) {
      const total = this.#stats.get(key) ?? noStats();
      for (const f of Object.keys(st) as (keyof Stats)[]) total[f] += st[f];
      this.#stats.set(key, total);
    }
    this.#pending.clear();
  }

  #records(): number {
    let n = 0;
    for (const m of [this.#stats, this.#pending]) for (const st of m.values()) n += st.records + st.skippedByTime;
    return n;
  }

  #progress(): void {
    let done = 0n;
    let total = 0n;
    for (const [key, r] of this.#ranges) {
      done += this.#read.get(key)! - r.start;
      total += r.end - r.start;
    }
    this.deps.onProgress?.({ records: this.#records(), done, total, elapsedMs: Date.now() - this.#started });
  }

  /** --max-rate: waits until the records read so far are within the rate. */
  async #throttle(): Promise<void> {
    const rate = this.o.maxRatePerSecond;
    if (!rate) return;
    const aheadMs = (this.#records() / rate) * 1000 - (Date.now() - this.#started);
    if (aheadMs > 0) await delay(Math.min(aheadMs, 1_000));
  }

  #summary(scoring: Scoring, resumed: boolean, resumedAt: Map<string, bigint>): ReplaySummary {
    const seconds = (Date.now() - this.#started) / 1000;
    const partitions: PartitionSummary[] = [...this.#ranges].map(([key, r]) => ({
      topic: r.tp.topic, partition: r.tp.partition, start: r.start.toString(), end: r.end.toString(),
      resumedAt: resumedAt.get(key)!.toString(), position: this.#committed.get(key)!.toString(),
      ...(({ alerts: _alerts, ...st }) => st)(this.#stats.get(key) ?? noStats()),
    }));
    const sum = (f: keyof Stats) => [...this.#stats.values()].reduce((a, st) => a + st[f], 0);
    const records = sum('records');
    const info = scoring.model.info;
    const complete = [...this.#ranges].every(([key, r]) => this.#committed.get(key)! >= r.end);
    return {
      replayId: this.o.id, pipeline: this.o.pipeline.name, model: { name: info.name, version: info.version }, output: this.output,
      transactionalId: this.groupId, groupId: this.groupId, resumed,
      complete,
      interrupted: this.#stopRequested && !complete,
      partitions, records, scored: sum('scored'), deadLettered: sum('deadLettered'), alerts: sum('alerts'), skippedByTime: sum('skippedByTime'),
      seconds, ratePerSecond: seconds > 0 ? records / seconds : 0,
    };
  }
}
