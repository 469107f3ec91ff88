import { afterAll, describe, expect, it } from 'vitest';
import type { Admin } from 'kafkajs';
import { waitFor } from '../../src/util/wait.js';
import { kafkaForSuite, readAll } from '../support/kafka.js';
import {
  avroEncoder, createFraudTopics, decodeOutput, fraudConfig, goldenEvents, produce, repo, startService, type Event, type FraudTopics,
} from '../support/pipeline-fixtures.js';
import { ServiceProcess } from '../support/service-process.js';

/** Every input partition's committed offset is its end; false while any is not, or while one is pending in an open transaction (offsets are read stable). */
async function committedEqualsEnd(admin: Admin, t: FraudTopics): Promise<boolean> {
  const ends = await admin.fetchTopicOffsets(t.input);
  let committed;
  try {
    [committed] = await admin.fetchOffsets({ groupId: t.group, topics: [t.input] });
  } catch (err) {
    if ((err as { type?: string }).type === 'UNSTABLE_OFFSET_COMMIT') return false;
    throw err;
  }
  const byPartition = new Map(committed!.partitions.map((p) => [p.partition, p.offset]));
  return ends.every((e) => byPartition.get(e.partition) === e.high);
}

/** Input offsets the group has committed, summed over partitions (0 while an offset is pending in an open transaction). */
async function committedSoFar(admin: Admin, t: FraudTopics): Promise<number> {
  try {
    const [committed] = await admin.fetchOffsets({ groupId: t.group, topics: [t.input] });
    return committed!.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
  } catch (err) {
    if ((err as { type?: string }).type === 'UNSTABLE_OFFSET_COMMIT') return 0;
    throw err;
  }
}

function transactionIds(messages: Awaited<ReturnType<typeof readAll>>): string[] {
  return messages.map((m) => decodeOutput(repo('schemas/scored-transaction.avsc'), m).transactionId as string);
}

describe('exactly once through faults', () => {
  const { kafka, admin } = kafkaForSuite();
  const processes: ServiceProcess[] = [];

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.kill()));
  });

  async function events(t: FraudTopics, n: number) {
    const golden = goldenEvents('fraud').map((g) => g.event);
    const { encode } = await avroEncoder(t.input);
    return Array.from({ length: n }, (_, i) => {
      const e: Event = { ...golden[i % golden.length]!, transactionId: `t-${i}` };
      return { key: e.cardId as string, value: encode(e) };
    });
  }

  it('kill -9 of the service mid-stream, then a restart: exactly N outputs, no duplicate', async () => {
    const t = await createFraudTopics(admin, 3);
    const n = 3000;
    const messages = await events(t, n);
    const config = fraudConfig(t);
    const first = ServiceProcess.start(config, 'kill9-a');
    processes.push(first);
    await first.waitForLog('running');
    // Its three partitions taken over (fenced in, offsets read), so the stream below meets a working service.
    await waitFor(() => first.log().split('"msg":"partition taken over"').length > 3, { timeoutMs: 60_000, what: 'the three partitions taken over' });
    // Records keep arriving while the service is killed: the kill comes once it has committed
    // 300, read from the group's offsets (a reader of the output would first have to join a
    // group of its own, seconds in which a fast service can finish everything).
    let produced = 0;
    const producing = (async () => {
      for (let i = 0; i < n; i += 50) {
        await produce(kafka, t.input, messages.slice(i, i + 50));
        produced += 50;
        await new Promise((r) => setTimeout(r, 40));
      }
    })();
    await waitFor(async () => (await committedSoFar(admin, t)) >= 300, { timeoutMs: 60_000, intervalMs: 20, what: 'the first 300 inputs committed' });
    first.signal('SIGKILL');
    expect(await first.exit()).toBe(-1);
    expect(produced).toBeLessThan(n);

    const second = ServiceProcess.start(config, 'kill9-b');
    processes.push(second);
    await producing;
    await waitFor(() => committedEqualsEnd(admin, t), { timeoutMs: 90_000, what: 'the restarted service to commit every input offset' });
    second.signal('SIGTERM');
    expect(await second.exit()).toBe(0);

    const ids = transactionIds(await readAll(kafka, t.scored));
    expect(ids).toHaveLength(n);
    expect(new Set(ids).size).toBe(n);
  });

  it('two instances in one group split the partitions and together give exactly N', async () => {
    const t = await createFraudTopics(admin, 4);
    const n = 2000;
    const config = fraudConfig(t);
    const a = await startService(config);
    const b = await startService(config);
    try {
      await produce(kafka, t.input, await events(t, n));
      await waitFor(() => committedEqualsEnd(admin, t), { timeoutMs: 90_000, what: 'both instances to commit every input offset' });
      await waitFor(() => a.pipelines[0]!.assignedPartitions > 0 && b.pipelines[0]!.assignedPartitions > 0, { timeoutMs: 30_000, what: 'both instances to own partitions' });
      expect(a.pipelines[0]!.assignedPartitions + b.pipelines[0]!.assignedPartitions).toBe(4);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
    const ids = transactionIds(await readAll(kafka, t.scored));
    expect(ids).toHaveLength(n);
    expect(new Set(ids).size).toBe(n);
  });
});
