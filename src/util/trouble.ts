import { type StreamscoreError, errorMessage } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Backoff } from './backoff.js';

export interface TroubleReporterOptions {
  logger: Logger;
  /** What turns unready while the trouble lasts, for the error line ("the partition"). */
  unready: string;
  /** Every failure: a metric, not a log line. */
  onRetry: (err: StreamscoreError) => void;
  /** The trouble is reported (err) or over (undefined). */
  onTrouble: (err: StreamscoreError | undefined) => void;
}

/**
 * How an operation that is tried again with backoff shows while it fails: every failure is
 * counted; the first past the retry budget is one error line and a report (unready, with its
 * code), the others debug lines; when it works again, one info line and the report withdrawn.
 */
export class TroubleReporter {
  #troubled = false;

  constructor(private readonly o: TroubleReporterOptions) {}

  get troubled(): boolean {
    return this.#troubled;
  }

  /** Counts `err` against `backoff` and reports it once the budget is spent; returns the delay before the next try. */
  failed(err: StreamscoreError, backoff: Backoff, what: string, fields: Record<string, unknown> = {}): number {
    const delayMs = backoff.fail();
    this.o.onRetry(err);
    const line = { code: err.code, err: errorMessage(err), failures: backoff.failures, retryInMs: delayMs, ...fields };
    if (backoff.exhausted && !this.#troubled) {
      this.#troubled = true;
      this.o.logger.error(line, `${what}: still failing; ${this.o.unready} is reported unready until it works again`);
      this.o.onTrouble(err);
    } else {
      this.o.logger.debug(line, what);
    }
    return delayMs;
  }

  /** It works again: one line, and the report withdrawn. */
  recovered(message: string): void {
    if (!this.#troubled) return;
    this.#troubled = false;
    this.o.logger.info(message);
    this.o.onTrouble(undefined);
  }

  /** The report withdrawn without a line: its owner is closing. */
  withdraw(): void {
    if (!this.#troubled) return;
    this.#troubled = false;
    this.o.onTrouble(undefined);
  }
}
