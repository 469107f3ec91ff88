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
});
