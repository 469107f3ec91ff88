import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { repo } from '../support/paths.js';

// Tests edit the document freely to break it in chosen ways.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = Record<string, any>;

const minimal = () => ({
  kafka: { brokers: ['127.0.0.1:9092'] },
  schemaRegistry: { url: 'http://127.0.0.1:8081/apis/ccompat/v7' },
  pipelines: [{
    name: 'fraud',
    inputs: ['transactions'],
    groupId: 'streamscore-fraud',
    readerSchema: repo('schemas/card-transaction.avsc'),
    model: { path: repo('models/fraud.onnx') },
    outputs: { scored: { topic: 'transactions.scored' }, alerts: { topic: 'fraud-alerts' }, deadLetter: { topic: 'transactions.dlq' } },
  }],
});

function problemsOf(doc: unknown, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(typeof doc === 'string' ? doc : JSON.stringify(doc), { env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('CONFIG_INVALID');
    return (err as ConfigError).problems;
  }
  throw new Error('expected the config to be refused');
}

describe('config', () => {
  it('fills defaults from the one DEFAULTS constant and freezes the result', () => {
    const config = parseConfig(JSON.stringify(minimal()), { env: {} });
    const p = config.pipelines[0]!;
    expect(p.codec).toBe('avro');
    expect(p.delivery).toEqual({ mode: 'exactly-once', commitIntervalMs: 10, producers: 2, stallTimeoutMs: 30_000 });
    expect(p.batching).toEqual({ maxBatchSize: 256, maxQueueDelayMs: 5, preferredBatchSizes: [], maxQueuedRecords: 10_000 });
    expect(p.model.executionProviders).toEqual(['cpu']);
    expect(config.kafka.transactionTimeoutMs).toBe(10_000);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(p.batching)).toBe(true);
    expect(() => { (p.batching as { maxBatchSize: number }).maxBatchSize = 1; }).toThrow(TypeError);
  });

  it('lists every problem at once, each with its path', () => {
    const doc = minimal() as Loose;
    doc.kafka.brokers = ['no-port'];
    doc.kafka.colour = 'blue';
    doc.pipelines[0].batching = { maxBatchSize: 0 };
    doc.pipelines[0].delivery = 'twice';
    delete doc.pipelines[0].groupId;
    const problems = problemsOf(doc);
    expect(problems).toEqual(expect.arrayContaining([
      expect.stringMatching(/^\/kafka\/brokers\/0: /),
      "/kafka: unknown key 'colour'",
      expect.stringMatching(/^\/pipelines\/0\/batching\/maxBatchSize: /),
      '/pipelines/0/delivery/mode: must be one of exactly-once, at-least-once',
      "/pipelines/0: missing 'groupId'",
    ]));
    expect(problems).toHaveLength(5);
  });

  it('applies rules that span fields', () => {
    const doc = minimal() as Loose;
    doc.pipelines[0].batching = { maxBatchSize: 64, preferredBatchSizes: [32, 128], maxQueuedRecords: 10 };
    doc.pipelines[0].outputs.alerts.topic = 'transactions';
    doc.pipelines.push({ ...doc.pipelines[0], model: { path: 'missing.onnx' } });
    delete doc.schemaRegistry;
    const problems = problemsOf(doc);
    expect(problems).toEqual(expect.arrayContaining([
      "/pipelines/1/name: 'fraud' is used by another pipeline",
      '/pipelines/0/batching/preferredBatchSizes: 128 exceeds maxBatchSize 64',
      '/pipelines/0/batching/maxQueuedRecords: must be at least maxBatchSize (64)',
      "/pipelines/0/outputs: 'transactions' is also an input topic",
      "/schemaRegistry: required by pipeline 'fraud' (codec avro)",
      expect.stringMatching(/^\/pipelines\/1: file not found: .*missing\.onnx$/),
    ]));
  });

  it('refuses TLS files that are not there, and a client certificate without its key', () => {
    const doc = minimal() as Loose;
    doc.kafka.ssl = { caFile: 'no-such-ca.pem', certFile: repo('schemas/card-transaction.avsc') };
    doc.schemaRegistry.tls = { keyFile: 'no-such-key.pem', certFile: 'no-such-cert.pem' };
    expect(problemsOf(doc)).toEqual([
      '/kafka/ssl: certFile and keyFile go together',
      `/kafka/ssl/caFile: file not found: ${repo('no-such-ca.pem')}`,
      `/schemaRegistry/tls/certFile: file not found: ${repo('no-such-cert.pem')}`,
      `/schemaRegistry/tls/keyFile: file not found: ${repo('no-such-key.pem')}`,
    ]);
  });

  it('interpolates ${VAR}, ${VAR:-default} and reports unset variables', () => {
    const doc = minimal() as Loose;
    doc.kafka.sasl = { mechanism: 'scram-sha-512', username: '${KAFKA_USER:-streamscore}', password: '${KAFKA_PASSWORD}' };
    const config = parseConfig(JSON.stringify(doc), { env: { KAFKA_PASSWORD: 's3cret' } });
    expect(config.kafka.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'streamscore', password: 's3cret' });
    expect(problemsOf(doc, {})).toEqual(['/kafka/sasl/password: environment variable KAFKA_PASSWORD is not set']);
  });

  it('http.admin.token: an unset ${VAR:-} leaves the admin API off; a set token shorter than 16 characters is refused', () => {
    const doc = minimal() as Loose;
    doc.http = { admin: { token: '${STREAMSCORE_ADMIN_TOKEN:-}' } };
    expect(parseConfig(JSON.stringify(doc), { env: {} }).http.admin).toBeUndefined();
    expect(parseConfig(JSON.stringify(doc), { env: { STREAMSCORE_ADMIN_TOKEN: 'x'.repeat(16) } }).http.admin).toEqual({ token: 'x'.repeat(16) });
    expect(problemsOf(doc, { STREAMSCORE_ADMIN_TOKEN: 'short' })).toEqual(['/http/admin/token: must NOT have fewer than 16 characters']);
  });

  it('lets KAFKA_BROKERS and SCHEMA_REGISTRY_URL point the config at another cluster', () => {
    const config = parseConfig(JSON.stringify(minimal()), { env: { KAFKA_BROKERS: 'a:1,b:2', SCHEMA_REGISTRY_URL: 'https://sr:8081' } });
    expect(config.kafka.brokers).toEqual(['a:1', 'b:2']);
    expect(config.schemaRegistry?.url).toBe('https://sr:8081');
  });

  it('refuses YAML that is not a mapping', () => {
    expect(problemsOf('- just\n- a list\n')).toEqual(['the file must hold a mapping (key: value)']);
    expect(problemsOf('kafka: [unclosed')[0]).toMatch(/^not valid YAML/);
  });
});
