import { setTimeout as delay } from 'node:timers/promises';

export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** Says what was awaited when the wait times out (a function to describe the state then). */
  what: string | (() => string);
}

/**
 * Polls `condition` until it returns a value other than undefined/false, or throws after
 * `timeoutMs`. Used instead of fixed sleeps wherever a condition can be observed.
 */
export async function waitFor<T>(
  condition: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs, intervalMs = 100, what }: WaitOptions,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const suffix = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      const described = typeof what === 'function' ? what() : what;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${described}${suffix}`);
    }
    await delay(intervalMs);
  }
}
