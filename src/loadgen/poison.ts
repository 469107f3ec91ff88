import type { Random } from './random.js';

/** The kinds of bad record a load run can mix in, each with the dead-letter code it must get. */
export const POISON_KINDS = [
  { kind: 'bad-magic', code: 'DECODE_BAD_MAGIC' },
  { kind: 'truncated', code: 'DECODE_TRUNCATED' },
  { kind: 'unknown-schema', code: 'DECODE_UNKNOWN_SCHEMA' },
  { kind: 'nan-feature', code: 'FEATURE_NOT_FINITE' },
] as const;

export type PoisonKind = (typeof POISON_KINDS)[number];

/** Turns a good event's encoding into a poison record of the given kind. */
export function poison(kind: PoisonKind['kind'], good: Buffer, encodeWithNaN: () => Buffer, rng: Random): Buffer {
  switch (kind) {
    case 'bad-magic':
      return Buffer.concat([Buffer.from([0x7b]), good.subarray(1)]);
    case 'truncated':
      return good.subarray(0, Math.max(5, good.length - 1 - rng.int(1, 8)));
    case 'unknown-schema': {
      const copy = Buffer.from(good);
      copy.writeInt32BE(2_000_000_000 + rng.int(0, 1000), 1);
      return copy;
    }
    case 'nan-feature':
      return encodeWithNaN();
  }
}
