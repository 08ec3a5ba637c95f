import { stat } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Transport } from '../../../src/daemon/http/context.js';
import { authed, request, startHarness, type Harness, type RequestOptions } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.stop();
});

/** Unix requests need no token; TCP ones carry the good bearer. */
function call(transport: Transport, o: RequestOptions) {
  return request(h, transport, transport === 'tcp' ? authed(o) : o);
}

describe.each(['unix', 'tcp'] as const)('daemon HTTP over %s', (transport) => {
  it('routes and decodes path params', async () => {
    const res = await call(transport, { path: '/api/v1/sandboxes/sb%20one' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.json).toEqual({ id: 'sb one', principal: { kind: transport === 'unix' ? 'local' : 'token' }, transport });
  });

  it('prefers a literal segment to a parameter', async () => {
    expect((await call(transport, { path: '/api/v1/sandboxes/stats' })).json).toEqual({ stats: true });
  });

  it('passes the query string and a nested param route', async () => {
    expect((await call(transport, { path: '/api/v1/echo-query?a=1&b=x%20y' })).json).toEqual({ a: '1', b: 'x y' });
    const res = await call(transport, { method: 'POST', path: '/api/v1/sandboxes/abc/exec', body: { cmd: ['ls'] } });
    expect(res.json).toEqual({ id: 'abc', body: { cmd: ['ls'] } });
  });

  it('a POST without a body gives the handler undefined', async () => {
    const res = await call(transport, { method: 'POST', path: '/api/v1/sandboxes/abc/exec' });
    expect(res.json).toEqual({ id: 'abc', body: null });
  });

  it('validates and echoes a good body', async () => {
    const body = { name: 'a', runtime: 'python', limits: { memory_mb: 256, cpus: 0.5 }, argv: ['-c', '1'], env: { A: 'b' }, network: false };
    const res = await call(transport, { method: 'POST', path: '/api/v1/sandboxes', body });
    expect(res.status).toBe(201);
    expect(res.json).toEqual(body);
  });

  it('answers 404 for unknown paths and 405 with Allow for known paths', async () => {
    const nf = await call(transport, { path: '/api/v1/nope' });
    expect(nf.status).toBe(404);
    expect(nf.json.error.code).toBe('NOT_FOUND');
    const na = await call(transport, { method: 'PUT', path: '/api/v1/sandboxes/x' });
    expect(na.status).toBe(405);
    expect(na.json.error.code).toBe('METHOD_NOT_ALLOWED');
    expect(na.headers.allow).toBe('GET, DELETE, HEAD');
  });

  it('answers HEAD from the GET route and 204 without a body', async () => {
    const head = await call(transport, { method: 'HEAD', path: '/api/v1/sandboxes/x' });
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
    const del = await call(transport, { method: 'DELETE', path: '/api/v1/sandboxes/x' });
    expect(del.status).toBe(204);
  });

  it('streams a download', async () => {
    const res = await call(transport, { path: '/api/v1/files/download' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain');
    expect(res.text).toBe('file contents\n');
  });

  it('a stream that fails before sending anything is a 500', async () => {
    const res = await call(transport, { path: '/api/v1/files/missing' });
    expect(res.status).toBe(500);
    expect(res.json.error.code).toBe('INTERNAL');
    expect(res.text).not.toContain('nope');
  });

  it('a plain Error thrown by a handler is a generic 500 that leaks nothing', async () => {
    const res = await call(transport, { path: '/api/v1/boom' });
    expect(res.status).toBe(500);
    expect(Object.keys(res.json.error).sort()).toEqual(['code', 'hint', 'message']);
    expect(res.json.error.code).toBe('INTERNAL');
    expect(res.json.error.message).toBe('internal error');
    expect(res.text).not.toMatch(/hunter2|secret|at .*\.ts/);
    // ...but the log has it, for the operator.
    expect(h.logs.some((l) => l.includes('hunter2'))).toBe(true);
  });

  it('a 429 carries Retry-After from details.retry_after_s', async () => {
    const res = await call(transport, { path: '/api/v1/limited' });
    expect(res.status).toBe(429);
    expect(res.json.error.code).toBe('RATE_LIMITED');
    expect(res.headers['retry-after']).toBe('7');
  });
});

describe('authentication', () => {
  it.each([
    ['no Authorization header', {}],
    ['a wrong bearer token', { authorization: 'Bearer bad' }],
    ['another scheme', { authorization: 'Basic Z29vZDo=' }],
  ])('TCP with %s is 401 with WWW-Authenticate: Bearer', async (_what, headers) => {
    for (const path of ['/api/v1/sandboxes/x', '/api/v1/nope', '/api/v1/boom']) {
      const res = await request(h, 'tcp', { path, headers });
      expect(res.status).toBe(401);
      expect(res.json.error.code).toBe('UNAUTHENTICATED');
      expect(res.headers['www-authenticate']).toBe('Bearer');
    }
  });

  it('a wrong method is 401, not 405, before authentication', async () => {
    expect((await request(h, 'tcp', { method: 'PUT', path: '/api/v1/sandboxes/x' })).status).toBe(401);
  });

  it('public routes need no token', async () => {
    const res = await request(h, 'tcp', { path: '/healthz' });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ ok: true });
  });

  it('authorises the route\'s declared action before the handler runs', async () => {
    const refused = await request(h, 'tcp', authed({ method: 'POST', path: '/api/v1/local-only' }));
    expect(refused.status).toBe(403);
    expect(refused.json.error.code).toBe('FORBIDDEN');
    expect(refused.json).not.toHaveProperty('ran');
    expect((await request(h, 'unix', { method: 'POST', path: '/api/v1/local-only' })).json).toEqual({ ran: true });
  });
});

describe('the unix socket', () => {
  it('is owner-only (0600)', async () => {
    const st = await stat(h.socketPath);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
  });
});

describe('request logs', () => {
  it('name method, route pattern, status and ms, and never bodies or credentials', async () => {
    await request(h, 'tcp', authed({ method: 'POST', path: '/api/v1/sandboxes/abc/exec?token=qs-secret', body: { cmd: 'body-secret' } }));
    const lines = h.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    const line = lines.findLast((l) => l.msg === 'request' && l.route === '/api/v1/sandboxes/:id/exec' && l.transport === 'tcp');
    expect(line).toMatchObject({ method: 'POST', status: 200 });
    expect(typeof line?.ms).toBe('number');
    const all = h.logs.join('\n');
    expect(all).not.toContain('Bearer good');
    expect(all).not.toContain('body-secret');
    expect(all).not.toContain('qs-secret');
  });
});
