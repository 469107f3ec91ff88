import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminApi, type ModelAdmin } from '../../src/admin/admin-api.js';
import { StreamscoreError } from '../../src/errors.js';
import { HttpServer } from '../../src/observability/http-server.js';
import type { ServingModel } from '../../src/pipeline/model-slot.js';

const TOKEN = 'a-long-enough-admin-token';
const v1: ServingModel = { name: 'fraud-gbdt', version: '1.0.0', path: '/m/fraud.onnx', executionProvider: 'cpu' };
const v2: ServingModel = { name: 'fraud-gbdt', version: '2.0.0', path: '/m/fraud-v2.onnx', executionProvider: 'cpu' };
const swaps: string[] = [];
let shadowing: ServingModel | undefined;
let canaryOf: (ServingModel & { share: number }) | undefined;

/** The service side, as the admin API sees it: one pipeline whose swaps answer by file name. */
const admin: ModelAdmin = {
  pipelines: () => [{ name: 'fraud', model: v1, shadow: shadowing, canary: canaryOf, canaryRemoved: undefined }],
  swap: async (pipeline, file) => {
    if (pipeline !== 'fraud') throw new StreamscoreError('ADMIN_NOT_FOUND', `no pipeline '${pipeline}'`);
    swaps.push(file);
    if (file.endsWith('pump.onnx')) throw new StreamscoreError('MODEL_MISMATCH', 'cannot score:\n  - column a: missing\n  - column b: missing');
    if (file.endsWith('corrupt.onnx')) throw new StreamscoreError('MODEL_LOAD_FAILED', 'not a model:\n  - protobuf parsing failed');
    if (file.endsWith('registry-down.onnx')) throw new StreamscoreError('REGISTRY_UNAVAILABLE', 'registry down');
    if (file.endsWith('stopping.onnx')) throw new StreamscoreError('PIPELINE_NOT_RUNNING', 'pipeline is stopping');
    return { previous: v1, current: v2, warmupMs: 3 };
  },
  setShadow: async (_pipeline, file) => {
    shadowing = { ...v2, path: file };
    return { shadow: shadowing, warmupMs: 2 };
  },
  clearShadow: async () => {
    const removed = shadowing;
    shadowing = undefined;
    return removed;
  },
  setCanary: async (_pipeline, file, share) => {
    if (!(share > 0 && share <= 1)) throw new StreamscoreError('ADMIN_BAD_REQUEST', 'share must be in (0, 1]');
    canaryOf = { ...v2, path: file, share };
    return { canary: canaryOf, warmupMs: 4 };
  },
  clearCanary: async () => {
    const removed = canaryOf;
    canaryOf = undefined;
    return removed;
  },
  promoteCanary: async () => {
    if (!canaryOf) throw new StreamscoreError('ADMIN_BAD_REQUEST', 'no canary');
    canaryOf = undefined;
    return { previous: v1, current: v2, warmupMs: 0 };
  },
};

let server: HttpServer;
let base: string;
beforeAll(async () => {
  server = new HttpServer(new Registry(), { notReady: () => [], unhealthy: () => [] }, new AdminApi(TOKEN, admin, pino({ level: 'silent' })));
  base = `http://127.0.0.1:${await server.start(0, '127.0.0.1')}`;
});
afterAll(() => server.close());

