import { setTimeout as delay } from 'node:timers/promises';
import { waitFor } from '../../src/util/wait.js';
import type { ServiceProcess } from '../support/service-process.js';
import { stallBroker } from './broker-control.js';
import type { ChaosRun } from './harness.js';
import type { Scenario } from './scenarios.js';
import { httpPort, metricByLabel, metricLag, type Readiness, readyz } from './service-http.js';

/** Low, so the stall outlasts it in seconds rather than the default 30. */
const REQUEST_TIMEOUT_MS = 5_000;
const STALL_MS = REQUEST_TIMEOUT_MS * 1.5;
const WATCHDOG_MS = 3_000;
/** From the broker's return: ready and caught up by then, without a restart. */
const RECOVERY_MS = 30_000;

const secs = (ms: number) => (ms / 1000).toFixed(1);

/** Every /readyz answer that was not 200, with when (ms after `from`) and why. */
class ReadinessLog {
  readonly notReady: { atMs: number; status: number; reasons: string[] }[] = [];
  constructor(private readonly from: number) {}

  record(r: Readiness): void {
    if (r.status !== 200) this.notReady.push({ atMs: Date.now() - this.from, status: r.status, reasons: r.reasons });
  }

  /** Polls until the signal aborts: readiness is sampled, not awaited. */
  async poll(port: number, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      this.record(await readyz(port));
      await delay(250, undefined, { signal }).catch(() => {});
    }
  }

  summary(): string {
    const first = this.notReady[0];
    if (!first) return 'stayed 200';
    const codes = [...new Set(this.notReady.map((n) => n.status))].join('/');
    return `${codes} ${this.notReady.length}× from +${secs(first.atMs)} s (${first.reasons.join(', ') || 'no reason given'})`;
  }
}

/** kafkajs's words for a producer left mid-EndTxn (#1275), counted by the state it was left in. */
function wedgeLines(service: ServiceProcess): string {
  const byState = new Map<string, number>();
  for (const m of service.log().matchAll(/Cannot call \\?"beginTransaction\\?" in state \\?"(\w+)/g)) byState.set(m[1]!, (byState.get(m[1]!) ?? 0) + 1);
  return byState.size ? [...byState].map(([state, n]) => `${n}× in ${state}`).join(', ') : 'none';
}

interface Recovery {
  ok: boolean;
  /** ms after the return at which each held for the first time; undefined if never. */
  ready?: number;
  committedLag0?: number;
  metricLag0?: number;
  all?: number;
  last: string;
}

/** Polls readiness and lag from the broker's return until all hold at once, or RECOVERY_MS passes. */
async function awaitRecovery(run: ChaosRun, port: number, fed: () => boolean, from: number, seen: ReadinessLog): Promise<Recovery> {
  const rec: Recovery = { ok: false, last: 'not sampled' };
  const since = () => Date.now() - from;
  try {
    await waitFor(async () => {
      const [ready, group, metric] = await Promise.all([readyz(port), run.groupLag(), metricLag(port, run.topics.input)]);
      seen.record(ready);
      rec.last = `readyz ${ready.status}${ready.reasons.length ? ` (${ready.reasons.join(', ')})` : ''}, committed lag ${group.lag}, metric lag ${metric ?? 'absent'}, feed ${fed() ? 'done' : 'running'}`;
      // Lag only counts as caught up once the feed has written everything.
      if (ready.status === 200) rec.ready ??= since();
      if (fed() && group.lag === 0) rec.committedLag0 ??= since();
      if (fed() && metric === 0) rec.metricLag0 ??= since();
      // A service that exports no lag series is judged by the committed offsets alone.
      return ready.status === 200 && fed() && group.lag === 0 && (metric ?? 0) === 0;
    }, { timeoutMs: Math.max(0, RECOVERY_MS - since()), intervalMs: 250, what: () => rec.last });
    rec.all = since();
    rec.ok = rec.all <= RECOVERY_MS;
  } catch {
    // Not recovered: the caller reports rec.last.
  }
  return rec;
}

/**
 * The broker stops answering (SIGSTOP) for 1.5× the service's request timeout while records
 * flow, then returns. The service must come back by itself: /readyz 200 and lag 0 within
 * RECOVERY_MS of the return, with the same process; the harness then checks exactly-once.
 */
export const brokerStall: Scenario = {
  name: 'broker-stall',
  quick: true,
  kafka: { requestTimeoutMs: REQUEST_TIMEOUT_MS },
  // Below the stall, so a stall watchdog has the chance to say so on /readyz while it lasts.
  pipeline: { delivery: { stallTimeoutMs: WATCHDOG_MS } },
  async run(run, { records, rate }) {
    if (!run.opts.ownsBroker) {
      run.notes.push('skipped: the broker is not ours to stop (KAFKA_BROKERS)');
      return true;
    }
    const service = run.start('a');
    await service.waitForLog('running');
    const port = await waitFor(() => httpPort(service), { timeoutMs: 10_000, what: `the http port in ${service.logFile}` });
    let fed = false;
    const feeding = run.feed(records, rate);
    feeding.then(() => { fed = true; }, () => { fed = true; });
    // The fault must land mid-stream: transactions are committing and the feed still runs.
    await waitFor(async () => (await run.groupLag()).committed > 0, { timeoutMs: 30_000, intervalMs: 100, what: 'a first committed transaction' });
    if (fed) run.notes.push('warning: the feed ended before the stall');

    const during = new ReadinessLog(Date.now());
    const stall = await stallBroker(STALL_MS, (signal) => during.poll(port, signal));
    const { returnedAt } = stall;
    run.opts.log(`  broker pid ${stall.pid} stopped ${secs(stall.returnedAt - stall.stoppedAt)} s; waiting up to ${secs(RECOVERY_MS)} s for recovery`);
    run.notes.push(`broker SIGSTOP ${secs(stall.returnedAt - stall.stoppedAt)} s (request timeout ${secs(REQUEST_TIMEOUT_MS)} s)`);
    run.notes.push(`/readyz during stall: ${during.summary()}`);

    const after = new ReadinessLog(returnedAt);
    const rec = await awaitRecovery(run, port, () => fed, returnedAt, after);
    const at = (ms?: number) => (ms === undefined ? 'never' : `+${secs(ms)} s`);
    run.notes.push(`after return: readyz 200 ${at(rec.ready)}, committed lag 0 ${at(rec.committedLag0)}, metric lag 0 ${at(rec.metricLag0)}; /readyz not 200: ${after.summary()}`);
    // kafkajs's own retries are logged at debug only, so the service's counters say what the stall did.
    const [transactions, retries] = await Promise.all([
      metricByLabel(port, 'streamscore_transactions_total', 'result'), metricByLabel(port, 'streamscore_retries_total', 'code'),
    ]);
    run.notes.push(`transactions: ${transactions}; retries: ${retries}; beginTransaction refused: ${wedgeLines(service)}`);
    await feeding;
    if (rec.ok) {
      run.notes.push(`recovered without restart in ${secs(rec.all!)} s`);
      return true;
    }
    run.notes.push(`NOT recovered within ${secs(RECOVERY_MS)} s (${rec.last})`);
    // Stop the stuck instance, so the harness's settler finishes the input and the
    // exactly-once checks still say whether any record was lost or doubled.
    service.signal('SIGTERM');
    await service.exit(20_000).catch(() => service.kill());
    run.notes.push('stuck instance stopped; a fresh one settles for the exactly-once checks');
    return false;
  },
};
