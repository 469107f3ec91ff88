import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AvroOutputEncoder } from '../../src/codec/avro-codec.js';
import { avroType } from '../../src/codec/avro-types.js';
import { HEADER, OutputRecords } from '../../src/sink/output-records.js';

const schema = {
  type: 'record', name: 'Scored', fields: [
    { name: 'cardId', type: 'string' },
    { name: 'note', type: 'string', default: 'none' },
    { name: 'score', type: 'double' },
    { name: 'alert', type: 'boolean' },
    { name: 'threshold', type: 'double' },
    { name: 'model', type: { type: 'record', name: 'Model', fields: [{ name: 'name', type: 'string' }, { name: 'version', type: 'string' }] } },
    { name: 'source', type: { type: 'record', name: 'Source', fields: [{ name: 'topic', type: 'string' }, { name: 'partition', type: 'int' }, { name: 'offset', type: 'long' }] } },
    { name: 'scoredAt', type: 'long' },
  ],
};

describe('OutputRecords', () => {
  // It refills one output object per record: nothing of one record may show in the next.
  it('a field the next input lacks gets its default, not the previous record\'s value; earlier outputs keep their own values', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'out-records-')), 'scored.avsc');
    fs.writeFileSync(file, JSON.stringify(schema));
    const encoder = await AvroOutputEncoder.register({ register: async () => 7 } as never, 'scored', file);
    const outputs = new OutputRecords(encoder, { name: 'fraud', version: '2.0.0', executionProvider: 'cpu', featureNames: [] }, 'scored');
    const first = outputs.record({ cardId: 'c1', note: 'first' }, null, 0.9, 0.5, { topic: 'in', partition: 3, offset: '41' }, 1_000);
    const second = outputs.record({ cardId: 'c2' }, null, 0.1, 0.5, { topic: 'in', partition: 4, offset: '42' }, 2_000);
    const type = avroType(JSON.stringify(schema));
    expect(type.fromBuffer(first.value!.subarray(5))).toEqual({
      cardId: 'c1', note: 'first', score: 0.9, alert: true, threshold: 0.5,
      model: { name: 'fraud', version: '2.0.0' }, source: { topic: 'in', partition: 3, offset: 41 }, scoredAt: 1_000,
    });
    expect(type.fromBuffer(second.value!.subarray(5))).toEqual({
      cardId: 'c2', note: 'none', score: 0.1, alert: false, threshold: 0.5,
      model: { name: 'fraud', version: '2.0.0' }, source: { topic: 'in', partition: 4, offset: 42 }, scoredAt: 2_000,
    });
    expect(first.headers).toEqual({ [HEADER.modelName]: 'fraud', [HEADER.modelVersion]: '2.0.0', [HEADER.source]: 'in/3/41' });
  });
});
