import fs from 'node:fs';
import path from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import YAML from 'yaml';
import { StreamscoreError } from '../errors.js';
import { configSchema } from './schema.js';
import type { StreamscoreConfig, TlsConfig } from './types.js';

/** Thrown at start when the config is unusable; `problems` lists every one, each with its path. */
export class ConfigError extends StreamscoreError {
  readonly problems: string[];
  constructor(problems: string[], source: string) {
    super('CONFIG_INVALID', `invalid config ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true });
const validateSchema = ajv.compile(configSchema);

function describe(err: ErrorObject): string {
  const where = err.instancePath || '/';
  switch (err.keyword) {
    case 'additionalProperties':
      return `${where}: unknown key '${String(err.params.additionalProperty)}'`;
    case 'required':
      return `${where}: missing '${String(err.params.missingProperty)}'`;
    case 'enum':
      return `${where}: must be one of ${(err.params.allowedValues as unknown[]).map(String).join(', ')}`;
    default:
      return `${where}: ${err.message ?? err.keyword}`;
  }
}

/**
 * `${VAR}`, `${VAR:-default}` and `${file:PATH}` in string values, so secrets come from the
 * environment or from mounted files rather than from the config file itself.
 */
function interpolate(value: unknown, env: NodeJS.ProcessEnv, baseDir: string, problems: string[], at: string): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([^}]+)\}/g, (_, expr: string) => {
      if (expr.startsWith('file:')) {
        const file = path.resolve(baseDir, expr.slice(5));
        try {
          return fs.readFileSync(file, 'utf8').trim();
        } catch {
          problems.push(`${at}: cannot read ${file}`);
          return '';
        }
      }
      const [name, fallback] = expr.split(':-', 2) as [string, string | undefined];
      const found = env[name];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      problems.push(`${at}: environment variable ${name} is not set`);
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, env, baseDir, problems, `${at}/${i}`));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env, baseDir, problems, `${at}/${k}`)]));
  }
  return value;
}

/** Well-known variables win over the file: they point a config at another cluster. */
function applyEnvOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  const obj = (key: string): Record<string, unknown> => {
    const current = raw[key];
    if (current && typeof current === 'object' && !Array.isArray(current)) return current as Record<string, unknown>;
    const created: Record<string, unknown> = {};
    raw[key] = created;
    return created;
  };
  if (env.KAFKA_BROKERS) obj('kafka').brokers = env.KAFKA_BROKERS.split(',').map((b) => b.trim()).filter(Boolean);
  if (env.SCHEMA_REGISTRY_URL) obj('schemaRegistry').url = env.SCHEMA_REGISTRY_URL;
  if (env.STREAMSCORE_LOG_LEVEL) obj('log').level = env.STREAMSCORE_LOG_LEVEL;
  if (env.STREAMSCORE_HTTP_PORT) obj('http').port = Number(env.STREAMSCORE_HTTP_PORT);
}

/** `delivery: MODE` is the short form of `delivery: { mode: MODE }`. */
function expandShorthands(raw: Record<string, unknown>): void {
  if (!Array.isArray(raw.pipelines)) return;
  for (const p of raw.pipelines as Record<string, unknown>[]) {
    if (p && typeof p === 'object' && typeof p.delivery === 'string') p.delivery = { mode: p.delivery };
  }
}

/**
 * `http.admin.token: "${STREAMSCORE_ADMIN_TOKEN:-}"` with the variable unset leaves the admin
 * API off (the service logs that it is off), so one config serves with and without it; a
 * token that is set must still be long enough.
 */
function adminOffWithoutToken(raw: Record<string, unknown>): void {
  const http = raw.http as { admin?: { token?: unknown } } | undefined;
  if (http?.admin?.token === '') delete http.admin;
}

/** Rules one field's schema cannot express. */
function crossFieldProblems(config: StreamscoreConfig): string[] {
  const problems: string[] = [];
  const names = new Set<string>();
  const groups = new Set<string>();
  config.pipelines.forEach((p, i) => {
    const at = `/pipelines/${i}`;
    if (names.has(p.name)) problems.push(`${at}/name: '${p.name}' is used by another pipeline`);
    names.add(p.name);
    if (groups.has(p.groupId)) problems.push(`${at}/groupId: '${p.groupId}' is used by another pipeline`);
    groups.add(p.groupId);
    if (p.codec === 'avro') {
      if (!p.readerSchema) problems.push(`${at}/readerSchema: required with codec avro`);
      if (!config.schemaRegistry) problems.push(`/schemaRegistry: required by pipeline '${p.name}' (codec avro)`);
    }
    for (const size of p.batching.preferredBatchSizes) {
      if (size > p.batching.maxBatchSize) problems.push(`${at}/batching/preferredBatchSizes: ${size} exceeds maxBatchSize ${p.batching.maxBatchSize}`);
    }
    if (p.batching.maxQueuedRecords < p.batching.maxBatchSize) {
      problems.push(`${at}/batching/maxQueuedRecords: must be at least maxBatchSize (${p.batching.maxBatchSize})`);
    }
    const outs = [p.outputs.scored.topic, p.outputs.alerts.topic, p.outputs.deadLetter.topic, ...(p.outputs.shadow ? [p.outputs.shadow.topic] : []), ...(p.outputs.drift ? [p.outputs.drift.topic] : [])];
    for (const t of outs) if (p.inputs.includes(t)) problems.push(`${at}/outputs: '${t}' is also an input topic`);
    if (new Set(outs).size !== outs.length) problems.push(`${at}/outputs: scored, alerts, deadLetter, shadow and drift need distinct topics`);
    if (p.model.shadow && !p.outputs.shadow) problems.push(`${at}/model/shadow: needs outputs.shadow (the topic its scores go to)`);
    for (const file of [p.model.path, p.model.shadow, p.readerSchema, p.outputs.scored.schema, p.outputs.alerts.schema, p.outputs.shadow?.schema]) {
      if (file && !fs.existsSync(file)) problems.push(`${at}: file not found: ${file}`);
    }
  });
  const tlsBlocks: [string, TlsConfig | undefined][] = [['/kafka/ssl', config.kafka.ssl], ['/schemaRegistry/tls', config.schemaRegistry?.tls]];
  for (const [at, tls] of tlsBlocks) {
    if (!tls) continue;
    // A client certificate is useless without its key, and the other way round.
    if (Boolean(tls.certFile) !== Boolean(tls.keyFile)) problems.push(`${at}: certFile and keyFile go together`);
    for (const key of ['caFile', 'certFile', 'keyFile'] as const) {
      if (tls[key] && !fs.existsSync(tls[key])) problems.push(`${at}/${key}: file not found: ${tls[key]}`);
    }
  }
  const k = config.kafka;
  if (k.heartbeatIntervalMs * 3 > k.sessionTimeoutMs) problems.push('/kafka/heartbeatIntervalMs: must be at most a third of sessionTimeoutMs');
  if (k.fetchMaxBytesPerPartition > k.fetchMaxBytes) problems.push('/kafka/fetchMaxBytesPerPartition: must be at most fetchMaxBytes');
  config.pipelines.forEach((p, i) => {
    if (p.delivery.commitIntervalMs * 10 > k.transactionTimeoutMs) problems.push(`/pipelines/${i}/delivery/commitIntervalMs: must be well under kafka.transactionTimeoutMs (at most a tenth)`);
  });
  return problems;
}

function resolvePaths(config: StreamscoreConfig, baseDir: string): void {
  const abs = (p: string | undefined) => (p === undefined ? undefined : path.resolve(baseDir, p));
  for (const p of config.pipelines) {
    p.model.path = abs(p.model.path)!;
    if (p.model.shadow) p.model.shadow = abs(p.model.shadow);
    p.readerSchema = abs(p.readerSchema);
    p.outputs.scored.schema = abs(p.outputs.scored.schema);
    p.outputs.alerts.schema = abs(p.outputs.alerts.schema);
    if (p.outputs.shadow) p.outputs.shadow.schema = abs(p.outputs.shadow.schema);
  }
  for (const tls of [config.kafka.ssl, config.schemaRegistry?.tls]) {
    if (!tls) continue;
    tls.caFile = abs(tls.caFile);
    tls.certFile = abs(tls.certFile);
    tls.keyFile = abs(tls.keyFile);
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Parses, validates and freezes a config; relative paths resolve against `baseDir`. */
export function parseConfig(text: string, opts: { env?: NodeJS.ProcessEnv; baseDir?: string; source?: string } = {}): StreamscoreConfig {
  const env = opts.env ?? process.env;
  const baseDir = opts.baseDir ?? process.cwd();
  const source = opts.source ?? '(inline)';
  let parsed: unknown;
  try {
    parsed = YAML.parse(text);
  } catch (err) {
    throw new ConfigError([`not valid YAML: ${(err as Error).message}`], source);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(['the file must hold a mapping (key: value)'], source);
  const problems: string[] = [];
  const raw = interpolate(parsed, env, baseDir, problems, '') as Record<string, unknown>;
  applyEnvOverrides(raw, env);
  expandShorthands(raw);
  adminOffWithoutToken(raw);
  // A value that failed to interpolate is reported once, not again for being empty.
  const unresolved = problems.map((p) => p.slice(0, p.indexOf(':')));
  if (!validateSchema(raw)) {
    problems.push(...(validateSchema.errors ?? []).filter((e) => !unresolved.includes(e.instancePath)).map(describe));
  }
  if (problems.length) throw new ConfigError(problems, source);
  const config = raw as unknown as StreamscoreConfig;
  resolvePaths(config, baseDir);
  const more = crossFieldProblems(config);
  if (more.length) throw new ConfigError(more, source);
  return deepFreeze(config);
}

export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): StreamscoreConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new StreamscoreError('CONFIG_UNREADABLE', `cannot read config ${file}: ${(err as Error).message}`);
  }
  return parseConfig(text, { env, baseDir: path.dirname(path.resolve(file)), source: file });
}
