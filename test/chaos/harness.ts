import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Admin, Kafka, Message } from 'kafkajs';
import type { SchemaRegistryClient } from '../../src/codec/schema-registry.js';
import { parseConfig } from '../../src/config/load.js';
import type { KafkaConfig, StreamscoreConfig } from '../../src/config/types.js';
import { paths } from '../../src/devstack/paths.js';
import { type LoadOptions, type LoadResult, type SentRecord, produceLoad } from '../../src/loadgen/load-producer.js';
import { HEADER } from '../../src/sink/output-records.js';
import { createTopicsAndWait } from '../../src/kafka/admin.js';
import type { KafkaClient } from '../../src/kafka/client.js';
import { waitFor } from '../../src/util/wait.js';
import { repo } from '../support/paths.js';
import { readAll, uniqueName } from '../support/read.js';
import { ServiceProcess } from '../support/service-process.js';

export const PARTITIONS = 12;
/** The broker's transaction.abort.timed.out.transaction.cleanup.interval.ms (its default; the dev stack keeps it). */
const BROKER_ABORT_CHECK_MS = 10_000;
const execFileAsync = promisify(execFile);

export interface ChaosOptions {
  quick: boolean;
  /** The port's client, for what src/ offers (the load producer); `kafka` is its raw kafkajs. */
  client: KafkaClient;
  kafka: Kafka;
  admin: Admin;
  registry: SchemaRegistryClient;
  brokers: string[];
  registryUrl: string;
  /** Whether this run owns the broker process (scenario 5 restarts it). */
  ownsBroker: boolean;
  /** Service Kafka settings a scenario needs changed (broker-stall lowers the request timeout). */
  serviceKafka?: Partial<Omit<KafkaConfig, 'brokers'>>;
  /** Pipeline settings a scenario needs changed, merged over the fraud pipeline below. */
  pipeline?: Record<string, unknown>;
  log: (line: string) => void;
}

export interface ScenarioResult {
  scenario: string;
  in: number;
  out: number;
  missing: number;
  duplicated: number;
  deadLettered: number;
  poisonExpected: number;
  deadLetterMismatches: number;
  reorders: number;
  committedOffsetsOk: boolean;
  openTransactions: number;
  notes: string[];
  seconds: number;
  passed: boolean;
}

/** One scenario's world: its own topics and group, the instances it runs, what it sent. */
export class ChaosRun {
  readonly topics: { input: string; scored: string; alerts: string; dlq: string; group: string };
  readonly sent = new Map<string, SentRecord>();
  readonly instances: ServiceProcess[] = [];
  readonly notes: string[] = [];
  readonly config: StreamscoreConfig;
  private seed = 1;

  constructor(readonly name: string, readonly opts: ChaosOptions) {
    const base = uniqueName(`chaos-${name}`);
    this.topics = { input: base, scored: `${base}.scored`, alerts: `${base}.alerts`, dlq: `${base}.dlq`, group: `${base}-g` };
    this.config = parseConfig(JSON.stringify({
      kafka: { brokers: opts.brokers, clientId: `chaos-${name}`, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1_000, rebalanceTimeoutMs: 20_000, ...opts.serviceKafka },
      schemaRegistry: { url: opts.registryUrl },
      http: { port: 0, host: '127.0.0.1' },
      pipelines: [{
        name: 'fraud', inputs: [this.topics.input], groupId: this.topics.group, codec: 'avro',
        readerSchema: repo('schemas/card-transaction.avsc'), model: { path: repo('models/fraud.onnx') },
        features: { columns: { hourOfDay: { from: 'eventTime', transform: 'hourOfDayUtc' } } },
        batching: { maxBatchSize: 256, maxQueueDelayMs: 5 },
        outputs: {
          scored: { topic: this.topics.scored, schema: repo('schemas/scored-transaction.avsc') },
          alerts: { topic: this.topics.alerts, schema: repo('schemas/fraud-alert.avsc') },
          deadLetter: { topic: this.topics.dlq },
        },
        ...opts.pipeline,
      }],
    }), { env: {} });
  }

  async createTopics(): Promise<void> {
    const { input, scored, alerts, dlq } = this.topics;
    await createTopicsAndWait(this.opts.admin, [input, scored, alerts, dlq].map((topic) => ({ topic, numPartitions: PARTITIONS })));
  }

