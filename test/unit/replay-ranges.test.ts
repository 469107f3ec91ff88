import { describe, expect, it } from 'vitest';
import pino from 'pino';
import type { StreamscoreConfig } from '../../src/config/types.js';
import { Replay } from '../../src/replay/replay-run.js';
import { fraudPipeline } from '../support/offline-fixtures.js';
import { type RangeAdmin, encodeRange, inTimeRange, parseBound, resolveRanges, resumeFrom } from '../../src/replay/ranges.js';

/** Two partitions: [10, 100) and [0, 50); by time, offset = ms / 1000 clamped to the end. */
const admin: RangeAdmin = {
  offsetRanges: async () => new Map([[0, { start: 10n, end: 100n }], [1, { start: 0n, end: 50n }]]),
  offsetsForTimestamp: async (_topic, ms) => new Map([[0, BigInt(Math.min(100, ms / 1000))], [1, BigInt(Math.min(50, ms / 1000))]]),
};

describe('replay ranges', () => {
  it('parses each form of --from and --to, and refuses the rest as usage errors', () => {
    expect(parseBound('earliest', 'from')).toEqual({ kind: 'earliest' });
    expect(parseBound('end', 'to')).toEqual({ kind: 'end' });
    expect(parseBound('1970-01-01T00:00:30Z', 'from')).toEqual({ kind: 'time', ms: 30_000 });
    expect(parseBound('0:12,tx.in:1:7', 'to')).toEqual({ kind: 'offsets', offsets: [{ topic: undefined, partition: 0, offset: 12n }, { topic: 'tx.in', partition: 1, offset: 7n }] });
    for (const [text, which] of [['end', 'from'], ['earliest', 'to'], ['0:x', 'from'], ['yesterday', 'to']] as const) {
      expect(() => parseBound(text, which)).toThrow(expect.objectContaining({ code: 'CLI_USAGE' }));
    }
  });

  it('resolves defaults, offsets and times per partition, with the time bounds kept for filtering', async () => {
    expect((await resolveRanges(admin, ['in'], { kind: 'earliest' }, { kind: 'end' })).map((r) => [r.start, r.end])).toEqual([[10n, 100n], [0n, 50n]]);
    expect((await resolveRanges(admin, ['in'], parseBound('0:20', 'from'), parseBound('1:40', 'to'))).map((r) => [r.start, r.end])).toEqual([[20n, 100n], [0n, 40n]]);
    const byTime = await resolveRanges(admin, ['in'], parseBound('1970-01-01T00:00:30Z', 'from'), parseBound('1970-01-01T00:01:00Z', 'to'));
    expect(byTime.map((r) => [r.start, r.end])).toEqual([[30n, 60n], [30n, 50n]]);
    expect(inTimeRange(byTime[0]!, 29_999)).toBe(false);
    expect(inTimeRange(byTime[0]!, 30_000)).toBe(true);
    expect(inTimeRange(byTime[0]!, 60_000)).toBe(false);
  });

  it('refuses ranges that cannot be replayed', async () => {
    const refused = (from: string, to: string) => expect(resolveRanges(admin, ['in'], parseBound(from, 'from'), parseBound(to, 'to'))).rejects.toMatchObject({ code: 'REPLAY_RANGE_INVALID' });
    await refused('0:5', 'end'); // below the partition's first offset
    await refused('0:60', '0:40'); // starts after it ends
    await refused('7:0', 'end'); // no such partition
    await refused('1970-01-01T00:01:00Z', '1970-01-01T00:00:30Z');
  });

  it('resumes from the committed offsets and the range stored beside them; a first run has none', () => {
    const tp = { topic: 'in', partition: 0 };
    expect(resumeFrom([{ tp, offset: -1n, metadata: null }])).toBeUndefined();
    const target = { output: 'scored.replay', model: '/models/fraud.onnx' };
    const stored = encodeRange({ tp, start: 10n, end: 90n, toMs: 5 }, target);
    expect(resumeFrom([{ tp, offset: 42n, metadata: stored }])).toEqual({ ranges: [{ tp, start: 10n, end: 90n, toMs: 5 }], positions: new Map([['in:0', 42n]]), target });
    // Stored by a run from before the target was kept: resumed, with nothing to check it against.
    const older = JSON.stringify({ replay: 1, start: '10', end: '90' });
    expect(resumeFrom([{ tp, offset: 42n, metadata: older }])?.target).toBeUndefined();
    expect(() => resumeFrom([{ tp, offset: 42n, metadata: '' }])).toThrow(expect.objectContaining({ code: 'REPLAY_RANGE_INVALID' }));
  });
});

describe('replay ids', () => {
  const pipeline = fraudPipeline();
  const config = { pipelines: [pipeline, { ...pipeline, name: 'other', groupId: `${pipeline.groupId}-replay-taken` }], kafka: {} } as unknown as StreamscoreConfig;
  const replay = (id: string) => new Replay({ id, config, pipeline, from: { kind: 'earliest' }, to: { kind: 'end' } }, { client: undefined as never, logger: pino({ level: 'silent' }) });

  it('refuses an id that could make a live producer id (…-<partition>) or a pipeline\'s consumer group', () => {
    expect(() => replay('audit-1')).toThrow(expect.objectContaining({ code: 'CLI_USAGE' }));
    expect(() => replay('taken')).toThrow(expect.objectContaining({ code: 'CLI_USAGE' }));
    expect(replay('audit').groupId).toBe(`${pipeline.groupId}-replay-audit`);
  });

  it('clamps a time that resolves past the end read first (a record arriving between the two reads) to an empty range', async () => {
    const racing: RangeAdmin = { ...admin, offsetsForTimestamp: async () => new Map([[0, 101n], [1, 51n]]) };
    expect((await resolveRanges(racing, ['in'], parseBound('1970-01-01T00:00:30Z', 'from'), { kind: 'end' })).map((r) => [r.start, r.end])).toEqual([[100n, 100n], [50n, 50n]]);
  });
});
