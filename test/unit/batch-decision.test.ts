import { describe, expect, it } from 'vitest';
import { type QueueState, decideBatch } from '../../src/batching/decide.js';

const policy = { maxBatchSize: 64, maxQueueDelayMs: 10, preferredBatchSizes: [16, 32] };
const state = (over: Partial<QueueState>): QueueState => ({ queued: 0, oldestEnqueuedAtMs: 1000, nowMs: 1000, inFlight: 0, maxInFlight: 1, flushing: false, ...over });

describe('decideBatch', () => {
  it('is idle with nothing queued, or with every batch slot busy', () => {
    expect(decideBatch(state({ queued: 0, oldestEnqueuedAtMs: undefined }), policy)).toEqual({ kind: 'idle' });
    expect(decideBatch(state({ queued: 500, inFlight: 1 }), policy)).toEqual({ kind: 'idle' });
  });

  it('dispatches a full batch at once', () => {
    expect(decideBatch(state({ queued: 64 }), policy)).toEqual({ kind: 'dispatch', size: 64 });
    expect(decideBatch(state({ queued: 1000 }), policy)).toEqual({ kind: 'dispatch', size: 64 });
  });

  it('dispatches the largest preferred size reached, without waiting', () => {
    expect(decideBatch(state({ queued: 20 }), policy)).toEqual({ kind: 'dispatch', size: 16 });
    expect(decideBatch(state({ queued: 40 }), policy)).toEqual({ kind: 'dispatch', size: 32 });
  });

  it('waits for the rest of maxQueueDelayMs, then dispatches what is queued', () => {
    expect(decideBatch(state({ queued: 5, oldestEnqueuedAtMs: 1000, nowMs: 1003 }), policy)).toEqual({ kind: 'wait', ms: 7 });
    expect(decideBatch(state({ queued: 5, oldestEnqueuedAtMs: 1000, nowMs: 1010 }), policy)).toEqual({ kind: 'dispatch', size: 5 });
    expect(decideBatch(state({ queued: 40, oldestEnqueuedAtMs: 1000, nowMs: 1011 }), policy)).toEqual({ kind: 'dispatch', size: 40 });
  });

  it('dispatches at once when flushing for shutdown', () => {
    expect(decideBatch(state({ queued: 3, flushing: true }), policy)).toEqual({ kind: 'dispatch', size: 3 });
  });

  it('with maxQueueDelayMs 0 never waits', () => {
    expect(decideBatch(state({ queued: 1 }), { ...policy, maxQueueDelayMs: 0 })).toEqual({ kind: 'dispatch', size: 1 });
  });
});
