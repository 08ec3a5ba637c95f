/** Hostile and broken requests: each is a 4xx with a stable code, never a 500, and the server keeps answering. */
import { Agent, request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Transport } from '../../../src/daemon/http/context.js';
import { authed, MAX_BODY, request, startHarness, type Harness, type RequestOptions } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.stop();
});

const create = (body: RequestOptions['body'], headers?: Record<string, string>): RequestOptions => ({
  method: 'POST',
  path: '/api/v1/sandboxes',
  body,
  ...(headers ? { headers } : {}),
});
const get = (path: string): RequestOptions => ({ path });

interface Case {
  readonly what: string;
  readonly req: RequestOptions;
  readonly status: number;
  readonly code: string;
  readonly field?: string;
  readonly message?: RegExp;
}

const cases: Case[] = [
  { what: 'bad JSON', req: create('{"name":', { 'content-type': 'application/json' }), status: 400, code: 'INVALID_ARGUMENT', message: /^request body is not valid JSON$/ },
  { what: 'empty-looking JSON', req: create('   ', { 'content-type': 'application/json' }), status: 400, code: 'INVALID_ARGUMENT', message: /not valid JSON/ },
  { what: 'invalid UTF-8', req: create(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]), { 'content-type': 'application/json' }), status: 400, code: 'INVALID_ARGUMENT' },
  { what: 'a JSON array instead of an object', req: create([{ name: 'a' }]), status: 400, code: 'INVALID_ARGUMENT', field: 'body', message: /must be an object, not an array/ },
  { what: 'a JSON string instead of an object', req: create('"x"', { 'content-type': 'application/json' }), status: 400, code: 'INVALID_ARGUMENT', field: 'body' },
  { what: 'null', req: create('null', { 'content-type': 'application/json' }), status: 400, code: 'INVALID_ARGUMENT', field: 'body' },
  { what: 'a wrong type', req: create({ name: 5 }), status: 400, code: 'INVALID_ARGUMENT', field: 'name', message: /^name: must be a string, not a number$/ },
  { what: 'a wrong nested type', req: create({ name: 'a', limits: { memory_mb: 'lots' } }), status: 400, code: 'INVALID_ARGUMENT', field: 'limits.memory_mb' },
  { what: 'a fraction for an integer', req: create({ name: 'a', limits: { memory_mb: 1.5 } }), status: 400, code: 'INVALID_ARGUMENT', field: 'limits.memory_mb' },
  { what: 'a number below min', req: create({ name: 'a', limits: { memory_mb: 1 } }), status: 400, code: 'INVALID_ARGUMENT', field: 'limits.memory_mb', message: /at least 16/ },
  { what: 'an overflowing number', req: create('{"name":"a","limits":{"cpus":1e999}}', { 'content-type': 'application/json' }), status: 400, code: 'INVALID_ARGUMENT', field: 'limits.cpus' },
  { what: 'null for an optional field', req: create({ name: 'a', network: null }), status: 400, code: 'INVALID_ARGUMENT', field: 'network' },
  { what: 'an unknown field', req: create({ name: 'a', colour: 'red' }), status: 400, code: 'INVALID_ARGUMENT', field: 'colour', message: /not a known field/ },
  { what: 'an unknown nested field', req: create({ name: 'a', limits: { swap_mb: 1 } }), status: 400, code: 'INVALID_ARGUMENT', field: 'limits.swap_mb' },
  { what: 'a missing required field', req: create({ runtime: 'shell' }), status: 400, code: 'INVALID_ARGUMENT', field: 'name', message: /^name: is required$/ },
  { what: 'a value outside the enum', req: create({ name: 'a', runtime: 'ruby' }), status: 400, code: 'INVALID_ARGUMENT', field: 'runtime' },
  { what: 'a bad array item', req: create({ name: 'a', argv: ['ok', 1] }), status: 400, code: 'INVALID_ARGUMENT', field: 'argv[1]' },
  { what: 'a bad map value', req: create({ name: 'a', env: { 'A-B': 1 } }), status: 400, code: 'INVALID_ARGUMENT', field: 'env["A-B"]' },
  { what: 'a too long string', req: create({ name: 'x'.repeat(65) }), status: 400, code: 'INVALID_ARGUMENT', field: 'name' },
  { what: 'a __proto__ key', req: create('{"name":"a","__proto__":{"admin":true}}', { 'content-type': 'application/json' }), status: 400, code: 'INVALID_ARGUMENT' },
  { what: 'deeply nested JSON', req: create(`{"name":"a","argv":${'['.repeat(30000)}${']'.repeat(30000)}}`, { 'content-type': 'application/json' }), status: 400, code: 'INVALID_ARGUMENT' },
  { what: 'a body that is not JSON', req: create('name=a', { 'content-type': 'application/x-www-form-urlencoded' }), status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  { what: 'text/plain (a browser simple request)', req: create('{"name":"a"}', { 'content-type': 'text/plain' }), status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  { what: 'no content type', req: create(Buffer.from('{"name":"a"}')), status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  { what: 'a non-UTF-8 charset', req: create('{"name":"a"}', { 'content-type': 'application/json; charset=latin1' }), status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  { what: 'encoded slashes and dot-dot in a param', req: get('/api/v1/sandboxes/..%2F..%2Fetc'), status: 400, code: 'INVALID_ARGUMENT', field: 'id' },
  { what: 'an encoded dot-dot param', req: get('/api/v1/sandboxes/%2e%2e'), status: 400, code: 'INVALID_ARGUMENT', field: 'id' },
  { what: 'an encoded NUL', req: get('/api/v1/sandboxes/abc%00def'), status: 400, code: 'INVALID_ARGUMENT', field: 'id' },
  { what: 'an encoded backslash', req: get('/api/v1/sandboxes/a%5C..'), status: 400, code: 'INVALID_ARGUMENT', field: 'id' },
  { what: 'an encoded control character', req: get('/api/v1/sandboxes/a%0Ab'), status: 400, code: 'INVALID_ARGUMENT', field: 'id' },
  { what: 'broken percent-encoding', req: get('/api/v1/sandboxes/%E0%A4%A'), status: 400, code: 'INVALID_ARGUMENT', field: 'id' },
  { what: 'raw dot-dot segments', req: get('/api/v1/sandboxes/../../etc/passwd'), status: 404, code: 'NOT_FOUND' },
  { what: 'an encoded slash in a literal segment', req: get('/api/v1%2Fsandboxes/x'), status: 404, code: 'NOT_FOUND' },
  { what: 'an empty param segment', req: get('/api/v1/sandboxes//exec'), status: 404, code: 'NOT_FOUND' },
  { what: 'a trailing slash', req: get('/healthz/'), status: 404, code: 'NOT_FOUND' },
  { what: 'an unknown route', req: get('/api/v2/anything'), status: 404, code: 'NOT_FOUND' },
  { what: 'an absolute-form target', req: get('http://evil.example/api/v1/sandboxes/x'), status: 400, code: 'INVALID_ARGUMENT' },
  { what: 'a wrong method', req: { method: 'PATCH', path: '/api/v1/sandboxes' }, status: 405, code: 'METHOD_NOT_ALLOWED' },
];

async function healthy(transport: Transport): Promise<void> {
  const res = await request(h, transport, { path: '/healthz' });
  expect(res.status).toBe(200);
}

describe.each(['unix', 'tcp'] as const)('malformed requests over %s', (transport) => {
  const send = (o: RequestOptions) => request(h, transport, transport === 'tcp' ? authed(o) : o);

  it.each(cases)('$what → $status $code', async (c) => {
    const res = await send(c.req);
    expect(res.status).toBe(c.status);
    expect(res.json.error.code).toBe(c.code);
    expect(typeof res.json.error.hint).toBe('string');
    if (c.field) expect(res.json.error.details?.field).toBe(c.field);
    if (c.message) expect(res.json.error.message).toMatch(c.message);
  });

  it.each([
    ['with Content-Length', false],
    ['chunked', true],
  ])('a body over the cap (%s) is 413, and the server still answers', async (_what, chunked) => {
    const big = JSON.stringify({ name: 'a', pad: 'x'.repeat(4 * MAX_BODY) });
    const res = await send({ ...create(big, { 'content-type': 'application/json' }), chunked });
    expect(res.status).toBe(413);
    expect(res.json.error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(res.headers.connection).toBe('close');
    await healthy(transport);
  });

  it('stops reading a body over the cap and closes the connection', async () => {
    const sock: Socket = transport === 'unix' ? connect(h.socketPath) : connect(h.port, '127.0.0.1');
    const auth = transport === 'tcp' ? 'Authorization: Bearer good\r\n' : '';
    let got = '';
    let closed = false;
    sock.on('data', (d: Buffer) => (got += d.toString()));
    sock.on('error', () => undefined);
    const gone = new Promise<void>((resolve) => sock.once('close', () => resolve()));
    void gone.then(() => (closed = true));
    sock.write(`POST /api/v1/sandboxes HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`);
    const chunk = `10000\r\n${'x'.repeat(0x10000)}\r\n`;
    let sent = 0;
    const limit = 64 * 1024 * 1024;
    while (!closed && sent < limit) {
      sent += 0x10000;
      if (!sock.write(chunk)) await Promise.race([new Promise((r) => sock.once('drain', r)), gone]);
    }
    await gone;
    expect(got).toMatch(/^HTTP\/1\.1 413 /);
    expect(sent).toBeLessThan(limit);
    await healthy(transport);
  });

  it('keeps a connection usable after a 4xx whose body was read', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const base = transport === 'unix' ? { socketPath: h.socketPath } : { host: '127.0.0.1', port: h.port };
    const headers = { 'content-type': 'application/json', ...(transport === 'tcp' ? { authorization: 'Bearer good' } : {}) };
    const ports: (number | undefined)[] = [];
    const one = (body: string) =>
      new Promise<number>((resolve, reject) => {
        const req = httpRequest({ ...base, agent, method: 'POST', path: '/api/v1/sandboxes', headers }, (res) => {
          ports.push(res.socket.localPort);
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end(body);
      });
    try {
      expect(await one('{bad')).toBe(400);
      expect(await one('{"name":"ok"}')).toBe(201);
      if (transport === 'tcp') expect(ports[0]).toBe(ports[1]);
    } finally {
      agent.destroy();
    }
  });

  it('a body just under the cap is read', async () => {
    const body = JSON.stringify({ pad: 'x'.repeat(MAX_BODY - 20) });
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(MAX_BODY);
    const res = await send({ method: 'POST', path: '/api/v1/sandboxes/a/exec', body, headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(200);
  });

  it('survives malformed HTTP and aborted requests', async () => {
    const raw = (bytes: string, end: boolean) =>
      new Promise<string>((resolve) => {
        const sock: Socket = transport === 'unix' ? connect(h.socketPath) : connect(h.port, '127.0.0.1');
        let got = '';
        sock.on('data', (d: Buffer) => (got += d.toString()));
        sock.on('error', () => resolve(got));
        sock.on('close', () => resolve(got));
        sock.write(bytes, () => {
          if (!end) sock.destroy();
        });
      });
    const garbage = await raw('NOT HTTP AT ALL\r\n\r\n', true);
    expect(garbage).toMatch(/^HTTP\/1\.1 400 /);
    expect(garbage).toContain('"code":"INVALID_ARGUMENT"');
    const badHeader = await raw('GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n', true);
    expect(badHeader).toMatch(/^HTTP\/1\.1 400 /);
    const huge = await raw(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`, true);
    expect(huge).toMatch(/^HTTP\/1\.1 4\d\d /);
    // A request cut off mid-body, and a connection dropped mid-headers.
    const auth = transport === 'tcp' ? 'Authorization: Bearer good\r\n' : '';
    await raw(`POST /api/v1/sandboxes HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"name":`, false);
    await raw('GET /healthz HTTP/1.1\r\nHo', false);
    await healthy(transport);
  });
});

describe('never a 500', () => {
  it('none of the malformed requests above produced a 5xx', () => {
    const statuses = h.registry.render().match(/^bkg_api_requests_total\{.*status="(\d+)"\} \d+$/gm) ?? [];
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses.filter((l) => /status="5\d\d"/.test(l))).toEqual([]);
  });
});
