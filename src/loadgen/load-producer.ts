import fs from 'node:fs';
import { avroType } from '../codec/avro-types.js';
import type { SchemaRegistryClient } from '../codec/schema-registry.js';
import { projectRoot } from '../devstack/paths.js';
import type { KafkaClient } from '../kafka/client.js';
import { RecordProducer } from '../kafka/producer.js';
import type { OutgoingRecord } from '../kafka/records.js';
import { POISON_KINDS, type PoisonKind, poison } from './poison.js';
import { Random } from './random.js';
import { pacedSteps } from './pacing.js';
import { SCENARIOS, type ScenarioName } from './scenarios.js';

export interface LoadOptions {
  scenario: ScenarioName;
  topic: string;
  partitions: number;
  /** Events per second; 0 means as fast as the broker takes them. */
  rate: number;
  count?: number;
  durationMs?: number;
  format: 'avro' | 'json';
  /** Share of records replaced by poison (avro only), e.g. 0.001. */
  poisonRate: number;
  seed: number;
  /** Prefix of event ids, so several runs into one topic stay apart. */
  runId: string;
  /** Filled as records are acknowledged, for watchers that match outputs while it runs. */
  sent?: Map<string, SentRecord>;
}

/** What was sent, by source position `topic/partition/offset`. */
export interface SentRecord {
  sentAtMs: number;
  positive: boolean;
  poison?: PoisonKind['code'];
}

export interface LoadResult {
  sent: Map<string, SentRecord>;
  produced: number;
  poisoned: number;
  positives: number;
  elapsedMs: number;
}

/** FNV-1a: a stable key → partition map, chosen here so each record's offset is known. */
function partitionOf(key: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) % partitions;
}

/**
 * Produces a scenario's events at a steady rate, keyed by card or device, Avro through the
 * registry (or JSON), and records the offset each one got, so outputs can be matched to
 * inputs one by one.
 */
export async function produceLoad(client: KafkaClient, registry: SchemaRegistryClient | undefined, opts: LoadOptions, onProgress?: (produced: number) => void): Promise<LoadResult> {
  const scenario = SCENARIOS[opts.scenario];
  const rng = new Random(opts.seed ^ 0x5eed);
  const next = scenario.generator(opts.seed, opts.runId);
  let encode: (e: Record<string, unknown>) => Buffer;
  if (opts.format === 'avro') {
    if (!registry) throw new Error('avro needs a schema registry');
    const text = fs.readFileSync(`${projectRoot}/${scenario.schemaFile}`, 'utf8');
    const id = await registry.register(`${opts.topic}-value`, { schemaType: 'AVRO', schema: JSON.stringify(JSON.parse(text)) });
    const type = avroType(text);
    const header = Buffer.alloc(5);
    header.writeInt32BE(id, 1);
    encode = (e) => Buffer.concat([header, type.toBuffer(e)]);
  } else {
    encode = (e) => Buffer.from(JSON.stringify(e));
  }
  const numericField = opts.scenario === 'fraud' ? 'distanceFromHomeKm' : 'vibrationMmS';

  const producer = new RecordProducer(client);
  await producer.connect();
  const sent = opts.sent ?? new Map<string, SentRecord>();
  let produced = 0;
  let poisoned = 0;
  let positives = 0;
  const started = Date.now();
  try {
    for await (const { now, n } of pacedSteps(opts)) {
      const outgoing: OutgoingRecord[] = [];
      const records: SentRecord[] = [];
      for (let i = 0; i < n; i++) {
        const { event, positive } = next(now);
        const key = String(event[scenario.keyField]);
        let value = encode(event);
        const record: SentRecord = { sentAtMs: now, positive };
        if (opts.format === 'avro' && opts.poisonRate > 0 && rng.chance(opts.poisonRate)) {
          const kind = POISON_KINDS[rng.int(0, POISON_KINDS.length)]!;
          value = poison(kind.kind, value, () => encode({ ...event, [numericField]: Number.NaN }), rng);
          record.poison = kind.code;
          record.positive = false;
          poisoned++;
        } else if (positive) {
          positives++;
        }
        outgoing.push({ topic: opts.topic, key: Buffer.from(key), value, partition: partitionOf(key, opts.partitions) });
        records.push(record);
      }
      const positions = await producer.send(outgoing);
      positions.forEach((p, i) => sent.set(`${p!.topic}/${p!.partition}/${p!.offset}`, records[i]!));
      produced += n;
      onProgress?.(produced);
    }
  } finally {
    await producer.disconnect();
  }
  return { sent, produced, poisoned, positives, elapsedMs: Date.now() - started };
}
