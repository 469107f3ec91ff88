import fs from 'node:fs';
import { vi } from 'vitest';
import { avroType } from '../../src/codec/avro-types.js';
import { OnnxModel } from '../../src/inference/model.js';
import type { ScoringTarget, WorkItem } from '../../src/pipeline/batch-scorer.js';
import { type Event, fraudEvents } from './offline-fixtures.js';
import { repo } from './paths.js';

const readerType = avroType(JSON.parse(fs.readFileSync(repo('schemas/card-transaction.avsc'), 'utf8')));
const target: ScoringTarget = { generation: 0, tp: { topic: 'transactions', partition: 0 } };

/** Events as the Avro codec hands them to the scorer (decoded with the reader schema), one partition, offsets 0…. */
export function decodedItems(events: Event[], keyOf: (event: Event, i: number) => string | null = (e) => String(e.cardId)): WorkItem[] {
  return events.map((event, i) => {
    const key = keyOf(event, i);
    return {
      sink: target, generation: 0,
      record: readerType.fromBuffer(readerType.toBuffer(event)) as Record<string, unknown>,
      input: { offset: BigInt(i), key: key === null ? null : Buffer.from(key), value: null, headers: {}, timestampMs: 0 },
    };
  });
}

/** `count` generated fraud events as scorer items. */
export function fraudItems(count: number, seed: number, keyOf?: (event: Event, i: number) => string | null): WorkItem[] {
  return decodedItems(fraudEvents(count, seed, `items-${seed}`), keyOf);
}

/** Holds every run of the model with this version until the returned `open()` (a batch surely in flight). */
export function holdRunsOf(version: string): { open: () => void } {
  let open!: () => void;
  const gate = new Promise<void>((r) => { open = r; });
  const run = OnnxModel.prototype.run;
  vi.spyOn(OnnxModel.prototype, 'run').mockImplementation(async function (this: OnnxModel, features, rows) {
    if (this.info.version === version) await gate;
    return run.call(this, features, rows);
  });
  return { open };
}

/** Makes every run of the model with this version fail. */
export function failRunsOf(version: string): void {
  const run = OnnxModel.prototype.run;
  vi.spyOn(OnnxModel.prototype, 'run').mockImplementation(async function (this: OnnxModel, features, rows) {
    if (this.info.version === version) throw new Error(`model ${version} broke`);
    return run.call(this, features, rows);
  });
}

/** The versions of the ONNX Runtime sessions released, in order. */
export function recordReleases(): string[] {
  const released: string[] = [];
  const close = OnnxModel.prototype.close;
  vi.spyOn(OnnxModel.prototype, 'close').mockImplementation(async function (this: OnnxModel) {
    released.push(this.info.version);
    return close.call(this);
  });
  return released;
}
