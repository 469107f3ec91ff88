import { StreamscoreError } from '../errors.js';
import { helpAsked, parseCommandArgs } from './args.js';

export const MODEL_USAGE = `usage: streamscore model list [--url U] [--token T]
       streamscore model swap --pipeline P --path FILE [--url U] [--token T]
       streamscore model shadow --pipeline P (--path FILE | --remove) [--url U] [--token T]
       streamscore model canary --pipeline P (--path FILE --share S | --remove) [--url U] [--token T]
       streamscore model promote --pipeline P [--url U] [--token T]

Changes a running service's model through its admin API (http.admin.token in its config).
  list        each pipeline's model: name, version, path, execution provider
  swap        load FILE (a path on the service's host), check it against the pipeline's records
              and feature mapping, warm it up, then score with it from the next batch on;
              refused (exit 1) with MODEL_MISMATCH or MODEL_LOAD_FAILED, the old model serving on
  shadow      FILE scores the same feature rows as the serving model, its results going to the
              pipeline's outputs.shadow.topic only (it never alerts); --remove stops it
  canary      FILE decides a share S (0 < S <= 1) of the keys, by a stable hash of the Kafka key:
              its scores and alerts are the real outputs for them; past a guard (pipelines[].canary
              in the config) it comes off by itself; --remove takes it off
  promote     the canary becomes the serving model, through the same swap

  --url U     the service's HTTP address (default http://127.0.0.1:9464)
  --token T   the admin token (default: the STREAMSCORE_ADMIN_TOKEN environment variable,
              better: a command line is visible to other users of the host)
  --json      print the service's JSON answer as it is
`;

interface AdminAnswer {
  code?: string;
  message?: string;
  problems?: string[];
  [key: string]: unknown;
}

/** `streamscore model …`: exit 0 on success; otherwise the service's code and message, exit 1. */
export async function modelCommand(argv: string[]): Promise<number> {
  if (helpAsked(argv, MODEL_USAGE)) return 0;
  const { values, positionals } = parseCommandArgs({
    args: argv, allowPositionals: true,
    options: { url: { type: 'string', default: 'http://127.0.0.1:9464' }, token: { type: 'string' }, pipeline: { type: 'string' }, path: { type: 'string' }, remove: { type: 'boolean', default: false }, share: { type: 'string' }, json: { type: 'boolean', default: false } },
  }, MODEL_USAGE);
  const [action, ...extra] = positionals;
  const token = values.token ?? process.env.STREAMSCORE_ADMIN_TOKEN;
  if (!token) throw new StreamscoreError('CLI_USAGE', `give --token or set STREAMSCORE_ADMIN_TOKEN\n${MODEL_USAGE.trimEnd()}`);
  if (extra.length) throw new StreamscoreError('CLI_USAGE', `unexpected argument '${extra[0]}'\n${MODEL_USAGE.trimEnd()}`);
  const base = values.url!.replace(/\/$/, '');
  let request: { method: string; path: string; body?: unknown };
  if (action === 'list') {
    request = { method: 'GET', path: '/admin/pipelines' };
  } else if (action === 'swap') {
    if (!values.pipeline || !values.path) throw new StreamscoreError('CLI_USAGE', `swap needs --pipeline and --path\n${MODEL_USAGE.trimEnd()}`);
    request = { method: 'PUT', path: `/admin/pipelines/${encodeURIComponent(values.pipeline)}/model`, body: { path: values.path } };
  } else if (action === 'shadow') {
    if (!values.pipeline || Boolean(values.path) === values.remove) throw new StreamscoreError('CLI_USAGE', `shadow needs --pipeline and one of --path or --remove\n${MODEL_USAGE.trimEnd()}`);
    const route = `/admin/pipelines/${encodeURIComponent(values.pipeline)}/shadow`;
    request = values.remove ? { method: 'DELETE', path: route } : { method: 'PUT', path: route, body: { path: values.path } };
  } else if (action === 'canary') {
    const share = values.share === undefined ? undefined : Number(values.share);
    if (!values.pipeline || (values.remove ? values.path || share !== undefined : !values.path || share === undefined)) throw new StreamscoreError('CLI_USAGE', `canary needs --pipeline and either --path with --share, or --remove\n${MODEL_USAGE.trimEnd()}`);
    const route = `/admin/pipelines/${encodeURIComponent(values.pipeline)}/canary`;
    request = values.remove ? { method: 'DELETE', path: route } : { method: 'PUT', path: route, body: { path: values.path, share } };
  } else if (action === 'promote') {
    if (!values.pipeline) throw new StreamscoreError('CLI_USAGE', `promote needs --pipeline\n${MODEL_USAGE.trimEnd()}`);
    request = { method: 'POST', path: `/admin/pipelines/${encodeURIComponent(values.pipeline)}/canary/promote` };
  } else {
    throw new StreamscoreError('CLI_USAGE', `${action ? `unknown action '${action}'` : 'say what to do'}\n${MODEL_USAGE.trimEnd()}`);
  }
  let res: Response;
  try {
    res = await fetch(`${base}${request.path}`, {
      method: request.method,
      headers: { authorization: `Bearer ${token}`, ...(request.body ? { 'content-type': 'application/json' } : {}) },
      body: request.body ? JSON.stringify(request.body) : undefined,
    });
  } catch (err) {
    throw new StreamscoreError('TIMEOUT', `cannot reach ${base}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`);
  }
  const answer = (await res.json().catch(() => ({ code: 'INTERNAL_ERROR', message: `HTTP ${res.status} with no JSON body (is the admin API on? http.admin.token)` }))) as AdminAnswer;
  if (values.json) process.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
  if (!res.ok) {
    if (!values.json) process.stderr.write(`streamscore: ${answer.code}: ${answer.message}\n`);
    return 1;
  }
  if (!values.json) process.stdout.write(describe(action, answer));
  return 0;
}

