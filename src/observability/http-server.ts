import http from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Registry } from 'prom-client';
import type { AdminApi } from '../admin/admin-api.js';

export interface Probe {
  /** Empty when ready; otherwise what is missing, one reason per entry. */
  notReady(): string[];
  /** Empty while alive; otherwise why only a restart helps. */
  unhealthy(): string[];
}

/** The event loop counts as stalled when one turn took longer than this. */
const STALL_MS = 5_000;

/**
 * /metrics (Prometheus text), /healthz (the process answers, its event loop is not stalled
 * and no consumer is gone for good) and /readyz (models loaded, consumers joined, no
 * partition stalled or failing); /admin/… when the admin API is on.
 */
export class HttpServer {
  private server: http.Server | undefined;
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 20 });

  constructor(private readonly registry: Registry, private readonly probe: Probe, private readonly admin?: AdminApi) {}

  async start(port: number, host: string): Promise<number> {
    this.loopDelay.enable();
    this.server = http.createServer((req, res) => {
      // A fault of ours answers 500; it must never become an unhandled rejection that ends the process.
      this.handle(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => resolve());
    });
    return (this.server.address() as { port: number }).port;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      const body = await this.registry.metrics();
      res.writeHead(200, { 'content-type': this.registry.contentType }).end(body);
    } else if (path === '/healthz') {
      const maxMs = this.loopDelay.max / 1e6;
      this.loopDelay.reset();
      const reasons = this.probe.unhealthy();
      if (maxMs >= STALL_MS) reasons.push(`event loop stalled for ${Math.round(maxMs)} ms`);
      const ok = reasons.length === 0;
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: ok ? 'ok' : 'unhealthy', reasons, eventLoopMaxDelayMs: Math.round(maxMs) }));
    } else if (path === '/readyz') {
      const reasons = this.probe.notReady();
      res.writeHead(reasons.length ? 503 : 200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: reasons.length ? 'not ready' : 'ready', reasons }));
    } else if (this.admin && (path === '/admin' || path?.startsWith('/admin/'))) {
      await this.admin.handle(req, res, path);
    } else {
      res.writeHead(404).end();
    }
  }

  async close(): Promise<void> {
    this.loopDelay.disable();
    if (!this.server) return;
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}
