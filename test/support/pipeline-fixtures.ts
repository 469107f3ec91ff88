import fs from 'node:fs';
import { Registry } from 'prom-client';
import pino from 'pino';
import type { Admin, Kafka, KafkaMessage, Message } from 'kafkajs';
import ort from 'onnxruntime-node';
import { SchemaRegistryClient } from '@confluentinc/schemaregistry/dist/schemaregistry-client.js';
import { avroType } from '../../src/codec/avro-types.js';
import { parseConfig } from '../../src/config/load.js';
import type { StreamscoreConfig } from '../../src/config/types.js';
import { Service } from '../../src/pipeline/service.js';
import { createTopics, kafkaBrokers, schemaRegistryUrl, uniqueName } from './kafka.js';

export { repo } from './paths.js';
import { repo } from './paths.js';

export type Event = Record<string, unknown>;

export function goldenEvents(name: 'fraud' | 'iot'): { event: Event; score: number; label: number }[] {
  return fs.readFileSync(repo('test/fixtures', `${name}-golden.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

export interface FraudTopics {
  input: string;
  scored: string;
  alerts: string;
  dlq: string;
  group: string;
}

export async function createFraudTopics(admin: Admin, partitions = 3): Promise<FraudTopics> {
  const base = uniqueName('tx');
  const t = { input: base, scored: `${base}.scored`, alerts: `${base}.alerts`, dlq: `${base}.dlq`, group: `${base}-scorer` };
  await createTopics(admin, [t.input], partitions);
  await createTopics(admin, [t.scored, t.alerts, t.dlq], partitions);
  return t;
}

export function fraudConfig(t: FraudTopics, overrides: { delivery?: string; batching?: Record<string, unknown> } = {}): StreamscoreConfig {
  const doc = {
    kafka: { brokers: kafkaBrokers(), clientId: 'streamscore-test', sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1_000 },
    schemaRegistry: { url: schemaRegistryUrl() },
    http: { port: 0, host: '127.0.0.1' },
    pipelines: [{
      name: 'fraud',
      inputs: [t.input],
      groupId: t.group,
      codec: 'avro',
      readerSchema: repo('schemas/card-transaction.avsc'),
      model: { path: repo('models/fraud.onnx') },
      features: { columns: { hourOfDay: { from: 'eventTime', transform: 'hourOfDayUtc' } } },
      batching: { maxBatchSize: 64, maxQueueDelayMs: 5, ...overrides.batching },
      outputs: {
        scored: { topic: t.scored, schema: repo('schemas/scored-transaction.avsc') },
        alerts: { topic: t.alerts, schema: repo('schemas/fraud-alert.avsc') },
        deadLetter: { topic: t.dlq },
      },
      delivery: overrides.delivery ?? 'exactly-once',
    }],
  };
  return parseConfig(JSON.stringify(doc), { env: {} });
}


export async function startService(config: StreamscoreConfig): Promise<Service> {
  const service = new Service({ config, logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'warn' }), registry: new Registry(), http: false });
  await service.start();
  return service;
}

export function registryClient(): SchemaRegistryClient {
  return new SchemaRegistryClient({ baseURLs: [schemaRegistryUrl()] });
}

/** Encodes events in Confluent wire format under `<topic>-value`. */
export async function avroEncoder(topic: string, schemaFile = repo('schemas/card-transaction.avsc'), schemaText?: string) {
  const text = schemaText ?? fs.readFileSync(schemaFile, 'utf8');
  const id = await registryClient().register(`${topic}-value`, { schemaType: 'AVRO', schema: JSON.stringify(JSON.parse(text)) });
  const type = avroType(text);
  const header = Buffer.alloc(5);
  header.writeInt32BE(id, 1);
  return { id, encode: (e: Event) => Buffer.concat([header, type.toBuffer(e)]) };
}

export async function produce(kafka: Kafka, topic: string, messages: Message[]): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  for (let i = 0; i < messages.length; i += 500) await producer.send({ topic, messages: messages.slice(i, i + 500), acks: -1 });
  await producer.disconnect();
}

export function decodeOutput(schemaFile: string, m: KafkaMessage): Record<string, unknown> {
  return avroType(fs.readFileSync(schemaFile, 'utf8')).fromBuffer(m.value!.subarray(5)) as Record<string, unknown>;
}

const CHANNELS = ['POS', 'ECOM', 'ATM', 'MOTO'];
const FRAUD_COLUMNS = ['amount', 'hourOfDay', 'merchantCategory', 'channel', 'distanceFromHomeKm', 'txCount1h', 'txCount24h', 'amountToAvgRatio', 'foreignCountry', 'knownDevice'];

/** The fraud model run directly, without streamscore: the reference the pipeline must match. */
export async function referenceFraudScores(events: Event[]): Promise<Float32Array> {
  const rows = new Float32Array(events.length * FRAUD_COLUMNS.length);
  events.forEach((e, r) => {
    const v = [e.amount, Math.floor((e.eventTime as number) / 3_600_000) % 24, e.merchantCategory, CHANNELS.indexOf(e.channel as string), e.distanceFromHomeKm,
      e.txCount1h, e.txCount24h, e.amountToAvgRatio, e.foreignCountry ? 1 : 0, e.knownDevice ? 1 : 0] as number[];
    rows.set(v, r * FRAUD_COLUMNS.length);
  });
  const session = await ort.InferenceSession.create(repo('models/fraud.onnx'));
  const out = await session.run({ features: new ort.Tensor('float32', rows, [events.length, FRAUD_COLUMNS.length]) });
  await session.release();
  return out.score!.data as Float32Array;
}
