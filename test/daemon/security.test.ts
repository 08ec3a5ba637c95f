/** Keys, namespaces, rate limits, audit integrity and malformed input, against a real daemon. */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, freePort, removeHome, startTestDaemon, type Target, type TestDaemon } from '../helpers/daemon.js';
import { sandboxSkipReason } from '../helpers/sandbox.js';

const skip = sandboxSkipReason();


describe.skipIf(skip)('daemon security', () => {
  let d: TestDaemon;
  let tcp: (key?: string) => Target;
  const secrets: Record<string, string> = {};
  const keyIds: Record<string, string> = {};

  beforeAll(async () => {
    d = await startTestDaemon({ port: await freePort() });
    tcp = (key) => ({ port: d.daemon.info.port as number, ...(key ? { key } : {}) });
    for (const [name, role, namespace] of [['a', 'namespace', 'team-a'], ['b', 'namespace', 'team-b'], ['ro', 'readonly', undefined], ['admin', 'admin', undefined]] as const) {
      const r = await call(d.local, 'POST', '/api/v1/keys', { name, role, ...(namespace ? { namespace } : {}) });
      expect(r.status).toBe(201);
      const body = r.body as { secret: string; key: { id: string; masked: string } };
      secrets[name] = body.secret;
      keyIds[name] = body.key.id;
      expect(JSON.stringify((await call(d.local, 'GET', '/api/v1/keys')).body)).not.toContain(body.secret);
    }
  });
  afterAll(async () => {
    for (const s of ['x', 'y']) await call(tcp(secrets.admin), 'DELETE', `/api/v1/sandboxes/${s}`);
    await d.stop();
    removeHome(d.home);
  });

  it('requires a key over TCP and refuses unknown ones', async () => {
    expect((await call(tcp(), 'GET', '/api/v1/sandboxes')).status).toBe(401);
    const wrong = await call(tcp('bkg_' + 'x'.repeat(43)), 'GET', '/api/v1/sandboxes');
    expect(wrong.status).toBe(401);
    expect(wrong.body).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
    expect(wrong.headers['www-authenticate']).toBe('Bearer');
    expect((await call(tcp(), 'GET', '/healthz')).status).toBe(200);
  });

  it('keeps namespaces apart: another namespace\'s sandbox is 404', async () => {
    const a = tcp(secrets.a);
    const b = tcp(secrets.b);
    const created = await call(a, 'POST', '/api/v1/sandboxes', { name: 'x' });
    expect(created.body).toMatchObject({ namespace: 'team-a' });
    expect((await call(a, 'POST', '/api/v1/sandboxes', { name: 'y', namespace: 'team-b' })).status).toBe(403);
    expect((await call(b, 'POST', '/api/v1/sandboxes', { name: 'x' })).status).toBe(201); // same name, other namespace
    const id = (created.body as { id: string }).id;
    for (const [method, path] of [['GET', `/api/v1/sandboxes/${id}`], ['POST', `/api/v1/sandboxes/${id}/start`], ['POST', `/api/v1/sandboxes/${id}/stop`], ['DELETE', `/api/v1/sandboxes/${id}`], ['GET', `/api/v1/sandboxes/${id}/changes`]] as const) {
      const r = await call(b, method, path);
      expect(r.status, `${method} ${path}`).toBe(404);
      expect(r.body).toMatchObject({ error: { code: 'NOT_FOUND' } });
    }
    const listB = (await call(b, 'GET', '/api/v1/sandboxes')).body as { sandboxes: { id: string; namespace: string }[] };
    expect(listB.sandboxes.every((s) => s.namespace === 'team-b')).toBe(true);
    const all = (await call(tcp(secrets.admin), 'GET', '/api/v1/sandboxes')).body as { sandboxes: unknown[] };
    expect(all.sandboxes.length).toBe(2);
    expect((await call(tcp(secrets.ro), 'POST', '/api/v1/sandboxes', { name: 'z' })).status).toBe(403);
    expect((await call(tcp(secrets.ro), 'GET', '/api/v1/sandboxes')).status).toBe(200);
    expect((await call(tcp(secrets.a), 'GET', '/api/v1/keys')).status).toBe(403);
    await call(b, 'DELETE', '/api/v1/sandboxes/x');
  });

  it('gives a sandbox a key that sees only itself, usable from inside', async () => {
    const a = tcp(secrets.a);
    await call(a, 'POST', '/api/v1/sandboxes', { name: 'y' });
    expect((await call(a, 'POST', '/api/v1/sandboxes/x/start')).status).toBe(200);
    const code = `
import http.client, json, os, socket
class C(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX); self.sock.connect(os.environ["BKG_API_URL"][len("unix://"):])
def get(path, key=os.environ["BKG_API_KEY"]):
    c = C("bkg"); c.request("GET", path, headers={"Authorization": "Bearer " + key} if key else {}); r = c.getresponse(); return r.status, json.loads(r.read() or b"null")
print(json.dumps([get("/api/v1/sandboxes"), get("/api/v1/sandboxes/y")[0], get("/api/v1/sandboxes", key=None)[0]]))
`;
    const r = await call(a, 'POST', '/api/v1/sandboxes/x/exec', { cmd: ['python3', '-c', code] });
    const out = r.body as { stdout: string; stderr: string };
    expect(out.stderr).toBe('');
    const [[status, list], other, anonymous] = JSON.parse(out.stdout) as [[number, { sandboxes: { name: string }[] }], number, number];
    expect(status).toBe(200);
    expect(list.sandboxes.map((s) => s.name)).toEqual(['x']);
    expect(other).toBe(404);
    expect(anonymous).toBe(401); // the sandbox socket never trusts the caller without a key
  });

  it('refuses a revoked key at once, and a rotated key\'s old secret', async () => {
    const created = (await call(d.local, 'POST', '/api/v1/keys', { name: 'tmp', role: 'namespace', namespace: 'team-a' })).body as { secret: string; key: { id: string } };
    expect((await call(tcp(created.secret), 'GET', '/api/v1/sandboxes')).status).toBe(200);
    expect((await call(d.local, 'POST', `/api/v1/keys/${created.key.id}/revoke`)).status).toBe(200);
    expect((await call(tcp(created.secret), 'GET', '/api/v1/sandboxes')).status).toBe(401);
    const rotated = (await call(d.local, 'POST', `/api/v1/keys/${keyIds.b as string}/rotate`)).body as { secret: string };
    expect((await call(tcp(secrets.b), 'GET', '/api/v1/sandboxes')).status).toBe(401);
    expect((await call(tcp(rotated.secret), 'GET', '/api/v1/sandboxes')).status).toBe(200);
  });

  it('answers 429 with Retry-After under load', async () => {
    const results = await Promise.all(Array.from({ length: 60 }, () => call(tcp(secrets.ro), 'GET', '/api/v1/sandboxes')));
    const limited = results.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(results.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(10);
    expect(Number(limited[0]?.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(limited[0]?.body).toMatchObject({ error: { code: 'RATE_LIMITED' } });
  });

  it('audits state changes in a chain that detects a row edited in SQLite', async () => {
    const events = (await call(d.local, 'GET', '/api/v1/audit?limit=1000')).body as { events: { action: string; outcome: string }[] };
    const actions = events.events.map((e) => e.action);
    for (const a of ['key.create', 'sandbox.create', 'sandbox.start', 'sandbox.exec', 'key.revoke']) expect(actions).toContain(a);
    expect(events.events.some((e) => e.outcome === 'denied')).toBe(true);
    expect((await call(d.local, 'GET', '/api/v1/audit/verify')).body).toMatchObject({ ok: true });
    const db = new Database(join(d.home, 'bkg.db'));
    db.prepare("UPDATE audit_events SET outcome = 'ok' WHERE outcome = 'denied'").run();
    db.close();
    const verify = (await call(d.local, 'GET', '/api/v1/audit/verify')).body as { ok: boolean; reason: string };
    expect(verify.ok).toBe(false);
    expect(verify.reason).toMatch(/modified/);
  });

  it.each([
    ['POST', '/api/v1/sandboxes', '{"name":', 400, 'INVALID_ARGUMENT'],
    ['POST', '/api/v1/sandboxes', { name: 'ok', limits: { memory_mb: 'lots' } }, 400, 'INVALID_ARGUMENT'],
    ['POST', '/api/v1/sandboxes', { name: 'ok', limits: { memory_mb: 1 } }, 400, 'INVALID_ARGUMENT'],
    ['POST', '/api/v1/sandboxes', { name: '../evil' }, 400, 'INVALID_ARGUMENT'],
    ['POST', '/api/v1/sandboxes', { name: 'ok', runtime: 'cobol' }, 400, 'INVALID_ARGUMENT'],
    ['POST', '/api/v1/sandboxes', { name: 'ok', env: { 'BAD-NAME': 'x' } }, 400, 'INVALID_ARGUMENT'],
    ['POST', '/api/v1/sandboxes', { name: 'ok', workspace: '/nonexistent/dir' }, 400, 'WORKSPACE_INVALID'],
    ['POST', '/api/v1/sandboxes', { name: 'ok', surprise: true }, 400, 'INVALID_ARGUMENT'],
    ['POST', '/api/v1/sandboxes', [1, 2], 400, 'INVALID_ARGUMENT'],
    ['POST', '/api/v1/sandboxes/x/exec', { cmd: [] }, 400, 'INVALID_ARGUMENT'],
    ['POST', '/api/v1/sandboxes/x/exec', { cmd: 'ls' }, 400, 'INVALID_ARGUMENT'],
    ['POST', '/api/v1/sandboxes/x/exec', { cmd: ['true'], timeout_ms: -5 }, 400, 'INVALID_ARGUMENT'],
    ['POST', '/api/v1/sandboxes/nope/exec', { cmd: ['true'] }, 404, 'NOT_FOUND'],
    ['GET', '/api/v1/sandboxes/..%2F..%2Fetc', undefined, 400, 'INVALID_ARGUMENT'],
    ['GET', '/api/v1/sandboxes/x/files', undefined, 400, 'INVALID_ARGUMENT'],
    ['GET', '/api/v1/sandboxes/x/files?path=relative', undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', '/api/v1/keys', { name: 'k', role: 'god' }, 400, 'INVALID_ARGUMENT'],
    ['POST', '/api/v1/keys/key_nope/revoke', undefined, 404, 'NOT_FOUND'],
    ['GET', '/api/v1/audit?since=yesterday-ish', undefined, 400, 'INVALID_ARGUMENT'],
  ])('%s %s %j → %i %s', async (method, path, body, status, code) => {
    const raw = typeof body === 'string' ? { raw: Buffer.from(body), headers: { 'content-type': 'application/json' } } : {};
    const r = await call(tcp(secrets.admin), method, path, typeof body === 'string' ? undefined : body, raw);
    expect(r.status).toBe(status);
    expect(r.body).toMatchObject({ error: { code } });
  });
});
