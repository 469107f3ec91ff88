import fs from 'node:fs';
import { avroType } from '../../src/codec/avro-types.js';
import { kafkaProcess, startKafka, waitForKafka } from '../../src/devstack/kafka.js';
import { runningPid } from '../../src/devstack/process.js';
import { transactionGenerator } from '../../src/loadgen/fraud.js';
import { waitFor } from '../../src/util/wait.js';
import { repo } from '../support/paths.js';
import type { ServiceProcess } from '../support/service-process.js';
import { procState } from './broker-control.js';
import { brokerStall } from './broker-stall.js';
import type { ChaosOptions, ChaosRun } from './harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Scenario {
  name: string;
  quick: boolean;
  /** Service Kafka settings this scenario's fault depends on. */
  kafka?: ChaosOptions['serviceKafka'];
  pipeline?: ChaosOptions['pipeline'];
  /** Injects its fault while records flow; returns false if a scenario-specific check failed. */
  run(run: ChaosRun, size: { records: number; rate: number }): Promise<boolean>;
}

function pickRunning(run: ChaosRun): ServiceProcess | undefined {
  const running = run.instances.filter((i) => i.running);
  return running[Math.floor(Math.random() * running.length)];
}

export const SCENARIOS: Scenario[] = [
  {
    name: 'kill9-random',
    quick: true,
    async run(run, { records, rate }) {
      run.start('a'); run.start('b'); run.start('c');
      await Promise.all(run.instances.map((i) => i.waitForLog('running')));
      const feeding = run.feed(records, rate);
      const kills = run.opts.quick ? 2 : 5;
      const spacing = (records / rate) * 1000 / (kills + 1);
      for (let k = 1; k <= kills; k++) {
        await sleep(spacing * (0.5 + Math.random()));
        const victim = pickRunning(run);
        if (!victim) continue;
        victim.signal('SIGKILL');
        await victim.exit();
        run.notes.push(`kill -9 pid ${victim.pid}`);
        run.start(`r${k}`);
      }
      await feeding;
      return true;
    },
  },
  {
    name: 'kill9-in-transaction',
    quick: false,
    async run(run, { records, rate }) {
      run.start('steady');
      const points = ['after-send', 'after-offsets', 'during-commit'] as const;
      const feeding = run.feed(records, rate);
      let done = false;
      void feeding.finally(() => { done = true; });
      for (let k = 0; !done && k < 9; k++) {
        const point = points[k % points.length]!;
        const victim = run.start(`hook-${point}-${k}`, { STREAMSCORE_CHAOS_KILL_AT: point, STREAMSCORE_CHAOS_KILL_AFTER: String(2 + Math.floor(Math.random() * 6)) });
        // It dies by its own hand at the chosen point of a transaction.
        await victim.exit(60_000).catch(() => victim.kill());
        run.notes.push(`self-kill ${point}`);
      }
      await feeding;
      return true;
    },
  },
  {
    name: 'zombie-pause',
    quick: true,
    async run(run, { records, rate }) {
      // The zombie freezes itself mid-transaction (offsets sent, records and EndTxn not yet),
      // so when it wakes it is sure to try to commit what the group has given to another.
      const zombie = run.start('zombie', { STREAMSCORE_CHAOS_STOP_AT: 'after-offsets', STREAMSCORE_CHAOS_STOP_AFTER: '20' });
      const other = run.start('other');
      await Promise.all([zombie.waitForLog('running'), other.waitForLog('running')]);
      const feeding = run.feed(records, rate);
      await waitFor(() => procState(zombie.pid) === 'T', { timeoutMs: 60_000, intervalMs: 20, what: 'the zombie to stop itself mid-transaction' });
      run.notes.push('stopped mid-transaction; SIGCONT after 16 s (session timeout 10 s)');
      // The fault itself is a stretch of time past the session timeout: nothing to await.
      await sleep(16_000);
      zombie.signal('SIGCONT');
      await feeding;
      // The transaction it froze in had its offsets accepted in a generation it was part of:
      // it may commit on waking (the new owner's stable offset read waits for it, and the
      // counts check nothing was scored twice). Its next commit carries a generation the
      // rebalance has moved past and must be refused, unless it rejoined first.
      await zombie.waitForLog('transaction aborted: the group rebalanced', 30_000).then(
        () => run.notes.push('zombie: next commit refused (stale generation)'),
        () => run.notes.push('zombie: rejoined before its next commit'),
      );
      return true;
    },
  },
  {
    name: 'scale-out-in',
    quick: false,
    async run(run, { records, rate }) {
      const first = run.start('first');
      await first.waitForLog('running');
      const feeding = run.feed(records, rate);
      const phase = (records / rate) * 1000 / 4;
      await sleep(phase);
      const extra = [run.start('second'), run.start('third')];
      run.notes.push('1 → 3 instances');
      await sleep(phase * 2);
      for (const e of extra) e.signal('SIGTERM');
      await Promise.all(extra.map((e) => e.exit()));
      run.notes.push('3 → 1');
      await feeding;
      return true;
    },
  },
  {
    name: 'broker-restart',
    quick: false,
    async run(run, { records, rate }) {
      if (!run.opts.ownsBroker) {
        run.notes.push('skipped: the broker is not ours to kill (KAFKA_BROKERS)');
        return true;
      }
      run.start('a'); run.start('b');
      await Promise.all(run.instances.map((i) => i.waitForLog('running')));
      // The backlog is written first, so the instances are mid-stream when the broker dies.
      await run.feed(Math.floor(records / 2), rate * 4);
      await sleep(500);
      const pid = runningPid(kafkaProcess);
      if (pid === undefined) throw new Error('no local broker pid');
      process.kill(pid, 'SIGKILL');
      run.notes.push(`kill -9 broker pid ${pid}`);
      await sleep(3_000);
      await startKafka(() => {});
      await waitForKafka(120_000);
      run.notes.push('broker restarted');
      await run.feed(records - Math.floor(records / 2), rate);
      return true;
    },
  },
  brokerStall,
  {
    name: 'poison',
    quick: true,
    async run(run, { records, rate }) {
      run.start('a'); run.start('b');
      await Promise.all(run.instances.map((i) => i.waitForLog('running')));
      const feeding = run.feed(records, rate, 0.01);
      // A burst of records written with an incompatible schema (amount as a string), under
      // another subject, as a producer with its own idea of the schema would.
      const schema = JSON.parse(fs.readFileSync(repo('schemas/card-transaction.avsc'), 'utf8'));
      schema.fields.find((f: { name: string }) => f.name === 'amount').type = 'string';
      const id = await run.opts.registry.register(`${run.topics.input}-rogue-value`, { schemaType: 'AVRO', schema: JSON.stringify(schema) });
      const type = avroType(schema);
      const next = transactionGenerator(99);
      const header = Buffer.alloc(5);
      header.writeInt32BE(id, 1);
      await sleep(500);
      await run.sendPoison(Array.from({ length: 40 }, () => {
        const { event } = next(Date.now());
        return { key: event.cardId, value: Buffer.concat([header, type.toBuffer({ ...event, amount: String(event.amount) })]) };
      }), 'DECODE_INCOMPATIBLE_SCHEMA');
      run.notes.push('40 records with an incompatible schema, ~1 % poison mixed in');
      await feeding;
      return true;
    },
  },
];
