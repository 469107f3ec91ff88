import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Registry } from 'prom-client';
import { parseConfig } from '../../src/config/load.js';
import { type CertFiles, createCa, issueCert } from '../../src/devstack/tls.js';
import type { StreamscoreError } from '../../src/errors.js';
import { Service } from '../../src/pipeline/service.js';
import { captureLog } from '../support/capture-log.js';
import { kafkaForSuite, readTopic, uniqueName } from '../support/kafka.js';
import { avroEncoder, createFraudTopics, decodeOutput, fraudConfig, goldenEvents, produce, repo, type FraudTopics } from '../support/pipeline-fixtures.js';

const listeners = inject('tls');

interface KafkaAccess {
  brokers: string[];
  ssl?: { caFile: string; certFile?: string; keyFile?: string };
  sasl?: { username: string; password: string };
}

/**
 * The fraud pipeline's config with its Kafka access (and registry) replaced; the password
 * goes through ${VAR} as a user's would.
 */
function configFor(topics: FraudTopics, access: KafkaAccess, registry?: { url: string; caFile: string }) {
  const base = fraudConfig(topics);
  const sasl = access.sasl && { mechanism: 'scram-sha-512', username: access.sasl.username, password: '${KAFKA_PASSWORD}' };
  const schemaRegistry = registry ? { url: registry.url, tls: { caFile: registry.caFile } } : base.schemaRegistry;
  return parseConfig(JSON.stringify({ ...base, schemaRegistry, kafka: { ...base.kafka, brokers: access.brokers, ssl: access.ssl, sasl } }), {
    env: { KAFKA_PASSWORD: access.sasl?.password },
  });
}

/** Material that must never reach an error message or a log line. */
function secretsOf(access: KafkaAccess): string[] {
  const secrets = access.sasl ? [access.sasl.password] : [];
  if (access.ssl?.keyFile) {
    const key = fs.readFileSync(access.ssl.keyFile, 'utf8');
    secrets.push(...key.split('\n').filter((line) => line.length > 20 && !line.startsWith('-----')));
  }
  return secrets;
}

/** Starting fails with KAFKA_TLS_FAILED, fast, naming the broker, and showing no secret. */
async function expectTlsFailure(access: KafkaAccess, reason: RegExp) {
  const topics: FraudTopics = { input: uniqueName('tls-in'), scored: uniqueName('tls-scored'), alerts: uniqueName('tls-alerts'), dlq: uniqueName('tls-dlq'), group: uniqueName('tls-group') };
  const { logger, text } = captureLog();
  const service = new Service({ config: configFor(topics, access), logger, registry: new Registry(), http: false });
  const started = performance.now();
  const err = await service.start().then(() => undefined, (e: unknown) => e as StreamscoreError);
  const seconds = (performance.now() - started) / 1000;
  await service.close();
  expect(err?.code, err?.message).toBe('KAFKA_TLS_FAILED');
  expect(err?.canRetry).toBe(false);
  // Model load and schema registration included: the Kafka part itself takes milliseconds.
  expect(seconds).toBeLessThan(5);
  expect(err?.message).toContain(access.brokers[0]);
  expect(err?.message).toMatch(reason);
  for (const secret of secretsOf(access)) {
    expect(err?.message).not.toContain(secret);
    expect(text()).not.toContain(secret);
  }
  expect(err?.message).not.toContain('PRIVATE KEY');
}

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'streamscore-tls-test-'));
let otherCa: CertFiles;
let testCa: CertFiles;
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));
beforeAll(() => {
  otherCa = createCa(scratch, 'other-ca', 'a CA the brokers do not use');
  testCa = createCa(scratch, 'test-ca', 'streamscore test CA');
});

/** Describes why a block is skipped: an external cluster whose TLS endpoints were not described. */
const unless = (have: unknown, what: string) => (have ? '' : ` (skipped: an external cluster without ${what})`);

