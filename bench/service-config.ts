import { parseConfig } from '../src/config/load.js';
import type { DeliveryMode, StreamscoreConfig } from '../src/config/types.js';
import { repo } from '../test/support/paths.js';

/** What a bench run varies in streamscore's config. */
export interface RunSettings {
  delivery: DeliveryMode;
  maxBatchSize: number;
  maxQueueDelayMs: number;
  /** delivery.commitIntervalMs; the service's default when left out. */
  commitIntervalMs?: number;
  /** delivery.producers; the service's default when left out. */
  producers?: number;
  /** model.shadow: a shadow model scoring beside the primary (its topic is ServiceTopics.shadow). */
  shadowModel?: string;
}

export interface ServiceTopics {
  input: string;
  groupId: string;
  scored: string;
  alerts: string;
  dlq: string;
  shadow?: string;
}

/**
 * The streamscore config of every bench run: the drains, the latency points, the batching
 * sweep and bench:profile all start the service with this, so a service option set for the
 * bench is one line here. It goes through parseConfig (no environment), which fills every
 * default: an option the service gains later applies at its default without a change here.
 */
export function serviceConfig(endpoints: { brokers: string[]; registryUrl: string }, t: ServiceTopics, s: RunSettings): StreamscoreConfig {
  return parseConfig(JSON.stringify({
    kafka: { brokers: endpoints.brokers, clientId: 'bench' },
    schemaRegistry: { url: endpoints.registryUrl },
    http: { port: 0, host: '127.0.0.1' },
    log: { level: 'warn' },
    pipelines: [{
      name: 'fraud', inputs: [t.input], groupId: t.groupId, codec: 'avro', readerSchema: repo('schemas/card-transaction.avsc'),
      model: { path: repo('models/fraud.onnx'), ...(s.shadowModel ? { shadow: s.shadowModel } : {}) }, features: { columns: { hourOfDay: { from: 'eventTime', transform: 'hourOfDayUtc' } } },
      batching: { maxBatchSize: s.maxBatchSize, maxQueueDelayMs: s.maxQueueDelayMs, maxQueuedRecords: Math.max(10_000, s.maxBatchSize * 8) },
      outputs: { scored: { topic: t.scored, schema: repo('schemas/scored-transaction.avsc') }, alerts: { topic: t.alerts, schema: repo('schemas/fraud-alert.avsc') }, deadLetter: { topic: t.dlq }, ...(s.shadowModel ? { shadow: { topic: t.shadow, schema: repo('schemas/shadow-score.avsc') } } : {}) },
      delivery: { mode: s.delivery, ...(s.commitIntervalMs === undefined ? {} : { commitIntervalMs: s.commitIntervalMs }), ...(s.producers === undefined ? {} : { producers: s.producers }) },
    }],
  }), { env: {} });
}
