import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded, KafkaJSSASLAuthenticationError } from 'kafkajs';
import { createCa, issueCert } from '../../src/devstack/tls.js';
import { KafkaAdmin } from '../../src/kafka/admin.js';
import { KafkaClient } from '../../src/kafka/client.js';
import { kafkaConnectError, tlsFailure } from '../../src/kafka/errors.js';

const k = { brokers: ['b1:9093', 'b2:9093'], sasl: { mechanism: 'scram-sha-512' as const, username: 'svc', password: 'hunter2-secret' } };

/** What kafkajs throws when its connect retries are spent: the socket's error, code kept, inside. */
function asKafkajsThrows(message: string, code: string): Error {
  const cause = new KafkaJSConnectionError(`Connection error: ${message}`, { broker: 'b2:9093', code });
  return new KafkaJSNumberOfRetriesExceeded(cause, { retryCount: 0, retryTime: 300 });
}

describe('kafkaConnectError', () => {
  it.each([
    ['unable to verify the first certificate', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', /not signed by a CA we trust: check kafka.ssl.caFile/],
    ['certificate has expired', 'CERT_HAS_EXPIRED', /certificate has expired/],
    ["Hostname/IP does not match certificate's altnames: Host: b2. is not in the cert's altnames: DNS:other", 'ERR_TLS_CERT_ALTNAME_INVALID', /for another host name or address \(Hostname\/IP does not match/],
    ['tlsv13 alert certificate required', 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', /requires a client certificate and none is configured: set kafka.ssl.certFile and kafka.ssl.keyFile/],
    ['sslv3 alert bad certificate', 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', /requires a client certificate and none is configured/],
    // Node 24's OpenSSL 3.5 names the same alert's protocol SSL/TLS (CI caught the difference).
    ['ssl/tls alert bad certificate', 'ERR_SSL_SSL/TLS_ALERT_BAD_CERTIFICATE', /requires a client certificate and none is configured/],
    ['wrong version number', 'ERR_SSL_WRONG_VERSION_NUMBER', /TLS handshake failed \(wrong version number\)/],
    ['Client network socket disconnected before secure TLS connection was established', 'ECONNRESET', /closed the connection during the TLS handshake: is this a TLS listener\?/],
  ])('codes "%s" (%s) as KAFKA_TLS_FAILED, naming the broker, fatal', (message, code, reason) => {
    const err = kafkaConnectError(asKafkajsThrows(message, code), k);
    expect(err.code).toBe('KAFKA_TLS_FAILED');
    expect(err.canRetry).toBe(false);
    expect(err.message).toMatch(/^TLS to Kafka at b2:9093 failed: /);
    expect(err.message).toMatch(reason);
    expect(err.message).toContain(`[${code}]`);
    expect(err.message).not.toContain(k.sasl.password);
  });

  it('says the broker refused our client certificate when one is configured', () => {
    const withCert = { ...k, ssl: { certFile: '/etc/client.pem', keyFile: '/etc/client.key', rejectUnauthorized: true } };
    expect(kafkaConnectError(asKafkajsThrows('sslv3 alert bad certificate', 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE'), withCert).message)
      .toMatch(/the broker refused our client certificate: check kafka.ssl.certFile and kafka.ssl.keyFile/);
  });

  it('marks only a hang-up mid-handshake as possibly passing: the start-up probe leaves it to the retrying connect', () => {
    expect(tlsFailure(asKafkajsThrows('Client network socket disconnected before secure TLS connection was established', 'ECONNRESET'))?.hungUp).toBe(true);
    expect(tlsFailure(asKafkajsThrows('certificate has expired', 'CERT_HAS_EXPIRED'))?.hungUp).toBeUndefined();
    expect(tlsFailure(asKafkajsThrows('ssl/tls alert bad certificate', 'ERR_SSL_SSL/TLS_ALERT_BAD_CERTIFICATE'))?.alert).toBe('BAD_CERTIFICATE');
  });

  it('keeps a refused login KAFKA_AUTH_FAILED and anything else KAFKA_UNREACHABLE', () => {
    // kafkajs's typings declare no constructor argument; the class takes the message.
    expect(kafkaConnectError(Reflect.construct(KafkaJSSASLAuthenticationError, ['SASL SCRAM SHA512 authentication failed']), k).code).toBe('KAFKA_AUTH_FAILED');
    const refused = kafkaConnectError(asKafkajsThrows('connect ECONNREFUSED 127.0.0.1:9093', 'ECONNREFUSED'), k);
    expect(refused.code).toBe('KAFKA_UNREACHABLE');
    expect(refused.canRetry).toBe(true);
  });
});

describe('TLS certificates for the local stack and the tests', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamscore-tls-unit-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const ca = createCa(dir, 'ca', 'unit test CA');
  const read = (file: string) => new crypto.X509Certificate(fs.readFileSync(file));

  it('issues a server certificate for 127.0.0.1 and localhost, signed by the CA, key readable by its owner only', () => {
    const server = issueCert(dir, 'server', ca, { commonName: 'localhost', altNames: ['IP:127.0.0.1', 'DNS:localhost'], usage: 'server' });
    const cert = read(server.certFile);
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.checkHost('kafka.example.com')).toBeUndefined();
    expect(cert.verify(read(ca.certFile).publicKey)).toBe(true);
    expect(read(ca.certFile).ca).toBe(true);
    expect(fs.statSync(server.keyFile).mode & 0o777).toBe(0o600);
  });

  it('issues an already expired certificate when asked to', () => {
    const expired = issueCert(dir, 'expired', ca, { commonName: 'localhost', usage: 'server', days: -1 });
    expect(Date.parse(read(expired.certFile).validTo)).toBeLessThan(Date.now());
  });

  it('fails a TLS connect at once instead of retrying for seconds: a certificate error is not retried', async () => {
    const other = createCa(dir, 'other', 'a CA the client does not trust');
    const server = issueCert(dir, 'tls-server', other, { commonName: 'localhost', altNames: ['IP:127.0.0.1'], usage: 'server' });
    const listener = tls.createServer({ cert: fs.readFileSync(server.certFile), key: fs.readFileSync(server.keyFile) }, (s) => s.destroy());
    listener.on('tlsClientError', () => {});
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const brokers = [`127.0.0.1:${(listener.address() as { port: number }).port}`];
    const config = { brokers, clientId: 'unit', ssl: { caFile: ca.certFile, rejectUnauthorized: true }, connectionTimeoutMs: 5_000, requestTimeoutMs: 30_000 };
    try {
      const started = performance.now();
      const err = await new KafkaAdmin(new KafkaClient(config, pino({ level: 'silent' }))).connect().then(() => undefined, (e: unknown) => kafkaConnectError(e, config));
      // kafkajs alone retries five times, about ten seconds; one try takes milliseconds.
      expect(performance.now() - started).toBeLessThan(1_000);
      expect(err?.code).toBe('KAFKA_TLS_FAILED');
      expect(err?.message).toContain(brokers[0]);
    } finally {
      listener.close();
    }
  });
});
