/**
 * The generator's pace, shared by topic and file output so both see the same clock readings
 * (events carry them): each step says how many events are due now, at most 5,000, and waits
 * 5 ms when none are. `rate` 0 means as fast as the consumer of the steps goes.
 */
export async function* pacedSteps(o: { rate: number; count?: number; durationMs?: number }): AsyncGenerator<{ now: number; n: number; produced: number }> {
  const started = Date.now();
  const limit = o.count ?? Number.POSITIVE_INFINITY;
  const deadline = o.durationMs !== undefined ? started + o.durationMs : Number.POSITIVE_INFINITY;
  let produced = 0;
  while (produced < limit && Date.now() < deadline) {
    const now = Date.now();
    const due = o.rate > 0 ? Math.floor(((now - started) / 1000) * o.rate) : produced + 1000;
    const n = Math.min(limit - produced, Math.max(0, due - produced), 5000);
    if (n === 0) {
      await new Promise((r) => setTimeout(r, 5));
      continue;
    }
    yield { now, n, produced };
    produced += n;
  }
}
