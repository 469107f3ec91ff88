import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AvroOutputEncoder } from '../../src/codec/avro-codec.js';
import { avroType } from '../../src/codec/avro-types.js';

const schema = { type: 'record', name: 'Out', fields: [{ name: 'id', type: 'long' }, { name: 'note', type: 'string' }] };

async function encoder(): Promise<AvroOutputEncoder> {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'avro-out-')), 'out.avsc');
  fs.writeFileSync(file, JSON.stringify(schema));
  // Only register() is called: the id it answers goes into every record's header.
  const registry = { register: async () => 4242 } as never;
  return AvroOutputEncoder.register(registry, 'out', file);
}

describe('AvroOutputEncoder', () => {
  it('writes the Confluent header and the record, across slab boundaries and for records larger than a slab', async () => {
    const enc = await encoder();
    const type = avroType(JSON.stringify(schema));
    // Sizes from a few bytes to 200 KiB (past the 8 KiB slab), in an order that leaves short tails.
    const notes = Array.from({ length: 3_000 }, (_, i) => 'x'.repeat(i % 97 === 0 ? 200_000 : (i * 37) % 700));
    const encoded = notes.map((note, id) => enc.encode({ id, note }));
    encoded.forEach((buf, id) => {
      expect(buf[0]).toBe(0);
      expect(buf.readInt32BE(1)).toBe(4242);
      expect(type.fromBuffer(buf.subarray(5))).toEqual({ id, note: notes[id] });
    });
  });

  it('takes the id of a schema that another instance is registering at the same moment, once the lookup finds it', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'avro-out-')), 'out.avsc');
    fs.writeFileSync(file, JSON.stringify(schema));
    // What Apicurio answered on a loaded CI machine: 409 to our register, and the other's
    // registration not yet readable by the first lookup.
    let lookups = 0;
    const registry = {
      register: async () => Promise.reject(Object.assign(new Error('artifact already exists'), { status: 409 })),
      getId: async () => (++lookups < 3 ? Promise.reject(Object.assign(new Error('subject not found'), { status: 404 })) : 77),
    } as never;
    const enc = await AvroOutputEncoder.register(registry, 'out', file, [0, 0, 0]);
    expect(enc.encode({ id: 1, note: '' }).readInt32BE(1)).toBe(77);
    expect(lookups).toBe(3);
  });

  it('calls a schema that stays in conflict incompatible, with both answers in the message', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'avro-out-')), 'out.avsc');
    fs.writeFileSync(file, JSON.stringify(schema));
    const registry = {
      register: async () => Promise.reject(Object.assign(new Error('incompatible'), { status: 409 })),
      getId: async () => Promise.reject(Object.assign(new Error('not found'), { status: 404 })),
    } as never;
    await expect(AvroOutputEncoder.register(registry, 'out', file, [0, 0])).rejects.toMatchObject({
      code: 'SCHEMA_INCOMPATIBLE',
      message: expect.stringMatching(/incompatible.*lookup: not found/),
    });
  });
});
