import crypto from 'node:crypto';
import type http from 'node:http';
import { type ErrorCode, StreamscoreError, asStreamscoreError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { CanaryModel, ServingModel, ShadowResult, SwapResult } from '../pipeline/model-slot.js';
import type { CanaryRemoval } from '../pipeline/canary.js';
import { problemsOf } from '../pipeline/candidate.js';

/** What the admin API changes: the service's pipelines and their models. */
export interface ModelAdmin {
  pipelines(): { name: string; model: ServingModel | undefined; shadow: ServingModel | undefined; canary: CanaryModel | undefined; canaryRemoved: CanaryRemoval | undefined }[];
  /** Each rejects with ADMIN_NOT_FOUND for a pipeline that does not exist. */
  swap(pipeline: string, path: string): Promise<SwapResult>;
  setShadow(pipeline: string, path: string): Promise<ShadowResult>;
  /** The shadow removed (undefined: there was none). */
  clearShadow(pipeline: string): Promise<ServingModel | undefined>;
  setCanary(pipeline: string, path: string, share: number): Promise<{ canary: CanaryModel; warmupMs: number }>;
  /** The canary removed (undefined: there was none). */
  clearCanary(pipeline: string): Promise<CanaryModel | undefined>;
  promoteCanary(pipeline: string): Promise<SwapResult>;
}

const STATUS: Partial<Record<ErrorCode, number>> = {
  ADMIN_UNAUTHORIZED: 401,
  ADMIN_NOT_FOUND: 404,
  ADMIN_BAD_REQUEST: 400,
  PIPELINE_NOT_RUNNING: 503,
  MODEL_MISMATCH: 409,
  MODEL_LOAD_FAILED: 422,
};

/** A request body is a path and a few fields: anything larger is refused unread. */
const MAX_BODY_BYTES = 64 * 1024;

/**
 * /admin/… on the HTTP port, present only when http.admin.token is set. Every call is checked
 * against the token first (so an unauthorised caller learns nothing, not even which routes
 * exist); JSON in and out; every error is `{ code, message }`, with `problems` where there are
 * several. A refused change leaves the serving model as it was.
 */
export class AdminApi {
  readonly #token: Buffer;

  constructor(token: string, private readonly admin: ModelAdmin, private readonly logger: Logger) {
    this.#token = Buffer.from(token);
  }

  async handle(req: http.IncomingMessage, res: http.ServerResponse, path: string): Promise<void> {
    try {
      this.#authorise(req);
      const body = await this.#route(req.method ?? 'GET', path, req);
      send(res, 200, body);
    } catch (err) {
      const coded = asStreamscoreError(err);
      const status = STATUS[coded.code] ?? (coded.canRetry ? 503 : 500);
      if (status >= 500) this.logger.error({ err, code: coded.code, path }, 'admin call failed');
      const problems = coded.code === 'MODEL_MISMATCH' || coded.code === 'MODEL_LOAD_FAILED' ? { problems: problemsOf(coded) } : {};
      send(res, status, { code: coded.code, message: coded.message, ...problems });
    }
  }

  #authorise(req: http.IncomingMessage): void {
    const given = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const presented = Buffer.from(given ?? '');
    // Constant time, so the token cannot be found a byte at a time from response times.
    const ok = presented.length === this.#token.length && crypto.timingSafeEqual(presented, this.#token);
    if (!ok) throw new StreamscoreError('ADMIN_UNAUTHORIZED', given ? 'the bearer token is wrong' : 'send Authorization: Bearer <token> (http.admin.token)');
  }

  async #route(method: string, path: string, req: http.IncomingMessage): Promise<unknown> {
    let parts: string[];
    try {
      parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    } catch {
      throw new StreamscoreError('ADMIN_BAD_REQUEST', `${path}: not a well-formed URL path`);
    }
    // parts[0] is 'admin'
    if (parts.length === 2 && parts[1] === 'pipelines') {
      allow(method, 'GET');
      return { pipelines: this.admin.pipelines().map((p) => ({ name: p.name, model: p.model ?? null, shadow: p.shadow ?? null, canary: p.canary ?? null, canaryRemoved: p.canaryRemoved ?? null })) };
    }
    if (parts.length === 4 && parts[1] === 'pipelines' && parts[3] === 'model') {
      allow(method, 'PUT');
      return this.admin.swap(parts[2]!, await modelPath(req));
    }
    if (parts.length === 4 && parts[1] === 'pipelines' && parts[3] === 'shadow') {
      if (method === 'DELETE') return { removed: (await this.admin.clearShadow(parts[2]!)) ?? null };
      allow(method, 'PUT');
      return this.admin.setShadow(parts[2]!, await modelPath(req));
    }
    if (parts.length === 4 && parts[1] === 'pipelines' && parts[3] === 'canary') {
      if (method === 'DELETE') return { removed: (await this.admin.clearCanary(parts[2]!)) ?? null };
      allow(method, 'PUT');
      const body = await readJson(req);
      if (typeof body.path !== 'string' || !body.path || typeof body.share !== 'number') throw new StreamscoreError('ADMIN_BAD_REQUEST', 'the body must be { "path": "<model file>", "share": 0.05 }');
      return this.admin.setCanary(parts[2]!, body.path, body.share);
    }
    if (parts.length === 5 && parts[1] === 'pipelines' && parts[3] === 'canary' && parts[4] === 'promote') {
      allow(method, 'POST');
      return this.admin.promoteCanary(parts[2]!);
    }
    throw new StreamscoreError('ADMIN_NOT_FOUND', `no admin route ${method} ${path}`);
  }
}

async function modelPath(req: http.IncomingMessage): Promise<string> {
  const { path: file } = await readJson(req);
  if (typeof file !== 'string' || !file) throw new StreamscoreError('ADMIN_BAD_REQUEST', 'the body must be { "path": "<model file on the service\'s host>" }');
  return file;
}

function allow(method: string, expected: string): void {
  if (method !== expected) throw new StreamscoreError('ADMIN_BAD_REQUEST', `use ${expected} here, not ${method}`);
}

async function readJson(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new StreamscoreError('ADMIN_BAD_REQUEST', `the body is over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new StreamscoreError('ADMIN_BAD_REQUEST', 'the body is not JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new StreamscoreError('ADMIN_BAD_REQUEST', 'the body must be a JSON object');
  return body as Record<string, unknown>;
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json' }).end(text);
}
