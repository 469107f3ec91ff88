import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Batcher } from '../../src/batching/batcher.js';
import type { Clock, Timers } from '../../src/observability/clock.js';

/** A fake clock and timers: time moves only when the test says so. */
function fakeTime() {
  let now = 0;
  const clock: Clock = { now: () => now };
  const timers: Timers = { setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };
  return { clock, timers, advance: async (ms: number) => { now += ms; await vi.advanceTimersByTimeAsync(ms); } };
}

describe('Batcher (timer driver)', () => {
  beforeEach(() => { vi.useFakeTimers(); });
  afterEach(() => { vi.useRealTimers(); });

  function make(maxBatchSize = 4, maxQueueDelayMs = 10, hold?: Promise<void>) {
    const time = fakeTime();
    const batches: number[][] = [];
    const batcher = new Batcher<number>({
      policy: { maxBatchSize, maxQueueDelayMs, preferredBatchSizes: [] },
      handle: async (items) => { batches.push(items); await hold; },
      clock: time.clock,
      timers: time.timers,
    });
    return { batcher, batches, time };
  }

  it('dispatches full batches at once and the remainder after maxQueueDelayMs', async () => {
    const { batcher, batches, time } = make();
    batcher.enqueue([1, 2, 3, 4, 5, 6]);
    await vi.advanceTimersByTimeAsync(0);
    expect(batches).toEqual([[1, 2, 3, 4]]);
    await time.advance(9);
    expect(batches).toHaveLength(1);
    await time.advance(1);
    expect(batches).toEqual([[1, 2, 3, 4], [5, 6]]);
  });

  it('keeps FIFO order across batches (per-partition order is input order)', async () => {
    const { batcher, batches, time } = make(3, 5);
    for (let i = 0; i < 10; i++) batcher.enqueue([i]);
    await time.advance(5);
    await time.advance(5);
    expect(batches.flat()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('runs one batch at a time; records queued meanwhile form the next batch', async () => {
    let release!: () => void;
    const hold = new Promise<void>((r) => { release = r; });
    const { batcher, batches, time } = make(4, 10, hold);
    batcher.enqueue([1, 2, 3, 4]);
    batcher.enqueue([5, 6, 7, 8, 9]);
    await time.advance(50);
    expect(batches).toEqual([[1, 2, 3, 4]]);
    release();
    await time.advance(0);
    expect(batches[1]).toEqual([5, 6, 7, 8]);
  });

  it('flush dispatches without waiting and resolves when everything ran', async () => {
    const { batcher, batches } = make(100, 10_000);
    batcher.enqueue([1, 2, 3]);
    await batcher.flush();
    expect(batches).toEqual([[1, 2, 3]]);
    expect(batcher.queued).toBe(0);
  });

  it('discard drops queued items it is told to (a revoked partition), keeping the rest in order', async () => {
    const { batcher, batches, time } = make(100, 10);
    batcher.enqueue([1, 2, 3, 4, 5, 6]);
    expect(batcher.discard((n) => n % 2 === 0)).toBe(3);
    await time.advance(10);
    expect(batches).toEqual([[1, 3, 5]]);
  });
});
