import type { ServiceProcess } from '../support/service-process.js';

/**
 * The chaos instances listen on port 0 (several run side by side), so the port each one chose
 * is read back from its start-up log line, the one that names /readyz.
 */
export function httpPort(instance: ServiceProcess): number | undefined {
  for (const line of instance.log().split('\n')) {
    if (!line.includes('/readyz')) continue;
    try {
      const { port } = JSON.parse(line) as { port?: unknown };
      if (typeof port === 'number') return port;
    } catch {
      // The last line may be half-written; the next poll reads it whole.
    }
  }
  return undefined;
}

export interface Readiness {
  status: number;
  reasons: string[];
}

/** GET /readyz; a refused or timed-out request answers status 0 (the service process did not answer). */
export async function readyz(port: number): Promise<Readiness> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2_000) });
    const body = (await res.json().catch(() => ({}))) as { reasons?: string[] };
    return { status: res.status, reasons: body.reasons ?? [] };
  } catch (err) {
    return { status: 0, reasons: [(err as Error).message] };
  }
}

/**
 * The sum of the service's own `streamscore_consumer_lag` series for `topic`, from /metrics;
 * undefined when it exports none for that topic (no batch seen yet) or does not answer.
 */
export async function metricLag(port: number, topic: string): Promise<number | undefined> {
  let text: string;
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2_000) });
    text = await res.text();
  } catch {
    return undefined;
  }
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith('streamscore_consumer_lag{') || !line.includes(`topic="${topic}"`)) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) sum = (sum ?? 0) + value;
  }
  return sum;
}

/**
 * A counter's values summed by one label (e.g. streamscore_transactions_total by result),
 * as "a 12, b 3"; what the service did about the fault when its log keeps retries quiet.
 */
export async function metricByLabel(port: number, name: string, label: string): Promise<string> {
  let text: string;
  try {
    text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2_000) })).text();
  } catch (err) {
    return `unavailable (${(err as Error).message})`;
  }
  const sums = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const key = new RegExp(`${label}="([^"]*)"`).exec(line)?.[1] ?? '?';
    sums.set(key, (sums.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return sums.size ? [...sums].map(([k, v]) => `${k} ${v}`).join(', ') : 'none';
}
