import type { Registry } from 'prom-client';
import { AdminApi, type ModelAdmin } from '../admin/admin-api.js';
import { createRegistryClient } from '../codec/schema-registry.js';
import { StreamscoreError } from '../errors.js';
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
    const admin = config.http.admin ? new AdminApi(config.http.admin.token, this.modelAdmin(), logger.child({ component: 'admin' })) : undefined;
    this.http = deps.http === false ? undefined : new HttpServer(deps.registry, { notReady: () => this.notReady(), unhealthy: () => this.unhealthy() }, admin);
  }

  /** What the admin API may do to this service. */
  modelAdmin(): ModelAdmin {
    const find = (name: string) => {
      const p = this.pipelines.find((x) => x.name === name);
      if (!p) throw new StreamscoreError('ADMIN_NOT_FOUND', `no pipeline '${name}' (pipelines: ${this.pipelines.map((x) => x.name).join(', ')})`);
      return p;
    };
    return {
      pipelines: () => this.pipelines.map((p) => {
        const m = p.modelSlot;
        return { name: p.name, model: m?.serving, shadow: m?.shadow, canary: m?.canary, canaryRemoved: m?.canaryRemoval };
      }),
      swap: async (name, file) => find(name).models().swap(file),
      setShadow: async (name, file) => find(name).models().setShadow(file),
      clearShadow: async (name) => find(name).models().clearShadow(),
      setCanary: async (name, file, share) => find(name).models().setCanary(file, share),
      clearCanary: async (name) => find(name).models().clearCanary(),
      promoteCanary: async (name) => find(name).models().promoteCanary(),
    };
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
      this.deps.logger.info({ port: this.httpPort, host: this.deps.config.http.host, admin: Boolean(this.deps.config.http.admin) }, `http: /metrics /healthz /readyz${this.deps.config.http.admin ? ' /admin' : ''}`);
    }
    try {
      for (const p of this.pipelines) await p.start();
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /**
   * SIGHUP: applies the `model` sections of a re-read config through the same swap as the admin
   * API. Anything else that changed needs a restart, and the log says so; a refused model is
   * logged by its pipeline and the serving one stays.
   */
  async applyModelSections(next: StreamscoreConfig): Promise<{ swapped: string[]; refused: string[]; unchanged: string[] }> {
    const log = this.deps.logger;
    const withoutModels = (c: StreamscoreConfig) => JSON.stringify({ ...c, pipelines: c.pipelines.map((p) => ({ ...p, model: undefined })) });
    if (withoutModels(next) !== withoutModels(this.deps.config)) log.warn('config changed outside the pipelines\' model sections: that takes a restart; only model sections were applied');
    const result = { swapped: [] as string[], refused: [] as string[], unchanged: [] as string[] };
    // The primary's own fields; the shadow is compared (and applied) on its own.
    const primaryOf = (m: StreamscoreConfig['pipelines'][number]['model'] | undefined) => m && JSON.stringify({ ...m, shadow: undefined });
    await Promise.all(this.pipelines.map(async (p) => {
      const section = next.pipelines.find((x) => x.name === p.name)?.model;
      const swap = section && primaryOf(section) !== primaryOf(p.modelSlot?.section);
      const shadowChanged = section && section.shadow !== p.modelSlot?.shadow?.path;
      if (!swap && !shadowChanged) {
        result.unchanged.push(p.name);
        return;
      }
      // The model first, then its shadow (checked against the model serving then), each applied
      // and reported on its own: one refused leaves the other. Refusals are logged by the pipeline.
      const apply = async (what: string, change: () => Promise<unknown>) => {
        try {
          await change();
          result.swapped.push(what);
        } catch (err) {
          if ((err as StreamscoreError).code === 'PIPELINE_NOT_RUNNING') log.warn({ pipeline: p.name, err: (err as Error).message }, 'model section not applied');
          result.refused.push(what);
        }
      };
      if (swap) await apply(p.name, () => p.models().swap(section.path, section));
      if (shadowChanged) await apply(`${p.name} shadow`, () => (section.shadow ? p.models().setShadow(section.shadow) : p.models().clearShadow()));
    }));
    return result;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all(this.pipelines.map((p) => p.close()));
      await this.http?.close();
    })();
    return this.closing;
  }
}
