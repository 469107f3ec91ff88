import { createRequire } from 'node:module';

/**
 * kafkajs 2.2.4 schedules its pending-request check at `throttledUntil - Date.now()` even when
 * nothing is throttled (`throttledUntil` is -1): a timeout of minus the epoch in ms, which Node
 * turns into 1 ms and, from Node 24, also reports as a TimeoutNegativeWarning on stderr, outside
 * our logger. Same schedule here, with the delay never below zero.
 */
const require = createRequire(import.meta.url);
const CHECK_PENDING_REQUESTS_INTERVAL_MS = 10; // kafkajs's own

interface RequestQueueInternals {
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  pending: unknown[];
  checkPendingRequests(): void;
}

export function pendingCheckDelayMs(throttledUntil: number, pendingCount: number, now: number): number {
  const untilThrottleEnds = throttledUntil - now;
  if (untilThrottleEnds > 0) return untilThrottleEnds;
  return pendingCount > 0 ? CHECK_PENDING_REQUESTS_INTERVAL_MS : 0;
}

const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as { prototype: RequestQueueInternals & { scheduleCheckPendingRequests(): void } };

RequestQueue.prototype.scheduleCheckPendingRequests = function (this: RequestQueueInternals): void {
  if (this.throttleCheckTimeoutId) return;
  this.throttleCheckTimeoutId = setTimeout(() => {
    this.throttleCheckTimeoutId = null;
    this.checkPendingRequests();
  }, pendingCheckDelayMs(this.throttledUntil, this.pending.length, Date.now()));
};
