import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { kafkaBrokers, kafkaForSuite, readTopic, schemaRegistryUrl } from '../support/kafka.js';
import { readJsonl, runStreamscore, scratchDir } from '../support/offline-fixtures.js';
import { createFraudTopics, decodeOutput, fraudConfig, repo, startService } from '../support/pipeline-fixtures.js';

const dir = scratchDir('score-live');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('streamscore score against the live pipeline, on the real broker', () => {
  const { kafka, admin } = kafkaForSuite();

  it('the same generated events scored live (exactly-once) and from a JSONL and an Avro file: the same score for every event', async () => {
    const N = 3000;
    const topics = await createFraudTopics(admin, 3);
    const config = fraudConfig(topics);
    const configFile = path.join(dir, 'config.json');
    fs.writeFileSync(configFile, JSON.stringify(config));
    const env = { KAFKA_BROKERS: kafkaBrokers().join(','), SCHEMA_REGISTRY_URL: schemaRegistryUrl() };
    const generate = ['produce', '--scenario', 'fraud', '--count', String(N), '--seed', '11', '--run-id', topics.input, '--rate', '0'];

    const service = await startService(config);
    let live: Map<string, number>;
    try {
      const produced = await runStreamscore([...generate, '--topic', topics.input], env);
      expect(produced.code, produced.stderr).toBe(0);
      const scored = await readTopic(kafka, topics.scored, { until: (r) => r.length >= N, timeoutMs: 90_000 });
      live = new Map(scored.map((m) => decodeOutput(repo('schemas/scored-transaction.avsc'), m)).map((r) => [r.transactionId as string, r.score as number]));
    } finally {
      await service.close();
    }
    expect(live.size).toBe(N);

    for (const format of ['json', 'avro']) {
      const events = path.join(dir, `events.${format === 'json' ? 'jsonl' : 'avro'}`);
      const made = await runStreamscore([...generate, '--to-file', events, '--format', format]);
      expect(made.code, made.stderr).toBe(0);
      const scores = `${events}.scores`;
      const run = await runStreamscore(['score', '--config', configFile, '--input', events, '--output', scores, '--json'], env);
      expect(run.code, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({ rows: N, scored: N, errors: 0 });
      const fromFile = readJsonl(scores);
      expect(fromFile).toHaveLength(N);
      for (const r of fromFile) {
        const liveScore = live.get(r.transactionId as string);
        expect(liveScore, `${format}: ${String(r.transactionId)} scored live`).toBeDefined();
        expect(Math.abs((r.score as number) - liveScore!)).toBeLessThanOrEqual(1e-6);
      }
      expect(new Set(fromFile.map((r) => r.transactionId)).size).toBe(N);
    }
  });
});
