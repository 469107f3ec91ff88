import fs from 'node:fs';
import https from 'node:https';
import { SchemaRegistryClient } from '@confluentinc/schemaregistry/dist/schemaregistry-client.js';
import type { SchemaRegistryConfig } from '../config/types.js';
import { StreamscoreError } from '../errors.js';
import { tlsErrorOf } from '../util/tls-error.js';

/** The registry client built from config: basic auth and TLS passed through. */
export function createRegistryClient(config: SchemaRegistryConfig): SchemaRegistryClient {
  const tls = config.tls;
  const httpsAgent = tls
    ? new https.Agent({
        ca: tls.caFile ? fs.readFileSync(tls.caFile) : undefined,
        cert: tls.certFile ? fs.readFileSync(tls.certFile) : undefined,
        key: tls.keyFile ? fs.readFileSync(tls.keyFile) : undefined,
        rejectUnauthorized: tls.rejectUnauthorized,
      })
    : undefined;
  return new SchemaRegistryClient({
    baseURLs: [config.url],
    basicAuthCredentials: config.basicAuth
      ? { credentialsSource: 'USER_INFO', userInfo: `${config.basicAuth.username}:${config.basicAuth.password}` }
      : undefined,
    createAxiosDefaults: httpsAgent ? { httpsAgent } : undefined,
    maxRetries: 3,
  });
}

/** 404 means the id really does not exist: the record is at fault, not the registry. */
export function registryErrorToCoded(err: unknown, what: string): StreamscoreError {
  const status = (err as { status?: number }).status;
  const tls = tlsErrorOf(err);
  if (tls) {
    return new StreamscoreError('REGISTRY_TLS_FAILED', `${what}: TLS to the schema registry failed: ${tls.message} [${tls.code}]: check schemaRegistry.tls (caFile, certFile, keyFile)`, { cause: err });
  }
  if (status === 404) return new StreamscoreError('DECODE_UNKNOWN_SCHEMA', `${what}: not in the schema registry`, { cause: err });
  if (status === 401 || status === 403) return new StreamscoreError('REGISTRY_UNAUTHORIZED', `${what}: the schema registry refused our credentials (HTTP ${status})`, { cause: err });
  return new StreamscoreError('REGISTRY_UNAVAILABLE', `${what}: schema registry error: ${(err as Error).message}`, { cause: err });
}

export type { SchemaRegistryClient };
