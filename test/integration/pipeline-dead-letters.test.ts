import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Message } from 'kafkajs';
import { HEADER } from '../../src/sink/output-records.js';
import { createTopics, kafkaBrokers, kafkaForSuite, readTopic, uniqueName } from '../support/kafka.js';
import {
  avroEncoder, createFraudTopics, decodeOutput, fraudConfig, goldenEvents, produce, repo, startService, type Event,
} from '../support/pipeline-fixtures.js';
import { parseConfig } from '../../src/config/load.js';

const header = (m: { headers?: Record<string, unknown> }, name: string) => String(m.headers?.[name] ?? '');

describe('bad input goes to the dead-letter topic with its reason; nothing else is lost', () => {
  const { kafka, admin } = kafkaForSuite();

  it('avro: bad magic byte, unknown schema id, truncated body, JSON garbage, NaN feature, incompatible writer schema', async () => {
    const topics = await createFraudTopics(admin, 2);
    const golden = goldenEvents('fraud').map((g) => g.event);
    const { encode } = await avroEncoder(topics.input);
    const good = (i: number): Event => ({ ...golden[i % golden.length]!, transactionId: `good-${i}` });
    // A writer that made `amount` a string cannot be read as the reader schema (registered
    // under another subject, as a careless producer would).
    const incompatibleSchema = JSON.parse(fs.readFileSync(repo('schemas/card-transaction.avsc'), 'utf8'));
    incompatibleSchema.fields.find((f: { name: string }) => f.name === 'amount').type = 'string';
    const incompatible = await avroEncoder(`${topics.input}-rogue`, undefined, JSON.stringify(incompatibleSchema));
    const valid = encode(good(0));
    const poison: { value: Buffer; code: string }[] = [
      { value: Buffer.concat([Buffer.from([7]), valid.subarray(1)]), code: 'DECODE_BAD_MAGIC' },
      { value: Buffer.concat([Buffer.from([0, 0x3b, 0x9a, 0xc9, 0xff]), valid.subarray(5)]), code: 'DECODE_UNKNOWN_SCHEMA' },
      { value: valid.subarray(0, valid.length - 7), code: 'DECODE_TRUNCATED' },
      { value: Buffer.from('{"garbage": tru'), code: 'DECODE_BAD_MAGIC' },
      { value: encode({ ...good(1), transactionId: 'nan', distanceFromHomeKm: Number.NaN }), code: 'FEATURE_NOT_FINITE' },
      { value: incompatible.encode({ ...good(2), transactionId: 'rogue', amount: '12.50' }), code: 'DECODE_INCOMPATIBLE_SCHEMA' },
    ];
    const messages: Message[] = [];
    let goodCount = 0;
    for (let i = 0; i < 300; i++) {
      if (i % 50 === 25) {
        const index = (i - 25) / 50;
        messages.push({ key: `poison-${index}`, value: poison[index]!.value, headers: { origin: 'test' } });
      } else {
        messages.push({ key: `card-${i % 7}`, value: encode(good(i)) });
        goodCount++;
      }
    }
    await produce(kafka, topics.input, messages);

    const service = await startService(fraudConfig(topics));
    try {
      const scored = await readTopic(kafka, topics.scored, { until: (r) => r.length >= goodCount });
      const dead = await readTopic(kafka, topics.dlq, { until: (r) => r.length >= poison.length });
      expect(scored).toHaveLength(goodCount);
      expect(new Set(scored.map((m) => decodeOutput(repo('schemas/scored-transaction.avsc'), m).transactionId)).size).toBe(goodCount);
      expect(dead.map((m) => header(m, HEADER.errorCode)).sort()).toEqual(poison.map((p) => p.code).sort());
      for (const m of dead) {
        const sent = poison[Number(m.key!.toString().slice('poison-'.length))]!;
        expect(header(m, HEADER.errorCode)).toBe(sent.code);
        expect(m.value).toEqual(sent.value);
        expect(header(m, HEADER.sourceTopic)).toBe(topics.input);
        expect(Number(header(m, HEADER.sourceOffset))).toBeGreaterThanOrEqual(0);
        expect(header(m, HEADER.errorMessage).length).toBeGreaterThan(5);
        expect(header(m, 'origin')).toBe('test');
      }
    } finally {
      await service.close();
    }
  });

  it('avro: a record written with an evolved schema (a new field with a default) still decodes', async () => {
    const topics = await createFraudTopics(admin, 1);
    const base = JSON.parse(fs.readFileSync(repo('schemas/card-transaction.avsc'), 'utf8'));
    const evolved = { ...base, fields: [...base.fields, { name: 'cardBrand', type: 'string', default: 'unknown' }] };
    const v1 = await avroEncoder(topics.input);
    const v2 = await avroEncoder(topics.input, undefined, JSON.stringify(evolved));
    expect(v2.id).not.toBe(v1.id);
    const event = goldenEvents('fraud')[3]!.event;
    await produce(kafka, topics.input, [
      { key: 'a', value: v1.encode({ ...event, transactionId: 'v1' }) },
      { key: 'a', value: v2.encode({ ...event, transactionId: 'v2', cardBrand: 'VISA' }) },
    ]);
    const service = await startService(fraudConfig(topics));
    try {
      const scored = await readTopic(kafka, topics.scored, { until: (r) => r.length >= 2 });
      const decoded = scored.map((m) => decodeOutput(repo('schemas/scored-transaction.avsc'), m));
      expect(decoded.map((d) => d.transactionId)).toEqual(['v1', 'v2']);
      expect(decoded[0]!.score).toBe(decoded[1]!.score);
    } finally {
      await service.close();
    }
  });

  it('json: garbage, a non-object, a missing feature and a non-numeric feature are dead-lettered', async () => {
    const base = uniqueName('readings');
    const t = { input: base, scored: `${base}.scored`, alerts: `${base}.flags`, dlq: `${base}.dlq` };
    await createTopics(admin, Object.values(t), 1);
    const config = parseConfig(JSON.stringify({
      kafka: { brokers: kafkaBrokers(), sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1_000 },
      pipelines: [{
        name: 'iot', inputs: [t.input], groupId: `${base}-g`, codec: 'json', model: { path: repo('models/pump-anomaly.onnx') },
        outputs: { scored: { topic: t.scored }, alerts: { topic: t.alerts }, deadLetter: { topic: t.dlq } },
      }],
    }), { env: {} });
    const reading = goldenEvents('iot')[0]!.event;
    const poison = [
      { value: 'not json at all', code: 'DECODE_BAD_JSON' },
      { value: '[1, 2, 3]', code: 'DECODE_NOT_OBJECT' },
      { value: JSON.stringify({ ...reading, currentA: undefined }), code: 'FEATURE_MISSING' },
      { value: JSON.stringify({ ...reading, pressureKpa: 'high' }), code: 'FEATURE_NOT_NUMERIC' },
    ];
    await produce(kafka, t.input, [
      { key: 'pump-1', value: JSON.stringify(reading) },
      ...poison.map((p) => ({ key: 'pump-1', value: p.value })),
      { key: 'pump-1', value: JSON.stringify({ ...reading, eventTime: 1 }) },
    ]);
    const service = await startService(config);
    try {
      const scored = await readTopic(kafka, t.scored, { until: (r) => r.length >= 2 });
      const dead = await readTopic(kafka, t.dlq, { until: (r) => r.length >= poison.length });
      expect(dead.map((m) => header(m, HEADER.errorCode))).toEqual(poison.map((p) => p.code));
      const outputs = scored.map((m) => JSON.parse(m.value!.toString()));
      expect(outputs.map((o) => o.eventTime)).toEqual([reading.eventTime, 1]);
      expect(outputs[0].deviceId).toBe(reading.deviceId);
      expect(typeof outputs[0].score).toBe('number');
      expect(outputs[0].source).toMatchObject({ topic: t.input, partition: 0, offset: '0' });
    } finally {
      await service.close();
    }
  });
});
