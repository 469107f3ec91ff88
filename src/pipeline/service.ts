import type { Registry } from 'prom-client';
import { createRegistryClient } from '../codec/schema-registry.js';
import type { StreamscoreConfig } from '../config/types.js';
import { type Clock, type Timers, systemClock, systemTimers } from '../observability/clock.js';
import { HttpServer } from '../observability/http-server.js';
import type { Logger } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import { Pipeline } from './pipeline.js';

export interface ServiceDeps {
  config: StreamscoreConfig;
  logger: Logger;
  registry: Registry;
  clock?: Clock;
  timers?: Timers;
  /** Serve /metrics, /healthz, /readyz (off in most tests). */
  http?: boolean;
}

/** All pipelines of one config plus the HTTP endpoints; start in order, close in reverse. */
export class Service {
  readonly pipelines: Pipeline[];
  readonly metrics: Metrics;
  private readonly http: HttpServer | undefined;
  httpPort: number | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly deps: ServiceDeps) {
    const { config, logger } = deps;
    this.metrics = deps.http === false ? new Metrics(deps.registry) : Metrics.withProcessMetrics(deps.registry);
    const schemaRegistry = config.schemaRegistry ? createRegistryClient(config.schemaRegistry) : undefined;
    this.pipelines = config.pipelines.map((pipeline) => new Pipeline({
      config, pipeline, logger, metrics: this.metrics, registry: schemaRegistry,
      clock: deps.clock ?? systemClock, timers: deps.timers ?? systemTimers,
    }));
    this.http = deps.http === false ? undefined : new HttpServer(deps.registry, { notReady: () => this.notReady(), unhealthy: () => this.unhealthy() });
  }

  notReady(): string[] {
    return this.pipelines.flatMap((p) => p.notReady());
  }

  /** Pipelines whose consumer is gone for good: only a restart helps, so liveness fails. */
  unhealthy(): string[] {
    return this.pipelines.filter((p) => p.dead).map((p) => `${p.name}: the Kafka consumer crashed and will not restart`);
  }

  async start(): Promise<void> {
    if (this.http) {
      this.httpPort = await this.http.start(this.deps.config.http.port, this.deps.config.http.host);
      this.deps.logger.info({ port: this.httpPort, host: this.deps.config.http.host }, 'http: /metrics /healthz /readyz');
    }
    try {
      for (const p of this.pipelines) await p.start();
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all(this.pipelines.map((p) => p.close()));
      await this.http?.close();
    })();
    return this.closing;
  }
}
