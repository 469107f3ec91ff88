import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { StreamscoreError } from '../errors.js';
import { paths } from './paths.js';

/**
 * Maven resolves the broker's and the registry's jars from Maven Central into .cache/.
 * A stamp file holds a hash of the pom and settings, so editing a pom re-resolves and an
 * unchanged one costs nothing.
 */
function stampOf(files: string[]): string {
  const hash = crypto.createHash('sha256');
  for (const f of files) hash.update(fs.readFileSync(f));
  return hash.digest('hex');
}

function runMaven(args: string[], what: string, log: (line: string) => void): void {
  log(`${what}: resolving from Maven Central (first time only; about a minute)…`);
  const started = Date.now();
  const result = spawnSync('mvn', ['-B', '-q', '-s', paths.mavenSettings, ...args], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (result.error || result.status !== 0) {
    const detail = result.error?.message ?? `${result.stdout}\n${result.stderr}`.trim().split('\n').slice(-20).join('\n');
    throw new StreamscoreError('DEV_MAVEN_FAILED', `${what}: Maven failed (is mvn on PATH and Maven Central reachable?)\n${detail}`);
  }
  log(`${what}: ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

function ensure(target: string, inputs: string[], build: () => void): void {
  const stampFile = path.join(target, '.stamp');
  const stamp = stampOf(inputs);
  if (fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8') === stamp) return;
  fs.rmSync(target, { recursive: true, force: true });
  build();
  fs.mkdirSync(target, { recursive: true });
  fs.writeFileSync(stampFile, stamp);
}

export function ensureKafkaJars(log: (line: string) => void): string {
  ensure(paths.kafkaLibs, [paths.kafkaPom, paths.mavenSettings], () =>
    runMaven(['-f', paths.kafkaPom, 'dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${paths.kafkaLibs}`], 'Kafka broker jars', log),
  );
  return paths.kafkaLibs;
}

/** Returns the path of the registry's runnable jar. */
export function ensureRegistryBuild(log: (line: string) => void): string {
  ensure(paths.registryBuild, [paths.registryPom, paths.mavenSettings], () =>
    runMaven(['-f', paths.registryPom, 'package', '-DskipTests', `-DbuildDir=${paths.registryBuild}`], 'Schema registry (Apicurio)', log),
  );
  return path.join(paths.registryBuild, 'local-registry-1-runner.jar');
}
