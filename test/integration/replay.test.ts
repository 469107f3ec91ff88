import fs from 'node:fs';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { Admin } from 'kafkajs';
import { createRegistryClient } from '../../src/codec/schema-registry.js';
import { DEFAULTS } from '../../src/config/defaults.js';
import { KafkaClient } from '../../src/kafka/client.js';
import { produceLoad } from '../../src/loadgen/load-producer.js';
import { Service } from '../../src/pipeline/service.js';
import { REPLAY_ID_HEADER } from '../../src/replay/replay-scorer.js';
import type { ReplaySummary } from '../../src/replay/summary.js';
import { HEADER } from '../../src/sink/output-records.js';
import { waitFor } from '../../src/util/wait.js';
import { kafkaBrokers, kafkaForSuite, readAll, schemaRegistryUrl } from '../support/kafka.js';
import type { ReadRecord } from '../support/read.js';
import { avroEncoder, createFraudTopics, decodeOutput, fraudConfig, goldenEvents, produce, repo, startService, type FraudTopics } from '../support/pipeline-fixtures.js';
import { ReplayProcess, writeConfig } from '../support/replay-process.js';

const SCORED_SCHEMA = repo('schemas/scored-transaction.avsc');
const V2_MODEL = repo('models/fraud-v2.onnx');

/** Generated card transactions (the demo's generator), `poisonRate` of them undecodable. */
async function generate(topic: string, partitions: number, count: number, seed: number, poisonRate = 0) {
  const client = new KafkaClient({ ...DEFAULTS.kafka, brokers: kafkaBrokers(), clientId: 'replay-test' }, pino({ level: 'silent' }));
  return produceLoad(client, createRegistryClient({ url: schemaRegistryUrl() }), {
    scenario: 'fraud', topic, partitions, rate: 0, count, format: 'avro', poisonRate, seed, runId: `seed${seed}-${Date.now().toString(36)}`,
  });
}

/** The group's committed offsets are the input's end offsets (false while a transaction's offsets are pending). */
async function committedEqualsEnd(admin: Admin, group: string, topic: string): Promise<boolean> {
  try {
    const ends = await admin.fetchTopicOffsets(topic);
    const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    const at = new Map(committed!.partitions.map((p) => [p.partition, p.offset]));
    return ends.every((e) => at.get(e.partition) === e.high);
  } catch (err) {
    if ((err as { type?: string }).type === 'UNSTABLE_OFFSET_COMMIT') return false;
    throw err;
  }
}

/** How far the replay's group has committed, summed over partitions (offsets past each range's start). */
async function replayProgress(admin: Admin, group: string, topic: string): Promise<number> {
  try {
    const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    return committed!.partitions.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
  } catch (err) {
    if ((err as { type?: string }).type === 'UNSTABLE_OFFSET_COMMIT') return -1;
    throw err;
  }
}

const header = (m: ReadRecord, name: string) => m.headers?.[name]?.toString();

/** Scored records by source position. */
function bySource(records: ReadRecord[]): Map<string, Record<string, unknown>> {
  return new Map(records.map((m) => [header(m, HEADER.source)!, decodeOutput(SCORED_SCHEMA, m)]));
}

const { kafka: testKafka, admin } = kafkaForSuite();

async function scoreLive(t: FraudTopics): Promise<void> {
  const service = await startService(fraudConfig(t));
  try {
    await waitFor(() => committedEqualsEnd(admin, t.group, t.input), { timeoutMs: 90_000, what: `the live pipeline to commit ${t.input}` });
  } finally {
    await service.close();
  }
}

