import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import avro from 'avsc';
import type { Admin, Kafka } from 'kafkajs';
import { SchemaRegistryClient } from '@confluentinc/schemaregistry/dist/schemaregistry-client.js';
import { createTopics, readTopic, schemaRegistryUrl, testKafka, uniqueName } from '../support/kafka.js';

const readingV1 = {
  type: 'record',
  name: 'Reading',
  namespace: 'test.streamscore',
  fields: [
    { name: 'deviceId', type: 'string' },
    { name: 'temperature', type: 'double' },
  ],
};

describe('the schema registry speaks the Confluent API', () => {
  let client: SchemaRegistryClient;
  let kafka: Kafka;
  let admin: Admin;

  beforeAll(async () => {
    client = new SchemaRegistryClient({ baseURLs: [schemaRegistryUrl()] });
    kafka = testKafka();
    admin = kafka.admin();
    await admin.connect();
  });
  afterAll(async () => {
    await admin.disconnect();
  });

  it('registers an Avro schema and looks it up by id and by subject/version', async () => {
    const subject = `${uniqueName('reading')}-value`;
    const id = await client.register(subject, { schemaType: 'AVRO', schema: JSON.stringify(readingV1) });
    expect(id).toBeGreaterThan(0);

    const byId = await client.getBySubjectAndId(subject, id);
    expect(JSON.parse(byId.schema)).toEqual(readingV1);
    const byVersion = await client.getSchemaMetadata(subject, 1);
    expect(byVersion.id).toBe(id);
    expect(JSON.parse(byVersion.schema ?? '')).toEqual(readingV1);
  });

  it('refuses an incompatible change and accepts a compatible one', async () => {
    const subject = `${uniqueName('reading')}-value`;
    await client.register(subject, { schemaType: 'AVRO', schema: JSON.stringify(readingV1) });
    // A new required field without a default breaks BACKWARD compatibility.
    const breaking = { ...readingV1, fields: [...readingV1.fields, { name: 'site', type: 'string' }] };
    await expect(client.register(subject, { schemaType: 'AVRO', schema: JSON.stringify(breaking) })).rejects.toThrow();
    const evolving = { ...readingV1, fields: [...readingV1.fields, { name: 'site', type: 'string', default: 'unknown' }] };
    const id2 = await client.register(subject, { schemaType: 'AVRO', schema: JSON.stringify(evolving) });
    expect((await client.getLatestSchemaMetadata(subject)).id).toBe(id2);
  });

  it('an Avro record produced in Confluent wire format decodes back to the same value', async () => {
    const topic = uniqueName('avro-wire');
    await createTopics(admin, [topic]);
    const id = await client.register(`${topic}-value`, { schemaType: 'AVRO', schema: JSON.stringify(readingV1) });
    const value = { deviceId: 'pump-7', temperature: 71.25 };
    const body = avro.Type.forSchema(readingV1 as avro.Schema).toBuffer(value);
    const header = Buffer.alloc(5);
    header.writeUInt8(0, 0);
    header.writeInt32BE(id, 1);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ key: 'pump-7', value: Buffer.concat([header, body]) }] });
    await producer.disconnect();

    const [record] = await readTopic(kafka, topic, { until: (r) => r.length >= 1 });
    const wire = record!.value!;
    expect(wire.readUInt8(0)).toBe(0);
    const schemaId = wire.readInt32BE(1);
    const writer = await client.getBySubjectAndId(`${topic}-value`, schemaId);
    const decoded = avro.Type.forSchema(JSON.parse(writer.schema) as avro.Schema).fromBuffer(wire.subarray(5));
    expect({ ...decoded }).toEqual(value);
  });
});
