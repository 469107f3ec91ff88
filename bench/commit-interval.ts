/**
 * npm run bench:interval [-- --intervals 0,10,25,50] [-- --producers 1,2,4] [-- --rates 500,2000,20000] [-- --seconds S]
 * The table delivery.commitIntervalMs's default is chosen from: for each interval, exactly-once
 * end-to-end latency (p50 / p99) at each offered rate (500/s and 2,000/s unless --rates), and the maximum exactly-once rate
 * (with peak RSS) draining a backlog. A longer interval means fewer transactions (throughput, broker load)
 * and a longer wait for a record that arrives just after one opened (latency).
 */
import '../src/kafka/kafkajs-fixes.js';
import { parseArgs } from 'node:util';
import { clientsFor } from '../src/cli/endpoints.js';
import { stackDown, stackUp } from '../src/devstack/stack.js';
import { produceLoad } from '../src/loadgen/load-producer.js';
import { createTopicsAndWait } from '../src/kafka/admin.js';
import { uniqueName } from '../test/support/read.js';
import { PARTITIONS } from './common.js';
import type { RunSettings } from './service-config.js';
import { type Cluster, drainBacklog, latencyAtLoad } from './streamscore-runs.js';

const { values } = parseArgs({ options: { intervals: { type: 'string', default: '0,10,25,50,100' }, seconds: { type: 'string', default: '10' }, records: { type: 'string', default: '100000' }, producers: { type: 'string' }, rates: { type: 'string', default: '500,2000' } } });
const rates = values.rates!.split(',').map(Number);
const intervals = values.intervals!.split(',').map(Number);
// delivery.producers to try with each interval (the service's default when not given).
const producerCounts: (number | undefined)[] = values.producers ? values.producers.split(',').map(Number) : [undefined];
const seconds = Number(values.seconds);
const records = Number(values.records);
const log = (l: string) => process.stderr.write(`${l}\n`);

const stack = await stackUp((l) => log(`  ${l}`));
const { kafka: client, registry } = clientsFor(stack, 'bench-interval');
const admin = client.raw.admin();
await admin.connect();
const c: Cluster = { client, kafka: client.raw, admin, registry, brokers: stack.kafkaBrokers, registryUrl: stack.schemaRegistryUrl };
const rows: string[] = [];
try {
  const input = uniqueName('bench-interval');
  await createTopicsAndWait(admin, [{ topic: input, numPartitions: PARTITIONS }]);
  await produceLoad(client, registry, { scenario: 'fraud', topic: input, partitions: PARTITIONS, rate: 0, count: records, format: 'avro', poisonRate: 0, seed: 13, runId: input });
  for (const commitIntervalMs of intervals) for (const producers of producerCounts) {
    const s: RunSettings = { delivery: 'exactly-once', maxBatchSize: 256, maxQueueDelayMs: 5, commitIntervalMs, producers };
    const drain = await drainBacklog(c, input, records, s);
    const points = [];
    for (const rate of rates) points.push(await latencyAtLoad(c, rate, { warmUpSeconds: 3, seconds }, s));
    const row = `| ${commitIntervalMs} | ${producers ?? 'default'} | ${points.map((p) => `${p.p50Ms} / ${p.p99Ms}`).join(' | ')} | ${drain.perSec} | ${drain.peakRssMb} |`;
    log(row);
    rows.push(row);
  }
  await admin.deleteTopics({ topics: [input] }).catch(() => {});
} finally {
  await admin.disconnect();
  await stackDown({ kafka: stack.startedKafka, registry: stack.startedRegistry });
}
const rateColumns = rates.map((r, i) => `${i === 0 ? 'exactly-once p50 / p99 ms at ' : 'at '}${r.toLocaleString('en-US')}/s`);
process.stdout.write(['', `| commitIntervalMs | producers | ${rateColumns.join(' | ')} | max events/s | peak RSS MB |`, `|${' --- |'.repeat(rates.length + 4)}`, ...rows, ''].join('\n'));
