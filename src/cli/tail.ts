import { parseArgs } from 'node:util';
import type avro from 'avsc';
import type { KafkaMessage } from 'kafkajs';
import { avroType } from '../codec/avro-types.js';
import type { SchemaRegistryClient } from '../codec/schema-registry.js';
import { HEADER } from '../sink/output-records.js';
import { StreamscoreError } from '../errors.js';
import { toolClients } from './endpoints.js';

const header = (m: KafkaMessage, name: string) => m.headers?.[name]?.toString();

/** Decodes a value: Confluent wire format through the registry, else JSON, else raw bytes. */
export class AnyDecoder {
  private readonly types = new Map<number, Promise<avro.Type>>();
  constructor(private readonly registry: SchemaRegistryClient) {}

  async decode(value: Buffer | null): Promise<unknown> {
    if (!value) return null;
    if (value.length >= 5 && value[0] === 0) {
      const id = value.readInt32BE(1);
      let type = this.types.get(id);
      if (!type) this.types.set(id, (type = this.registry.getBySubjectAndId('', id).then((s) => avroType(s.schema))));
      try {
        return (await type).fromBuffer(value.subarray(5));
      } catch {
        this.types.delete(id);
      }
    }
    try {
      return JSON.parse(value.toString('utf8'));
    } catch {
      return { bytes: value.toString('base64') };
    }
  }
}

/** One readable line per event: what it is about, its score and verdict, where it came from. */
export function readableLine(m: KafkaMessage, partition: number, value: unknown): string {
  const where = `[${partition}:${m.offset}]`;
  const code = header(m, HEADER.errorCode);
  if (code) {
    return `${where} DEAD LETTER ${code}: ${header(m, HEADER.errorMessage)} (from ${header(m, HEADER.sourceTopic)}/${header(m, HEADER.sourcePartition)}/${header(m, HEADER.sourceOffset)})`;
  }
  const v = (value ?? {}) as Record<string, unknown>;
  const subject = v.transactionId ? `${v.transactionId} ${v.cardId} ${typeof v.amount === 'number' ? v.amount.toFixed(2) : v.amount} ${v.currency ?? ''}`.trim()
    : v.deviceId ? `${v.deviceId} @ ${v.site}` : `key=${m.key?.toString() ?? ''}`;
  if (typeof v.score !== 'number') return `${where} ${subject} ${JSON.stringify(value)}`;
  const verdict = v.alert ? (v.transactionId ? 'FRAUD ALERT' : 'ANOMALY') : 'ok';
  const model = v.model as { name?: string; version?: string } | undefined;
  return `${where} ${subject}  score ${v.score.toFixed(4)}  ${verdict}  (${model?.name}@${model?.version})`;
}

export async function tailCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean', default: false }, 'from-beginning': { type: 'boolean', default: false } } });
  const topic = positionals[0];
  if (!topic) throw new StreamscoreError('CLI_USAGE', 'usage: streamscore tail TOPIC [--json] [--from-beginning]');
  const { kafka: client, registry } = toolClients('streamscore-tail');
  const kafka = client.raw;
  const decoder = new AnyDecoder(registry);
  // A throwaway group: tailing never moves anyone's offsets.
  const consumer = kafka.consumer({ groupId: `streamscore-tail-${process.pid}-${Date.now()}`, readUncommitted: false, maxWaitTimeInMs: 250 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: values['from-beginning'] });
  const stop = new Promise<void>((resolve) => { process.once('SIGINT', resolve); process.once('SIGTERM', resolve); });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const value = await decoder.decode(message.value);
      if (values.json) {
        const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, h]) => [k, h?.toString()]));
        process.stdout.write(`${JSON.stringify({ topic, partition, offset: message.offset, key: message.key?.toString() ?? null, timestamp: Number(message.timestamp), headers, value })}\n`);
      } else {
        process.stdout.write(`${readableLine(message, partition, value)}\n`);
      }
    },
  });
  await stop;
  await consumer.disconnect();
  return 0;
}