describe('TLS to the real broker and registry', () => {
  const { kafka, admin } = kafkaForSuite();
  // Local servers started before their TLS endpoints existed: fail with how to fix it, not skip.
  beforeAll(() => {
    if (listeners?.problem) throw new Error(listeners.problem);
  });

  async function scoresEndToEnd(access: KafkaAccess, registry?: { url: string; caFile: string }) {
    const topics = await createFraudTopics(admin, 1);
    const { encode } = await avroEncoder(topics.input);
    const golden = goldenEvents('fraud').slice(0, 50);
    await produce(kafka, topics.input, golden.map(({ event }) => ({ key: String(event.cardId), value: encode(event) })));
    const { logger, text } = captureLog();
    const service = new Service({ config: configFor(topics, access, registry), logger, registry: new Registry(), http: false });
    try {
      await service.start();
      const scored = await readTopic(kafka, topics.scored, { until: (r) => r.length >= golden.length });
      expect(scored).toHaveLength(golden.length);
      const expected = new Map(golden.map((g) => [g.event.transactionId, g.score]));
      for (const m of scored) {
        const r = decodeOutput(repo('schemas/scored-transaction.avsc'), m);
        expect(Math.abs((r.score as number) - expected.get(r.transactionId)!)).toBeLessThan(1e-5);
      }
    } finally {
      await service.close();
    }
    for (const secret of secretsOf(access)) expect(text()).not.toContain(secret);
  }

  describe.skipIf(!listeners?.ssl)(`SSL listener${unless(listeners?.ssl, 'KAFKA_TLS_BROKERS and KAFKA_TLS_CA_FILE')}`, () => {
    it('scores end to end over TLS, the broker certificate verified against the CA', async () => {
      const { brokers, caFile } = listeners!.ssl!;
      await scoresEndToEnd({ brokers, ssl: { caFile } });
    });

    it('a CA that did not sign the broker certificate fails at start with KAFKA_TLS_FAILED', async () => {
      // A client key in the config too, to show that no key material reaches the message or the log.
      const client = issueCert(scratch, 'wrong-ca-client', otherCa, { commonName: 'streamscore-client', usage: 'client' });
      await expectTlsFailure({ brokers: listeners!.ssl!.brokers, ssl: { caFile: otherCa.certFile, ...client } }, /not signed by a CA we trust|CA we do not trust/);
    });
  });

  describe.skipIf(!listeners?.mtls)(`mutual TLS listener${unless(listeners?.mtls, 'KAFKA_MTLS_BROKERS, KAFKA_TLS_CERT_FILE, KAFKA_TLS_KEY_FILE and KAFKA_TLS_CA_FILE')}`, () => {
    it('scores end to end with a client certificate', async () => {
      const { brokers, ...ssl } = listeners!.mtls!;
      await scoresEndToEnd({ brokers, ssl });
    });

    it('no client certificate fails at start with KAFKA_TLS_FAILED', async () => {
      const { brokers, caFile } = listeners!.mtls!;
      await expectTlsFailure({ brokers, ssl: { caFile } }, /requires a client certificate and none is configured/);
    });
  });

  describe.skipIf(!listeners?.saslSsl)(`SASL_SSL listener${unless(listeners?.saslSsl, 'KAFKA_SASL_SSL_BROKERS, KAFKA_SCRAM_USERNAME, KAFKA_SCRAM_PASSWORD and KAFKA_TLS_CA_FILE')}`, () => {
    it('scores end to end with SCRAM-SHA-512 over TLS, and no secret reaches a log line', async () => {
      const { brokers, caFile, ...sasl } = listeners!.saslSsl!;
      await scoresEndToEnd({ brokers, ssl: { caFile }, sasl });
    });

    it('a wrong CA fails at start with KAFKA_TLS_FAILED, the password in neither message nor log', async () => {
      const { brokers, username, password } = listeners!.saslSsl!;
      await expectTlsFailure({ brokers, ssl: { caFile: otherCa.certFile }, sasl: { username, password } }, /not signed by a CA we trust|CA we do not trust/);
    });
  });

  describe.skipIf(!listeners?.registryHttps)(`schema registry over HTTPS${unless(listeners?.registryHttps, 'SCHEMA_REGISTRY_HTTPS_URL and SCHEMA_REGISTRY_CA_FILE')}`, () => {
    it('scores end to end with the registry reached over HTTPS, its certificate verified against the CA', async () => {
      await scoresEndToEnd({ brokers: inject('kafkaBrokers') }, listeners!.registryHttps!);
    });
  });
});

/**
 * A broker presents one certificate, so an expired one and one for another host are served
 * by a TLS server of our own: the client fails in the handshake, before any Kafka request.
 */
describe('a broker certificate the client must refuse', () => {
  async function serving(cert: CertFiles): Promise<{ address: string; close: () => void }> {
    const server = tls.createServer({ cert: fs.readFileSync(cert.certFile), key: fs.readFileSync(cert.keyFile) }, (socket) => socket.destroy());
    // The client aborts the handshake: that is the point, not an error here.
    server.on('tlsClientError', () => {});
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    return { address: `127.0.0.1:${port}`, close: () => server.close() };
  }

  it('an expired certificate fails at start with KAFKA_TLS_FAILED', async () => {
    const expired = issueCert(scratch, 'expired', testCa, { commonName: 'localhost', altNames: ['IP:127.0.0.1', 'DNS:localhost'], usage: 'server', days: -1 });
    const server = await serving(expired);
    try {
      await expectTlsFailure({ brokers: [server.address], ssl: { caFile: testCa.certFile } }, /certificate has expired/);
    } finally {
      server.close();
    }
  });

  it('a certificate for another host fails at start with KAFKA_TLS_FAILED', async () => {
    const elsewhere = issueCert(scratch, 'elsewhere', testCa, { commonName: 'kafka.example.com', altNames: ['DNS:kafka.example.com', 'IP:10.0.0.1'], usage: 'server' });
    const server = await serving(elsewhere);
    try {
      await expectTlsFailure({ brokers: [server.address], ssl: { caFile: testCa.certFile } }, /for another host name or address .*127\.0\.0\.1/);
    } finally {
      server.close();
    }
  });
});