type Model = { name: string; version: string; path: string; executionProvider: string } | null;

function describe(action: string, answer: AdminAnswer): string {
  switch (action) {
    case 'list': return describeList(answer);
    case 'swap':
    case 'promote': return describeSwap(answer);
    case 'shadow': return describeShadow(answer);
    default: return describeCanary(answer);
  }
}

function describeCanary(answer: AdminAnswer): string {
  if ('removed' in answer) return answer.removed ? `canary removed: ${named(answer.removed as NonNullable<Model>)}\n` : 'there was no canary\n';
  const { canary, warmupMs } = answer as unknown as { canary: NonNullable<Model> & { share: number }; warmupMs: number };
  return `canary set: ${named(canary)} deciding ${canary.share * 100} % of keys (warm-up ${warmupMs} ms)\n`;
}

const named = (m: NonNullable<Model>) => `${m.name} ${m.version} (${m.executionProvider}) ${m.path}`;

function describeList(answer: AdminAnswer): string {
  const pipelines = answer.pipelines as { name: string; model: Model; shadow: Model; canary: (Model & { share: number }) | null; canaryRemoved: { reason: string; message: string } | null }[];
  return pipelines.map((p) => [
    `${p.name}: ${p.model ? named(p.model) : 'no model loaded'}`,
    p.shadow && `  shadow: ${named(p.shadow)}`,
    p.canary && `  canary: ${named(p.canary)}, ${p.canary.share * 100} % of keys`,
    p.canaryRemoved && `  last canary removed by its guard: ${p.canaryRemoved.message}`,
  ].filter(Boolean).join('\n') + '\n').join('');
}

function describeShadow(answer: AdminAnswer): string {
  if ('removed' in answer) return answer.removed ? `shadow removed: ${named(answer.removed as NonNullable<Model>)}\n` : 'there was no shadow\n';
  const { shadow, warmupMs } = answer as unknown as { shadow: NonNullable<Model>; warmupMs: number };
  return `shadow set: ${named(shadow)} (warm-up ${warmupMs} ms)\n`;
}

function describeSwap(answer: AdminAnswer): string {
  const { previous, current, warmupMs } = answer as unknown as { previous: NonNullable<Model>; current: NonNullable<Model>; warmupMs: number };
  return `swapped ${previous.name} ${previous.version} -> ${current.name} ${current.version} (warm-up ${warmupMs} ms)\n`;
}