  start(label: string, env: NodeJS.ProcessEnv = {}): ServiceProcess {
    const instance = ServiceProcess.start(this.config, `chaos-${this.name}-${label}`, env);
    this.instances.push(instance);
    this.opts.log(`  start ${label} (pid ${instance.pid})`);
    return instance;
  }

  /** Produces keyed fraud events at a steady rate, remembering each one's offset. */
  feed(count: number, rate: number, poisonRate = 0.002): Promise<LoadResult> {
    const load: LoadOptions = {
      scenario: 'fraud', topic: this.topics.input, partitions: PARTITIONS, rate, count, format: 'avro', poisonRate,
      seed: this.seed++, runId: `${this.name}-${this.seed}`, sent: this.sent,
    };
    return produceLoad(this.opts.client, this.opts.registry, load);
  }

  /** Sends ready-made records, each expected to be dead-lettered with `code`. */
  async sendPoison(records: { key: string; value: Buffer }[], code: string): Promise<void> {
    const producer = this.opts.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const partition = 0;
    const messages: Message[] = records.map((r) => ({ ...r, partition, timestamp: String(Date.now()) }));
    const [meta] = await producer.send({ topic: this.topics.input, messages, acks: -1 });
    const base = BigInt(meta!.baseOffset ?? '0');
    messages.forEach((_, i) => this.sent.set(`${this.topics.input}/${partition}/${base + BigInt(i)}`, { sentAtMs: Date.now(), positive: false, poison: code as SentRecord['poison'] }));
    await producer.disconnect();
  }

  async committedEqualsEnd(): Promise<boolean> {
    const ends = await this.opts.admin.fetchTopicOffsets(this.topics.input);
    const [committed] = await this.opts.admin.fetchOffsets({ groupId: this.topics.group, topics: [this.topics.input] });
    const byPartition = new Map(committed!.partitions.map((p) => [p.partition, p.offset]));
    return ends.every((e) => byPartition.get(e.partition) === e.high);
  }

  /** The group's committed lag on the input (end − committed, summed) and how many offsets it has committed. */
  async groupLag(): Promise<{ lag: number; committed: number }> {
    const ends = await this.opts.admin.fetchTopicOffsets(this.topics.input);
    const [group] = await this.opts.admin.fetchOffsets({ groupId: this.topics.group, topics: [this.topics.input] });
    // -1 means nothing committed yet on that partition: all of it is lag.
    const byPartition = new Map(group!.partitions.map((p) => [p.partition, Math.max(0, Number(p.offset))]));
    let lag = 0;
    let committed = 0;
    for (const e of ends) {
      const at = byPartition.get(e.partition) ?? 0;
      committed += at;
      lag += Number(e.high) - at;
    }
    return { lag, committed };
  }

