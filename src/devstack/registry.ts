import path from 'node:path';
import { StreamscoreError } from '../errors.js';
import { waitFor } from '../util/wait.js';
import { ensureRegistryBuild } from './jars.js';
import { portAnswers } from './kafka.js';
import { localEndpoints, localPorts, paths } from './paths.js';
import { type ManagedProcess, logTail, runningPid, startDetached } from './process.js';
import { ensureLocalTls } from './tls.js';

export const registryProcess: ManagedProcess = { name: 'registry', dir: paths.registryRun, marker: 'streamscore-dev-registry' };

export async function startRegistry(log: (line: string) => void): Promise<{ started: boolean }> {
  if (runningPid(registryProcess) !== undefined) return { started: false };
  if (await portAnswers(localPorts.registry)) {
    throw new StreamscoreError('DEV_PORT_IN_USE', `127.0.0.1:${localPorts.registry} is taken by a process this project did not start; stop it, or set SCHEMA_REGISTRY_URL to use it`);
  }
  const jar = ensureRegistryBuild(log);
  const { server } = ensureLocalTls(log);
  // Schemas live in an H2 file beside the broker's data, so ids stay valid across restarts
  // as long as the topics that reference them do.
  const dbUrl = `jdbc:h2:file:${path.join(registryProcess.dir, 'db')}/registry`;
  startDetached(registryProcess, 'java', [
    '-Xms128m', '-Xmx512m', '-XX:TieredStopAtLevel=1',
    `-Dstreamscore.role=${registryProcess.marker}`,
    '-Dquarkus.http.host=127.0.0.1', `-Dquarkus.http.port=${localPorts.registry}`,
    `-Dquarkus.datasource.jdbc.url=${dbUrl}`,
    '-Dquarkus.http.access-log.enabled=false',
    // HTTPS beside HTTP, with the local CA's server certificate (PEM; Quarkus reads it at run time).
    `-Dquarkus.http.ssl-port=${localPorts.registryHttps}`,
    `-Dquarkus.http.ssl.certificate.files=${server.certFile}`,
    `-Dquarkus.http.ssl.certificate.key-files=${server.keyFile}`,
    '-jar', jar,
  ], registryProcess.dir);
  log(`registry: starting (log: ${path.relative(process.cwd(), path.join(registryProcess.dir, 'registry.log'))})`);
  return { started: true };
}

/** Ready when the Confluent API answers; then the global compatibility is set to BACKWARD, Confluent's default. */
export async function waitForRegistry(timeoutMs: number): Promise<void> {
  const url = localEndpoints.schemaRegistryUrl;
  try {
    await waitFor(async () => {
      if (runningPid(registryProcess) === undefined) throw new Error('the registry process exited');
      const res = await fetch(`${url}/subjects`).catch(() => undefined);
      return res?.ok ?? false;
    }, { timeoutMs, intervalMs: 250, what: 'the schema registry' });
  } catch (err) {
    throw new StreamscoreError('DEV_REGISTRY_NOT_READY', `${(err as Error).message}\n--- registry.log ---\n${logTail(registryProcess)}`);
  }
  const res = await fetch(`${url}/config`, {
    method: 'PUT',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify({ compatibility: 'BACKWARD' }),
  });
  if (!res.ok) throw new StreamscoreError('DEV_REGISTRY_CONFIG_FAILED', `setting registry compatibility failed: HTTP ${res.status} ${await res.text()}`);
}
