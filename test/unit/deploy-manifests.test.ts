import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Service } from 'kubernetes-models/v1/Service';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { parseConfig } from '../../src/config/load.js';
import { repo } from '../support/paths.js';

// The JSON schemas these packages carry are Kubernetes' own (and KEDA's and the Prometheus
// operator's CRD schemas): validate() throws on any field they do not allow.
const models: Record<string, new (data: never) => { validate(): void }> = {
  Deployment: Deployment as never, Service: Service as never, PodDisruptionBudget: PodDisruptionBudget as never,
  ScaledObject: ScaledObject as never, ServiceMonitor: ServiceMonitor as never,
};

describe('deploy/', () => {
  for (const file of ['deployment.yaml', 'service.yaml', 'pdb.yaml', 'keda-scaledobject.yaml', 'servicemonitor.yaml']) {
    it(`k8s/${file} validates against its schema`, () => {
      const doc = YAML.parse(fs.readFileSync(repo('deploy/k8s', file), 'utf8'));
      const Model = models[doc.kind];
      expect(Model, `no validator for kind ${doc.kind}`).toBeDefined();
      expect(() => new Model!(doc as never).validate()).not.toThrow();
    });
  }

  it('a broken manifest is refused (the validator really checks)', () => {
    const doc = YAML.parse(fs.readFileSync(repo('deploy/k8s/deployment.yaml'), 'utf8'));
    doc.spec.replicas = 'many';
    expect(() => new Deployment(doc).validate()).toThrow();
  });

  it('KEDA never scales past the input partition count', () => {
    const scaled = YAML.parse(fs.readFileSync(repo('deploy/k8s/keda-scaledobject.yaml'), 'utf8'));
    expect(scaled.spec.maxReplicaCount).toBeLessThanOrEqual(6);
  });

  it('the image config is a valid streamscore config', () => {
    const text = fs.readFileSync(repo('deploy/streamscore.yaml'), 'utf8');
    const config = parseConfig(text, { env: { KAFKA_BROKERS: 'kafka:9092' }, baseDir: repo('deploy') });
    expect(config.pipelines.map((p) => p.name)).toEqual(['fraud', 'iot']);
  });

  it('the Grafana dashboard charts metrics the service exports', async () => {
    const dashboard = JSON.parse(fs.readFileSync(repo('deploy/grafana/streamscore-dashboard.json'), 'utf8'));
    const exprs: string[] = dashboard.panels.flatMap((p: { targets: { expr: string }[] }) => p.targets.map((t) => t.expr));
    const { Registry } = await import('prom-client');
    const { Metrics } = await import('../../src/observability/metrics.js');
    const registry = new Registry();
    Metrics.withProcessMetrics(registry);
    const exported = new Set((await registry.getMetricsAsJSON()).map((m) => m.name));
    for (const name of new Set(exprs.flatMap((e) => e.match(/streamscore_[a-z_]+/g) ?? []))) {
      const base = name.replace(/_(bucket|sum|count)$/, '');
      expect(exported.has(base) || exported.has(name), `${name} is not exported`).toBe(true);
    }
  });

  it('the image starts node with the project\'s memory flags (the young generation cannot be sized from inside the process)', async () => {
    const { NODE_MEMORY_FLAGS } = await import('../../src/runtime/heap-growth.js');
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(fs.readFileSync(repo('deploy/Dockerfile'), 'utf8'))?.[1];
    const args = JSON.parse(entrypoint ?? '[]') as string[];
    expect(args[0]).toBe('node');
    for (const flag of NODE_MEMORY_FLAGS) expect(args.indexOf(flag), flag).toBeGreaterThan(0);
    expect(args.indexOf('dist/cli/main.js')).toBeGreaterThan(Math.max(...NODE_MEMORY_FLAGS.map((f) => args.indexOf(f))));
  });
});