async function call(method: string, path: string, opts: { token?: string | null; body?: unknown; raw?: string } = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (opts.token !== null) headers.authorization = `Bearer ${opts.token ?? TOKEN}`;
  const res = await fetch(`${base}${path}`, { method, headers, body: opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('admin API', () => {
  it('every call needs the bearer token: none or a wrong one is 401 ADMIN_UNAUTHORIZED, on known and unknown routes alike, and changes nothing', async () => {
    swaps.length = 0;
    for (const token of [null, 'wrong', `${TOKEN}x`, TOKEN.slice(0, -1)]) {
      for (const [method, path] of [['GET', '/admin/pipelines'], ['PUT', '/admin/pipelines/fraud/model'], ['GET', '/admin/nothing-here']] as const) {
        const res = await call(method, path, { token, body: method === 'PUT' ? { path: '/m/fraud-v2.onnx' } : undefined });
        expect(res.status, `${method} ${path} with ${token}`).toBe(401);
        expect(res.body.code).toBe('ADMIN_UNAUTHORIZED');
      }
    }
    expect(swaps).toEqual([]);
  });

  it('GET /admin/pipelines lists each pipeline\'s model; PUT …/model swaps and answers previous, current, warmupMs', async () => {
    // The auth scheme's name is case-insensitive (RFC 7235); the token is not.
    const lower = await fetch(`${base}/admin/pipelines`, { headers: { authorization: `bearer ${TOKEN}` } });
    expect(lower.status).toBe(200);
    expect(await call('GET', '/admin/pipelines')).toEqual({ status: 200, body: { pipelines: [{ name: 'fraud', model: v1, shadow: null, canary: null, canaryRemoved: null }] } });
    expect(await call('PUT', '/admin/pipelines/fraud/model', { body: { path: '/m/fraud-v2.onnx' } })).toEqual({ status: 200, body: { previous: v1, current: v2, warmupMs: 3 } });
    expect(await call('PUT', '/admin/pipelines/fraud/shadow', { body: { path: '/m/fraud-v2.onnx' } })).toEqual({ status: 200, body: { shadow: v2, warmupMs: 2 } });
    expect((await call('GET', '/admin/pipelines')).body).toEqual({ pipelines: [{ name: 'fraud', model: v1, shadow: v2, canary: null, canaryRemoved: null }] });
    expect(await call('DELETE', '/admin/pipelines/fraud/shadow')).toEqual({ status: 200, body: { removed: v2 } });
    expect(await call('DELETE', '/admin/pipelines/fraud/shadow')).toEqual({ status: 200, body: { removed: null } });
    expect(await call('PUT', '/admin/pipelines/fraud/canary', { body: { path: '/m/fraud-v2.onnx', share: 0.05 } })).toEqual({ status: 200, body: { canary: { ...v2, share: 0.05 }, warmupMs: 4 } });
    expect((await call('GET', '/admin/pipelines')).body).toMatchObject({ pipelines: [{ canary: { ...v2, share: 0.05 } }] });
    expect(await call('POST', '/admin/pipelines/fraud/canary/promote')).toEqual({ status: 200, body: { previous: v1, current: v2, warmupMs: 0 } });
    expect(await call('POST', '/admin/pipelines/fraud/canary/promote')).toMatchObject({ status: 400, body: { code: 'ADMIN_BAD_REQUEST' } });
    expect(await call('PUT', '/admin/pipelines/fraud/canary', { body: { path: '/m/fraud-v2.onnx', share: 2 } })).toMatchObject({ status: 400, body: { code: 'ADMIN_BAD_REQUEST' } });
    expect(await call('PUT', '/admin/pipelines/fraud/canary', { body: { path: '/m/fraud-v2.onnx' } })).toMatchObject({ status: 400, body: { code: 'ADMIN_BAD_REQUEST' } });
    await call('PUT', '/admin/pipelines/fraud/canary', { body: { path: '/m/fraud-v2.onnx', share: 0.1 } });
    expect(await call('DELETE', '/admin/pipelines/fraud/canary')).toEqual({ status: 200, body: { removed: { ...v2, share: 0.1 } } });
  });

  it('errors are { code, message } with the status their code calls for; a refused model lists its problems', async () => {
    const mismatch = await call('PUT', '/admin/pipelines/fraud/model', { body: { path: '/m/pump.onnx' } });
    expect(mismatch).toMatchObject({ status: 409, body: { code: 'MODEL_MISMATCH', problems: ['column a: missing', 'column b: missing'] } });
    expect(await call('PUT', '/admin/pipelines/fraud/model', { body: { path: '/m/corrupt.onnx' } })).toMatchObject({ status: 422, body: { code: 'MODEL_LOAD_FAILED', problems: ['protobuf parsing failed'] } });
    expect(await call('PUT', '/admin/pipelines/fraud/model', { body: { path: '/m/registry-down.onnx' } })).toMatchObject({ status: 503, body: { code: 'REGISTRY_UNAVAILABLE' } });
    expect(await call('PUT', '/admin/pipelines/fraud/model', { body: { path: '/m/stopping.onnx' } })).toMatchObject({ status: 503, body: { code: 'PIPELINE_NOT_RUNNING' } });
    expect(await call('GET', '/admin/pipelines/%E0%A4%A/model')).toMatchObject({ status: 400, body: { code: 'ADMIN_BAD_REQUEST' } });
    expect(await call('PUT', '/admin/pipelines/iot/model', { body: { path: '/m/x.onnx' } })).toMatchObject({ status: 404, body: { code: 'ADMIN_NOT_FOUND' } });
    expect(await call('GET', '/admin/other')).toMatchObject({ status: 404, body: { code: 'ADMIN_NOT_FOUND' } });
    expect(await call('GET', '/admin/pipelines/fraud/model')).toMatchObject({ status: 400, body: { code: 'ADMIN_BAD_REQUEST' } });
    expect(await call('PUT', '/admin/pipelines/fraud/model', { raw: '{not json' })).toMatchObject({ status: 400, body: { code: 'ADMIN_BAD_REQUEST' } });
    expect(await call('PUT', '/admin/pipelines/fraud/model', { body: { file: 'x' } })).toMatchObject({ status: 400, body: { code: 'ADMIN_BAD_REQUEST' } });
    expect(await call('PUT', '/admin/pipelines/fraud/model', { raw: JSON.stringify({ path: 'x'.repeat(70_000) }) })).toMatchObject({ status: 400, body: { code: 'ADMIN_BAD_REQUEST' } });
  });

  it('without http.admin.token there is no admin API: /admin answers a bare 404', async () => {
    const plain = new HttpServer(new Registry(), { notReady: () => [], unhealthy: () => [] });
    const port = await plain.start(0, '127.0.0.1');
    try {
      const res = await fetch(`http://127.0.0.1:${port}/admin/pipelines`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(res.status).toBe(404);
      expect(await res.text()).toBe('');
    } finally {
      await plain.close();
    }
  });
});
