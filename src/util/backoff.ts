/**
 * Exponential backoff with a budget: the delay doubles from `initialMs` up to `maxMs`; once
 * `budget` tries in a row have failed the trouble is reported (unready, metric, one log
 * line) while the tries go on at `maxMs`: a broker or registry that comes back is picked up
 * without a restart, and nothing retries in silence.
 */
export interface RetryPolicy {
  initialMs: number;
  maxMs: number;
  /** Failures in a row after which the trouble is reported. */
  budget: number;
}

export const DEFAULT_RETRY: RetryPolicy = { initialMs: 50, maxMs: 5_000, budget: 5 };

export class Backoff {
  failures = 0;

  constructor(private readonly policy: RetryPolicy) {}

  /** Counts a failure; returns the delay before the next try. */
  fail(): number {
    this.failures++;
    return Math.min(this.policy.maxMs, this.policy.initialMs * 2 ** Math.min(this.failures - 1, 20));
  }

  /** True exactly when this failure used up the budget: the moment to report once. */
  get justExhausted(): boolean {
    return this.failures === this.policy.budget;
  }

  get exhausted(): boolean {
    return this.failures >= this.policy.budget;
  }

  reset(): void {
    this.failures = 0;
  }
}