describe('streamscore replay', () => {
  const running: ReplayProcess[] = [];
  afterAll(() => { for (const p of running) p.kill('SIGKILL'); });

  it('replays 20,000 generated events with the live model: 100 % score agreement, one output per input', async () => {
    const t = await createFraudTopics(admin, 3);
    const n = 20_000;
    const load = await generate(t.input, 3, n, 11, 0.001);
    await scoreLive(t);
    const summary = await ReplayProcess.run(['--config', writeConfig(fraudConfig(t), 'replay-live'), '--pipeline', 'fraud', '--id', 'same-model', '--compare'], 'replay-live');

    expect(summary).toMatchObject({ complete: true, resumed: false, records: n, deadLettered: load.poisoned, scored: n - load.poisoned, output: `${t.scored}.replay` });
    expect(summary.groupId).toBe(`${t.group}-replay-same-model`);
    expect(summary.compare).toMatchObject({ compared: n - load.poisoned, missingLive: 0, agreement: 1 });
    expect(summary.compare!.maxAbsDelta).toBeLessThanOrEqual(1e-6);
    expect(summary.compare!.confusion.liveOnly + summary.compare!.confusion.replayOnly).toBe(0);
    expect(summary.compare!.confusion.bothAlert).toBeGreaterThan(0);

    // Independently, read_committed: one scored record or one dead letter per input position.
    const scored = await readAll(testKafka, `${t.scored}.replay`);
    const dead = (await readAll(testKafka, t.dlq)).filter((m) => header(m, REPLAY_ID_HEADER) === 'same-model');
    const positions = [...scored.map((m) => header(m, HEADER.source)!), ...dead.map((m) => `${header(m, HEADER.sourceTopic)}/${header(m, HEADER.sourcePartition)}/${header(m, HEADER.sourceOffset)}`)];
    expect(scored).toHaveLength(n - load.poisoned);
    expect(dead).toHaveLength(load.poisoned);
    expect(new Set(positions)).toEqual(new Set(load.sent.keys()));
    expect(scored.every((m) => header(m, REPLAY_ID_HEADER) === 'same-model')).toBe(true);
  });

  it.skipIf(!fs.existsSync(V2_MODEL))('replays with models/fraud-v2.onnx: the confusion matrix equals a recount from the two topics', async () => {
    const t = await createFraudTopics(admin, 3);
    const n = 5_000;
    await generate(t.input, 3, n, 12);
    await scoreLive(t);
    const output = `${t.scored}.v2`;
    const summary = await ReplayProcess.run(['--config', writeConfig(fraudConfig(t), 'replay-v2'), '--pipeline', 'fraud', '--id', 'v2', '--model', V2_MODEL, '--output', output, '--compare'], 'replay-v2');
    expect(summary.model).toEqual({ name: 'fraud-gbdt', version: '2.0.0' });
    expect(summary.records).toBe(n);

    const live = bySource(await readAll(testKafka, t.scored));
    const replay = bySource(await readAll(testKafka, output));
    const recount = { bothAlert: 0, liveOnly: 0, replayOnly: 0, neither: 0 };
    let maxDelta = 0;
    for (const [source, r] of replay) {
      const l = live.get(source)!;
      expect(r.model).toEqual({ name: 'fraud-gbdt', version: '2.0.0' });
      maxDelta = Math.max(maxDelta, Math.abs((l.score as number) - (r.score as number)));
      if (l.alert && r.alert) recount.bothAlert++;
      else if (l.alert) recount.liveOnly++;
      else if (r.alert) recount.replayOnly++;
      else recount.neither++;
    }
    expect(replay.size).toBe(n);
    expect(summary.compare!.confusion).toEqual(recount);
    expect(summary.compare!.compared).toBe(n);
    expect(summary.compare!.maxAbsDelta).toBeCloseTo(maxDelta, 12);
    // Another model: the scores differ, so the comparison measured something.
    expect(summary.compare!.agreement).toBeLessThan(1);
  });

  it('kill -9 halfway, then the same command: exactly one output per input; the live pipeline neither rebalances nor is fenced', async () => {
    const t = await createFraudTopics(admin, 3);
    const n = 10_000;
    const load = await generate(t.input, 3, n, 13);
    const lines: string[] = [];
    const config = fraudConfig(t);
    const service = new Service({ config, logger: pino({ level: 'info' }, new Writable({ write(c, _e, done) { lines.push(c.toString()); done(); } })), registry: new Registry(), http: false });
    await service.start();
    try {
      await waitFor(() => committedEqualsEnd(admin, t.group, t.input), { timeoutMs: 90_000, what: 'the live pipeline to commit the first events' });
      // The input was empty before: partition p's first events are offsets 0 … count - 1.
      const range = [0, 1, 2].map((p) => `${p}:${[...load.sent.keys()].filter((k) => k.startsWith(`${t.input}/${p}/`)).length}`).join(',');
      // New traffic for the live pipeline all along; the replay's --to pins its range to the first n.
      let producing = true;
      const traffic = (async () => {
        for (let seed = 100; producing; seed++) await generate(t.input, 3, 200, seed);
      })();
      const args = ['--config', writeConfig(config, 'replay-kill'), '--pipeline', 'fraud', '--id', 'kill9', '--to', range, '--max-rate', '2500', '--json'];
      const group = `${t.group}-replay-kill9`;
      const first = ReplayProcess.start(args, 'replay-kill-a');
      running.push(first);
      await waitFor(async () => {
        const done = await replayProgress(admin, group, t.input);
        return done > 0 && done < n;
      }, { timeoutMs: 60_000, intervalMs: 50, what: 'the replay to commit part of its range' });
      first.kill('SIGKILL');
      expect((await first.exited()).signal).toBe('SIGKILL');
      const partial = await replayProgress(admin, group, t.input);
      expect(partial).toBeLessThan(n);

      const second = ReplayProcess.start(args, 'replay-kill-b');
      running.push(second);
      const { code } = await second.exited();
      expect(code, second.log()).toBe(0);
      const summary = JSON.parse(second.stdout) as ReplaySummary;
      expect(summary).toMatchObject({ resumed: true, complete: true });
      expect(summary.records).toBe(n - partial);

      producing = false;
      await traffic;
      await waitFor(() => committedEqualsEnd(admin, t.group, t.input), { timeoutMs: 90_000, what: 'the live pipeline to commit the new traffic' });
      const fenced = (await service.metrics.transactions.get()).values.filter((v) => v.labels.result === 'fenced').reduce((a, v) => a + v.value, 0);
      expect(fenced).toBe(0);
      const logged = lines.map((l) => JSON.parse(l) as { msg: string });
      expect(logged.filter((l) => l.msg === 'partitions assigned')).toHaveLength(1);
      expect(logged.filter((l) => /revoked|rebalanc|crashed/i.test(l.msg))).toEqual([]);
    } finally {
      await service.close();
    }
    const out = (await readAll(testKafka, `${t.scored}.replay`)).filter((m) => header(m, REPLAY_ID_HEADER) === 'kill9');
    const sources = out.map((m) => header(m, HEADER.source)!);
    expect(out).toHaveLength(n);
    expect(new Set(sources)).toEqual(new Set(load.sent.keys()));
  });

  it('--from and --to as times pick exactly the records whose timestamps fall in the range', async () => {
    const t = await createFraudTopics(admin, 2);
    const golden = goldenEvents('fraud').map((g) => g.event);
    const { encode } = await avroEncoder(t.input);
    const base = Date.now() - 3_600_000;
    // 300 records a second apart on each partition; the one at offset 150 of partition 1 is
    // stamped before the range: inside the offsets the range resolves to, outside its time.
    const stamp = (p: number, i: number) => (p === 1 && i === 150 ? base + 10_000 : base + i * 1000);
    for (const p of [0, 1]) {
      await produce(testKafka, t.input, Array.from({ length: 300 }, (_, i) => ({
        partition: p, key: `k${i}`, value: encode({ ...golden[i % golden.length]!, transactionId: `p${p}-${i}` }), timestamp: String(stamp(p, i)),
      })));
    }
    const from = new Date(base + 100_000).toISOString();
    const to = new Date(base + 200_000).toISOString();
    const summary = await ReplayProcess.run(['--config', writeConfig(fraudConfig(t), 'replay-time'), '--pipeline', 'fraud', '--id', 'by-time', '--from', from, '--to', to], 'replay-time');

    const expected = new Set<string>();
    for (const p of [0, 1]) for (let i = 0; i < 300; i++) if (stamp(p, i) >= base + 100_000 && stamp(p, i) < base + 200_000) expected.add(`${t.input}/${p}/${i}`);
    expect(expected.size).toBe(199);
    expect(summary).toMatchObject({ complete: true, records: 199, scored: 199, skippedByTime: 1 });
    expect(summary.partitions.map((p) => [p.start, p.end])).toEqual([['100', '200'], ['100', '200']]);
    const out = await readAll(testKafka, `${t.scored}.replay`);
    expect(new Set(out.map((m) => header(m, HEADER.source)!))).toEqual(expected);
    expect(out).toHaveLength(199);
  });

  it('a replay continued with another --output or --model is refused, naming what it was started with', async () => {
    const t = await createFraudTopics(admin, 1);
    const golden = goldenEvents('fraud').map((g) => g.event);
    const { encode } = await avroEncoder(t.input);
    await produce(testKafka, t.input, golden.slice(0, 20).map((e, i) => ({ partition: 0, key: `k${i}`, value: encode(e) })));
    const config = writeConfig(fraudConfig(t), 'replay-target');
    const first = await ReplayProcess.run(['--config', config, '--pipeline', 'fraud', '--id', 'target'], 'replay-target');
    expect(first).toMatchObject({ complete: true, records: 20 });
    for (const other of [['--output', `${t.scored}.elsewhere`], ['--model', V2_MODEL]]) {
      const again = ReplayProcess.start(['--config', config, '--pipeline', 'fraud', '--id', 'target', ...other], 'replay-target-again');
      expect((await again.exited()).code).not.toBe(0);
      expect(again.log()).toContain(`replay 'target' was started writing to ${t.scored}.replay with the model ${repo('models/fraud.onnx')}`);
    }
    // Nothing more was written: the refused runs stopped before reading.
    expect(await readAll(testKafka, `${t.scored}.replay`)).toHaveLength(20);
  });
});
