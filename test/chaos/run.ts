/**
 * The chaos suite: npm run chaos [-- --quick] [-- --only NAME[,NAME]] [-- --runs N] [-- --json FILE]
 * (--scenario NAME is the older spelling of --only).
 * Each scenario runs streamscore processes in one group against the local broker, feeds a
 * known keyed input over 12 partitions, injects its fault while records flow, lets the
 * system settle and verifies with an independent read_committed reader.
 */
import '../../src/kafka/kafkajs-fixes.js';
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { clientsFor } from '../../src/cli/endpoints.js';
import { stackDown, stackUp } from '../../src/devstack/stack.js';
import { ChaosRun, type ScenarioResult } from './harness.js';
import { SCENARIOS } from './scenarios.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false }, only: { type: 'string' }, scenario: { type: 'string' }, runs: { type: 'string', default: '1' }, json: { type: 'string' },
  },
});
const quick = values.quick!;
// --only picks scenarios by name (with --quick, at the quick size); otherwise --quick picks the CI set.
const only = (values.only ?? values.scenario)?.split(',').map((n) => n.trim()).filter(Boolean);
const unknown = only?.filter((n) => !SCENARIOS.some((s) => s.name === n)) ?? [];
const selected = SCENARIOS.filter((s) => (only ? only.includes(s.name) : !quick || s.quick));
if (unknown.length || !selected.length) {
  process.stderr.write(`unknown scenario '${unknown.join(', ')}'; scenarios: ${SCENARIOS.map((s) => s.name).join(', ')}\n`);
  process.exit(2);
}
const size = quick ? { records: 4_000, rate: 800 } : { records: 30_000, rate: 2_000 };
const log = (line: string) => process.stderr.write(`${line}\n`);

const stack = await stackUp((l) => log(`  ${l}`));
const { kafka: client, registry } = clientsFor(stack, 'streamscore-chaos');
const kafka = client.raw;
const admin = kafka.admin();
await admin.connect();
const results: ScenarioResult[] = [];
const suiteStarted = Date.now();
try {
  for (let r = 1; r <= Number(values.runs); r++) {
    for (const scenario of selected) {
      log(`chaos ${scenario.name} (run ${r}, ${size.records} records at ${size.rate}/s, ${quick ? 'quick' : 'full'})`);
      const run = new ChaosRun(scenario.name, {
        quick, client, kafka, admin, registry, brokers: stack.kafkaBrokers, registryUrl: stack.schemaRegistryUrl, ownsBroker: stack.source === 'local', serviceKafka: scenario.kafka, pipeline: scenario.pipeline, log,
      });
      const started = Date.now();
      let result: ScenarioResult;
      try {
        await run.createTopics();
        const ok = await scenario.run(run, size);
        await run.settle();
        result = await run.verify(started, ok);
      } catch (err) {
        log(`  failed: ${(err as Error).message}`);
        result = { scenario: scenario.name, in: run.sent.size, out: 0, missing: -1, duplicated: -1, deadLettered: -1, poisonExpected: -1, deadLetterMismatches: -1, reorders: -1, committedOffsetsOk: false, openTransactions: -1, notes: [...run.notes, (err as Error).message], seconds: +((Date.now() - started) / 1000).toFixed(1), passed: false };
      } finally {
        await run.cleanup();
      }
      log(`  ${result.passed ? 'PASS' : 'FAIL'}: in ${result.in}, out ${result.out}, missing ${result.missing}, duplicated ${result.duplicated}, dead-lettered ${result.deadLettered}/${result.poisonExpected}, reorders ${result.reorders}, ${result.seconds} s; ${result.notes.join('; ')}`);
      results.push(result);
    }
  }
} finally {
  await admin.disconnect();
  await stackDown({ kafka: stack.startedKafka, registry: stack.startedRegistry });
}

const rows = results.map((r) => `| ${r.scenario} | ${r.in} | ${r.out} | ${r.missing} | ${r.duplicated} | ${r.deadLettered}/${r.poisonExpected} | ${r.reorders} | ${r.committedOffsetsOk ? 'yes' : 'NO'} | ${r.openTransactions} | ${r.seconds} | ${r.passed ? 'pass' : 'FAIL'} |`);
process.stdout.write(['| scenario | in | out | missing | duplicated | dead-lettered | reorders | offsets = end | open txns | seconds | result |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |', ...rows].join('\n') + '\n');
process.stdout.write(`${results.filter((r) => r.passed).length} passed, ${results.filter((r) => !r.passed).length} failed in ${((Date.now() - suiteStarted) / 1000).toFixed(0)} s\n`);
if (values.json) fs.writeFileSync(values.json, JSON.stringify(results, null, 2));
process.exit(results.every((r) => r.passed) ? 0 : 1);
