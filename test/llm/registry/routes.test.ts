/** The admin model routes through a real Router and the daemon's HTTP server. */
import { generateKeyPairSync } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerProblem } from '../../../src/api/answers.js';
import { BkgError } from '../../../src/api/errors.js';
import type { Principal } from '../../../src/daemon/auth/api-keys.js';
import { Authorizer } from '../../../src/daemon/auth/authorize.js';
import type { Action } from '../../../src/daemon/auth/rights.js';
import { Router } from '../../../src/daemon/http/router.js';
import { createHttpServer, type DaemonHttpServer } from '../../../src/daemon/http/server.js';
import { Registry } from '../../../src/daemon/prometheus.js';
import { llmModelRoutes } from '../../../src/daemon/routes/llm-models.js';
import { createLogger } from '../../../src/log.js';
import type { AuditLog } from '../../../src/store/audit.js';
import { sandboxSkipReason } from '../../helpers/sandbox.js';
import { copyModel, makeRegistry, MODEL_SHA256, sharedModelPath, until, type TestRegistry } from './helpers.js';

const ADMIN: Principal = { id: 'key_admin', name: 'admin', role: 'admin', namespaceId: null, sandboxId: null };
const TENANT: Principal = { id: 'key_ns', name: 'tenant', role: 'namespace', namespaceId: 'ns_1', sandboxId: null };

function authenticate(req: IncomingMessage): Principal {
  if (req.headers.authorization === 'Bearer admin') return ADMIN;
  if (req.headers.authorization === 'Bearer tenant') return TENANT;
  throw new BkgError('UNAUTHENTICATED', 'an API key is required');
}

const sandboxSkip = sandboxSkipReason() ?? (sharedModelPath() ? null : 'shared/models/stories260K.gguf is missing');

