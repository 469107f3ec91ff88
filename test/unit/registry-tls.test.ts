import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistryClient, registryErrorToCoded } from '../../src/codec/schema-registry.js';
import { createCa, issueCert } from '../../src/devstack/tls.js';

/** An HTTPS server that answers every registration with id 7, under a certificate from its own CA. */
describe('the schema registry over TLS', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamscore-registry-tls-'));
  const ca = createCa(dir, 'ca', 'registry test CA');
  const otherCa = createCa(dir, 'other', 'some other CA');
  const server = issueCert(dir, 'server', ca, { usage: 'server', commonName: '127.0.0.1', altNames: ['IP:127.0.0.1'] });
  const httpsServer = https.createServer({ cert: fs.readFileSync(server.certFile), key: fs.readFileSync(server.keyFile) }, (_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ id: 7 }));
  });
  let url = '';
  beforeAll(async () => {
    await new Promise<void>((resolve) => httpsServer.listen(0, '127.0.0.1', resolve));
    url = `https://127.0.0.1:${(httpsServer.address() as { port: number }).port}`;
  });
  afterAll(() => {
    httpsServer.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const register = (caFile: string) => createRegistryClient({ url, tls: { caFile, rejectUnauthorized: true } } as never)
    .register('out-value', { schemaType: 'AVRO', schema: '"string"' } as never);

  it('registers with the right CA', async () => {
    expect(await register(ca.certFile)).toBe(7);
  });

  it('codes a certificate it cannot verify as REGISTRY_TLS_FAILED (fatal: reported at once, not an outage), naming what to check', async () => {
    const err = await register(otherCa.certFile).then(() => undefined, (e: unknown) => registryErrorToCoded(e, 'registering out.avsc'));
    expect(err?.code).toBe('REGISTRY_TLS_FAILED');
    expect(err?.canRetry).toBe(false);
    expect(err?.deadLetter).toBe(false);
    expect(err?.message).toMatch(/^registering out\.avsc: TLS to the schema registry failed: .*\[UNABLE_TO_VERIFY_LEAF_SIGNATURE\]: check schemaRegistry\.tls/);
    // The registry client tries a failed request again three times with backoff (3-7 s here) before it throws.
  }, 30_000);
});