  /** Lets the running instances finish the input, then stops them all cleanly. */
  async settle(timeoutMs = 120_000): Promise<void> {
    if (!this.instances.some((i) => i.running)) this.start('settler');
    await waitFor(() => this.committedEqualsEnd(), { timeoutMs, intervalMs: 250, what: 'every input offset to be committed' });
    for (const i of this.instances) if (i.running) i.signal('SIGTERM');
    for (const i of this.instances) await i.exit(60_000).catch(() => i.kill());
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.instances.map((i) => i.kill()));
  }

  /** The checks of Kafka's TransactionsTest, with an independent read_committed reader. */
  async verify(started: number, extraPass = true): Promise<ScenarioResult> {
    const { kafka } = this.opts;
    // Reading to the high watermark under read_committed only finishes if no transaction is left open.
    const [scored, dead] = await Promise.all([readAll(kafka, this.topics.scored, 60_000), readAll(kafka, this.topics.dlq, 60_000)]);
    const outputs = new Map<string, number>();
    const where = new Map<string, string[]>();
    const count = (source: string, at = '') => {
      outputs.set(source, (outputs.get(source) ?? 0) + 1);
      where.set(source, [...(where.get(source) ?? []), at]);
    };
    let reorders = 0;
    const lastByKey = new Map<string, bigint>();
    for (const partition of [...new Set(scored.map((m) => m.partition))]) {
      for (const m of scored.filter((r) => r.partition === partition).sort((a, b) => Number(BigInt(a.offset) - BigInt(b.offset)))) {
        const source = String(m.headers?.[HEADER.source]);
        count(source, `scored/${m.partition}/${m.offset}@${m.timestamp}`);
        const key = m.key?.toString() ?? '';
        const offset = BigInt(source.split('/')[2]!);
        if ((lastByKey.get(key) ?? -1n) > offset) reorders++;
        lastByKey.set(key, offset);
      }
    }
    let deadLetterMismatches = 0;
    for (const m of dead) {
      const source = `${m.headers?.[HEADER.sourceTopic]}/${m.headers?.[HEADER.sourcePartition]}/${m.headers?.[HEADER.sourceOffset]}`;
      count(source);
      if (this.sent.get(source)?.poison !== String(m.headers?.[HEADER.errorCode])) deadLetterMismatches++;
    }
    let missing = 0;
    let duplicated = 0;
    let poisonExpected = 0;
    for (const [source, input] of this.sent) {
      const n = outputs.get(source) ?? 0;
      if (n === 0) missing++;
      if (n > 1) {
        duplicated += n - 1;
        if (duplicated <= 5) this.notes.push(`duplicate ${source} at ${where.get(source)!.join(', ')}`);
      }
      if (input.poison) poisonExpected++;
    }
    const committedOffsetsOk = await this.committedEqualsEnd();
    const openTransactions = await this.openTransactionsOnceSettled();
    const result: ScenarioResult = {
      scenario: this.name, in: this.sent.size, out: scored.length + dead.length, missing, duplicated, deadLettered: dead.length, poisonExpected,
      deadLetterMismatches, reorders, committedOffsetsOk, openTransactions, notes: this.notes, seconds: +((Date.now() - started) / 1000).toFixed(1), passed: false,
    };
    result.passed = extraPass && missing === 0 && duplicated === 0 && deadLetterMismatches === 0 && dead.length === poisonExpected
      && reorders === 0 && committedOffsetsOk && openTransactions === 0;
    return result;
  }

  /**
   * A transaction of an instance killed by -9 stays Ongoing at the coordinator until it times out
   * (kafka.transactionTimeoutMs) and the broker's abort check runs (every 10 s by default); if it
   * held no offsets and no record on the scored topic, nothing above waited for that. So such
   * transactions are waited out for that bound; any other open one fails at once.
   */
  private async openTransactionsOnceSettled(): Promise<number> {
    const abrupt = this.instances.filter((i) => i.endedAbruptly).map((i) => i.pid);
    const ofAbrupt = (id: string) => abrupt.some((pid) => id.includes(`-${pid}-`));
    const bound = this.config.kafka.transactionTimeoutMs + BROKER_ABORT_CHECK_MS + 10_000;
    const started = Date.now();
    let open = await this.openTransactionIds();
    while (open.length > 0 && open.every(ofAbrupt) && Date.now() - started < bound) {
      await new Promise((r) => setTimeout(r, 1_000));
      open = await this.openTransactionIds();
    }
    const waited = Date.now() - started;
    if (waited > 1_500) this.notes.push(`waited ${(waited / 1000).toFixed(0)} s for the coordinator to abort the transaction of an instance that was killed`);
    for (const id of open) this.notes.push(`open transaction ${id}${ofAbrupt(id) ? ' (of a killed instance)' : ''}`);
    return open.length;
  }

  /** Kafka's own tool lists the transactional ids in an open state; ours must have none. */
  private async openTransactionIds(): Promise<string[]> {
    const tool = await execFileAsync('java', ['-cp', `${paths.kafkaLibs}/*`, 'org.apache.kafka.tools.TransactionsCommand', '--bootstrap-server', this.opts.brokers[0]!, 'list'], { encoding: 'utf8' })
      .catch(() => undefined);
    if (!tool) {
      this.notes.push('TransactionsCommand unavailable; open transactions checked by read_committed alone');
      return [];
    }
    const ours = `streamscore-${this.topics.group}-`;
    return tool.stdout.split('\n').filter((l) => l.includes(ours) && /\b(Ongoing|PrepareCommit|PrepareAbort)\b/.test(l))
      .map((l) => l.trim().split(/\s+/)[0]!);
  }
}