describe('admin LLM model routes', () => {
  let t: TestRegistry;
  let server: DaemonHttpServer;
  let base: string;
  let dir: string;
  let audit: AuditLog;

  beforeAll(async () => {
    t = await makeRegistry();
    dir = await mkdtemp(join(tmpdir(), 'bkg-model-routes-'));
    audit = t.store.audit;
    const router = new Router<Principal, Action>({ audit: (a) => audit.append({ actor: a.principal?.id ?? 'anonymous', action: a.action, target: a.target, outcome: a.outcome }) });
    llmModelRoutes(router, t.registry);
    const authz = new Authorizer({ audit, namespaces: t.store.namespaces, policies: t.store.policies });
    const authorize = (p: Principal, action: Action, route: string): void => authz.require(p, action, route);
    server = createHttpServer({ router, log: createLogger({ level: 'silent' }), authenticate, authorize, metrics: new Registry(), maxBodyBytes: 64 * 1024 });
    const bound = await server.listen({ port: 'ephemeral', host: '127.0.0.1' });
    base = `http://127.0.0.1:${bound.port}`;
  });
  afterAll(async () => {
    await server?.close();
    await t?.close();
    await rm(dir, { recursive: true, force: true });
  });

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async function call(method: string, path: string, body?: unknown, who = 'admin'): Promise<{ status: number; json: any }> {
    const res = await fetch(`${base}/api/v1/admin/llm${path}`, {
      method,
      headers: { authorization: `Bearer ${who}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const raw = Buffer.from(await res.arrayBuffer());
    const problem = answerProblem({ method, url: `/api/v1/admin/llm${path}`, status: res.status, contentType: res.headers.get('content-type') ?? undefined, body: raw });
    if (problem) throw new Error(`the answer breaks the contract: ${problem}`);
    return { status: res.status, json: raw.length ? JSON.parse(raw.toString()) : undefined };
  }

  it('is for admins only', async () => {
    for (const [method, path] of [['GET', '/models'], ['POST', '/models'], ['GET', '/models/x'], ['DELETE', '/models/x'], ['POST', '/models/x/download'], ['GET', '/jobs/x'], ['POST', '/gc'], ['GET', '/trust'], ['POST', '/trust'], ['DELETE', '/trust/x']] as const) {
      const res = await call(method, path, method === 'POST' ? {} : undefined, 'tenant');
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.json.error.code).toBe('FORBIDDEN');
    }
    expect((await call('GET', '/models', undefined, 'nobody')).status).toBe(401);
  });

  it('validates bodies', async () => {
    expect((await call('POST', '/models', {})).json.error).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'source' } });
    expect((await call('POST', '/models', { source: '/x.gguf', extra: 1 })).status).toBe(400);
    expect((await call('POST', '/models', { source: 'relative.gguf' })).json.error.code).toBe('INVALID_ARGUMENT');
    expect((await call('POST', '/models', { source: '/x.gguf', sha256: 'nothex' })).json.error.details).toEqual({ field: 'sha256' });
    expect((await call('POST', '/models', { source: '/x.gguf', sig_base64: 'AAAA' })).json.error).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'sig' } });
    expect((await call('POST', '/trust', { name: 'k' })).status).toBe(400);
    expect((await call('POST', '/trust', { name: 'k', public_key: 'junk!' })).json.error.code).toBe('INVALID_ARGUMENT');
    expect((await call('GET', '/models/nope')).status).toBe(404);
    expect((await call('GET', '/jobs/nope')).status).toBe(404);
    expect((await call('DELETE', '/models/nope')).status).toBe(404);
    expect((await call('POST', '/models/nope/download')).status).toBe(404);
  });

  it('adds, lists and removes trusted keys', async () => {
    const { publicKey } = generateKeyPairSync('ed25519');
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const added = await call('POST', '/trust', { name: 'release', public_key: pem });
    expect(added.status).toBe(201);
    expect(added.json).toMatchObject({ name: 'release', fingerprint: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect((await call('GET', '/trust')).json.keys).toEqual([added.json]);
    expect((await call('DELETE', `/trust/${added.json.fingerprint}`)).status).toBe(204);
    expect((await call('GET', '/trust')).json.keys).toEqual([]);
    expect((await call('DELETE', `/trust/${added.json.fingerprint}`)).status).toBe(404);
  });

  it.skipIf(sandboxSkip)('pulls as a job, shows, re-pulls, collects and deletes a model', async () => {
    const model = await copyModel(dir);
    const started = await call('POST', '/models', { source: model, name: 'Stories', sha256: MODEL_SHA256 });
    expect(started.status).toBe(202);
    expect(started.json).toEqual({ job_id: expect.stringMatching(/^dl_/), model_id: 'stories' });
    const job = await until(async () => {
      const j = (await call('GET', `/jobs/${started.json.job_id}`)).json;
      return j.status === 'done' || j.status === 'failed' ? j : null;
    });
    expect(job).toMatchObject({ status: 'done', model_id: 'stories', error: null });

    const list = await call('GET', '/models');
    expect(list.json.models).toHaveLength(1);
    expect(list.json.models[0]).toMatchObject({ id: 'stories', sha256: MODEL_SHA256 });
    expect((await call('GET', '/models/stories')).json).toEqual(list.json.models[0]);

    const again = await call('POST', '/models/stories/download');
    expect(again.status).toBe(202);
    expect(again.json.model_id).toBe('stories');
    await until(async () => (await call('GET', `/jobs/${again.json.job_id}`)).json.status === 'done');

    const gc = await call('POST', '/gc', { cap_bytes: 0 });
    expect(gc.status).toBe(200);
    expect(gc.json.removed).toEqual([{ kind: 'model', name: 'stories', bytes: expect.any(Number) }]);
    expect((await call('GET', '/models')).json.models).toEqual([]);

    const failing = await call('POST', '/models', { source: model, name: 'bad', sha256: 'ab'.repeat(32) });
    const failed = await until(async () => {
      const j = (await call('GET', `/jobs/${failing.json.job_id}`)).json;
      return j.status === 'failed' ? j : null;
    });
    expect(failed.error).toMatch(/^MODEL_VERIFICATION_FAILED/);

    const repull = await call('POST', '/models', { source: model });
    await until(async () => (await call('GET', `/jobs/${repull.json.job_id}`)).json.status === 'done');
    expect((await call('DELETE', '/models/stories260k')).status).toBe(204);
    expect((await call('GET', '/models/stories260k')).status).toBe(404);
    expect(audit.list().map((e) => e.action)).toEqual(expect.arrayContaining(['llm.model.pull', 'llm.model.gc', 'llm.model.delete']));
  });
});
