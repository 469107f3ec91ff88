import { createRequire } from 'node:module';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { pendingCheckDelayMs } from '../../src/kafka/request-queue-timer.js';

const require = createRequire(import.meta.url);

describe("kafkajs's pending-request check", () => {
  afterEach(() => vi.restoreAllMocks());

  it('is never scheduled with a negative delay (Node 24 warns on stderr for one)', () => {
    const RequestQueue = require('kafkajs/src/network/requestQueue/index.js');
    const queue = new RequestQueue({ maxInFlightRequests: 1, requestTimeout: 1000, enforceRequestTimeout: true, clientId: 't', broker: 'b', logger: {} });
    const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout');
    // Not throttled (throttledUntil -1), nothing pending: what every idle connection does.
    queue.scheduleCheckPendingRequests();
    const delay = setTimeoutSpy.mock.calls[0]?.[1];
    clearTimeout(queue.throttleCheckTimeoutId);
    expect(delay).toBeGreaterThanOrEqual(0);
  });

  it("keeps kafkajs's schedule otherwise: the throttle's end, or its 10 ms poll while requests wait", () => {
    expect(pendingCheckDelayMs(1_500, 3, 1_000)).toBe(500);
    expect(pendingCheckDelayMs(-1, 3, 1_000)).toBe(10);
    expect(pendingCheckDelayMs(-1, 0, 1_000)).toBe(0);
  });
});
