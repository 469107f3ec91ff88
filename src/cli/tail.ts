import type avro from 'avsc';
import { avroType } from '../codec/avro-types.js';
import type { SchemaRegistryClient } from '../codec/schema-registry.js';
import { RecordReader } from '../kafka/reader.js';
import { type ConsumedRecord, headerText } from '../kafka/records.js';
import { HEADER } from '../sink/output-records.js';
import { StreamscoreError } from '../errors.js';
import { helpAsked, parseCommandArgs } from './args.js';
import { toolClients } from './endpoints.js';

export const TAIL_USAGE = `usage: streamscore tail TOPIC [--json] [--from-beginning]

Prints a topic's events as they are committed (read_committed), one readable line each:
Avro through the registry, else JSON. KAFKA_BROKERS / SCHEMA_REGISTRY_URL, else the local stack.

options:
  --json             one JSON object per line (topic, partition, offset, key, headers, value)
  --from-beginning   start at the beginning rather than the end
  -h, --help         this text
`;

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
export function readableLine(m: ConsumedRecord, partition: number, value: unknown): string {
  const where = `[${partition}:${m.offset}]`;
  const header = (name: string) => headerText(m.headers, name);
  const code = header(HEADER.errorCode);
  if (code) {
    return `${where} DEAD LETTER ${code}: ${header(HEADER.errorMessage)} (from ${header(HEADER.sourceTopic)}/${header(HEADER.sourcePartition)}/${header(HEADER.sourceOffset)})`;
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
  if (helpAsked(args, TAIL_USAGE)) return 0;
  const { values, positionals } = parseCommandArgs({ args, allowPositionals: true, options: { json: { type: 'boolean', default: false }, 'from-beginning': { type: 'boolean', default: false } } }, TAIL_USAGE);
  const topic = positionals[0];
  if (!topic || positionals.length > 1) throw new StreamscoreError('CLI_USAGE', `give one topic\n${TAIL_USAGE.trimEnd()}`);
  const { kafka: client, registry } = toolClients('streamscore-tail');
  const decoder = new AnyDecoder(registry);
  let crashed: Error | undefined;
  let finish = () => {};
  const stop = new Promise<void>((resolve) => {
    finish = resolve;
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  const reader = new RecordReader(client, {
    topics: [topic], from: values['from-beginning'] ? 'beginning' : 'end', groupPrefix: 'streamscore-tail', maxWaitMs: 250,
    onCrash: (err) => { crashed = err; finish(); },
    onRecords: async ({ partition }, records) => {
      for (const m of records) {
        const value = await decoder.decode(m.value);
        if (values.json) {
          const headers = Object.fromEntries(Object.keys(m.headers).map((k) => [k, headerText(m.headers, k)]));
          process.stdout.write(`${JSON.stringify({ topic, partition, offset: m.offset.toString(), key: m.key?.toString() ?? null, timestamp: m.timestampMs, headers, value })}\n`);
        } else {
          process.stdout.write(`${readableLine(m, partition, value)}\n`);
        }
      }
    },
  });
  await reader.start();
  await stop;
  await reader.stop();
  if (crashed) throw new StreamscoreError('KAFKA_CONSUMER_CRASHED', `tail stopped reading ${topic}: ${crashed.message}`);
  return 0;
}
