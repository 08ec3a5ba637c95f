/**
 * The egress proxy's plain-HTTP forwarding on the host alone (no sandbox): response framings
 * (length, chunked, until close, none), request bodies, interim responses, kept-alive upstream
 * connections (and one the server closed meanwhile), backpressure, failures, and the DNS cache.
 */
import { createHash } from 'node:crypto';
import { createServer as createHttpServer, request, Agent, type IncomingHttpHeaders, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { LookupAddress } from 'node:dns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allowRulesOf } from '../../src/api/egress.js';
import { Allowlist } from '../../src/runtime/egress/allowlist.js';
import { EgressProxy, type EgressOutcome } from '../../src/runtime/egress/proxy.js';
import { HOST_LOOPBACK } from '../helpers/egress.js';

async function listen(s: Server | HttpServer, host = HOST_LOOPBACK): Promise<number> {
  await new Promise<void>((r) => s.listen(0, host, r));
  return (s.address() as AddressInfo).port;
}

/** A raw upstream: answers each request (head read to its blank line) with `answer` (n: the request's number on its connection). */
function rawServer(answer: (head: string, s: Socket, n: number) => void): { server: Server; connections: () => number } {
  let connections = 0;
  const server = createTcpServer((s) => {
    connections++;
    let n = 0;
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString('latin1');
      let end;
      while ((end = buf.indexOf('\r\n\r\n')) >= 0) {
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        answer(head, s, ++n);
      }
    });
    s.on('error', () => {});
  });
  return { server, connections: () => connections };
}

const BIG = Buffer.from(Array.from({ length: 8 * 1024 }, (_, i) => `${String(i).padStart(1023, '.')}\n`).join(''));
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let web: HttpServer;
let webPort = 0;
let webConnections = 0;
const raws: Server[] = [];
let proxyPort = 0;
let proxy: EgressProxy;
const outcomes: EgressOutcome[] = [];
let lookups = 0;
let rawPort = 0;
let stalePort = 0;
let staleConnections: () => number = () => 0;
let deadPort = 0;

interface Got { status: number; headers: IncomingHttpHeaders; body: Buffer }

function get(url: string, opts: { method?: string; body?: Buffer | Buffer[]; headers?: Record<string, string>; agent?: Agent; slow?: boolean } = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request({ host: '127.0.0.1', port: proxyPort, method: opts.method ?? 'GET', path: url, headers: { host: u.host, ...opts.headers }, agent: opts.agent ?? false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => {
        parts.push(d);
        if (opts.slow) {
          res.pause();
          setTimeout(() => res.resume(), 1);
        }
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (Array.isArray(opts.body)) {
      for (const b of opts.body) req.write(b);
      req.end();
    } else req.end(opts.body);
  });
}

beforeAll(async () => {
  web = createHttpServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      const body = Buffer.concat(parts);
      if (req.url === '/big') return void res.end(BIG);
      if (req.url === '/chunked') {
        res.setHeader('trailer', 'x-sum');
        for (let i = 0; i < 50; i++) res.write(`part ${i};`);
        res.addTrailers({ 'x-sum': '50' });
        return void res.end();
      }
      res.setHeader('x-seen-host', req.headers.host ?? '');
      res.setHeader('x-seen-te', req.headers['transfer-encoding'] ?? '');
      res.setHeader('x-seen-proxy-connection', req.headers['proxy-connection'] ?? '');
      res.end(`${req.method} ${req.url} ${body.length} ${sha(body)}`);
    });
  });
  web.on('connection', () => webConnections++);
  webPort = await listen(web);

  const raw = rawServer((head, s) => {
    const path = head.split(' ')[1];
    if (path === '/close') return void s.end('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil the end');
    if (path === '/head') return void s.write('HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n');
    if (path === '/204') return void s.write('HTTP/1.1 204 No Content\r\nx-a: b\r\n\r\n');
    if (path === '/interim') return void s.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </x>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfinal');
    if (path === '/split') {
      // the head and the chunks in pieces, byte by byte at first
      const all = Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nx-t: 1\r\n\r\n');
      let i = 0;
      const step = () => {
        if (i >= all.length) return;
        const n = i < 40 ? 1 : 9;
        s.write(all.subarray(i, i + n));
        i += n;
        setTimeout(step, 1);
      };
      return void step();
    }
    if (path === '/garbage') return void s.end('SMTP ready\r\n\r\n');
    if (path === '/short') return void s.end('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly this');
    s.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n');
  });
  raws.push(raw.server);
  rawPort = await listen(raw.server);

  // a server that answers one request per kept-alive connection and drops the next one unanswered,
  // or, for /soon, closes it right after answering (stale pooled connections: unseen, and seen)
  const stale = rawServer((head, s, n) => {
    if (n > 1) return void s.destroy();
    s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    if (head.startsWith('GET /soon ')) setTimeout(() => s.destroy(), 10);
  });
  raws.push(stale.server);
  stalePort = await listen(stale.server);
  staleConnections = stale.connections;

  const dead = createTcpServer();
  deadPort = await listen(dead);
  await new Promise<void>((r) => dead.close(() => r()));

  const listener = createTcpServer();
  proxyPort = await listen(listener, '127.0.0.1');
  const lookup = async (name: string): Promise<LookupAddress[]> => {
    lookups++;
    if (name === 'web.test') return [{ address: HOST_LOOPBACK, family: 4 }];
    throw Object.assign(new Error('no such name'), { code: 'ENOTFOUND' });
  };
  const allow = `allow:${HOST_LOOPBACK}:${webPort},${HOST_LOOPBACK}:${rawPort},${HOST_LOOPBACK}:${stalePort},${HOST_LOOPBACK}:${deadPort},web.test:${webPort}`;
  proxy = new EgressProxy(listener, new Allowlist(allowRulesOf(allow)), { lookup, observer: { outcome: (o) => outcomes.push(o) } });
});

afterAll(async () => {
  await proxy.close();
  web.closeAllConnections();
  await new Promise<void>((r) => web.close(() => r()));
  for (const s of raws) await new Promise<void>((r) => s.close(() => r()));
});

describe('egress proxy: plain HTTP forwarding', () => {
  it('keeps one upstream connection alive across requests, and sends the checked Host, no hop-by-hop headers', async () => {
    const before = webConnections;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < 5; i++) {
      const r = await get(`http://${HOST_LOOPBACK}:${webPort}/x?i=${i}`, { agent, headers: { 'proxy-connection': 'keep-alive', host: 'evil.example' } });
      expect(r.status).toBe(200);
      expect(r.body.toString()).toContain(`GET /x?i=${i} 0`);
      expect(r.headers['x-seen-host']).toBe(`${HOST_LOOPBACK}:${webPort}`);
      expect(r.headers['x-seen-proxy-connection']).toBe('');
    }
    agent.destroy();
    expect(webConnections - before).toBe(1);
  });

  it('relays request bodies, with a length and chunked', async () => {
    const body = BIG.subarray(0, 300_000);
    const a = await get(`http://${HOST_LOOPBACK}:${webPort}/post`, { method: 'POST', body, headers: { 'content-length': String(body.length) } });
    expect(a.body.toString()).toBe(`POST /post ${body.length} ${sha(body)}`);
    const parts = [BIG.subarray(0, 70_000), BIG.subarray(70_000, 70_001), BIG.subarray(70_001, 200_000)];
    const b = await get(`http://${HOST_LOOPBACK}:${webPort}/put`, { method: 'PUT', body: parts, headers: { 'transfer-encoding': 'chunked' } });
    expect(b.body.toString()).toBe(`PUT /put 200000 ${sha(BIG.subarray(0, 200_000))}`);
    expect(b.headers['x-seen-te']).toBe('chunked');
  });

  it('relays large and chunked responses intact, to a slow client too', async () => {
    const big = await get(`http://${HOST_LOOPBACK}:${webPort}/big`, { slow: true });
    expect(big.body.length).toBe(BIG.length);
    expect(sha(big.body)).toBe(sha(BIG));
    const chunked = await get(`http://${HOST_LOOPBACK}:${webPort}/chunked`);
    expect(chunked.body.toString()).toBe(Array.from({ length: 50 }, (_, i) => `part ${i};`).join(''));
    const split = await get(`http://${HOST_LOOPBACK}:${rawPort}/split`);
    expect(split.body.toString()).toBe('hello, world');
  });

  it('handles bodies until close, HEAD, 204 and interim responses', async () => {
    expect((await get(`http://${HOST_LOOPBACK}:${rawPort}/close`)).body.toString()).toBe('until the end');
    const head = await get(`http://${HOST_LOOPBACK}:${rawPort}/head`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe('1000');
    expect(head.body.length).toBe(0);
    const none = await get(`http://${HOST_LOOPBACK}:${rawPort}/204`);
    expect(none.status).toBe(204);
    expect(none.headers['x-a']).toBe('b');
    const interim = await get(`http://${HOST_LOOPBACK}:${rawPort}/interim`);
    expect(interim.status).toBe(200);
    expect(interim.body.toString()).toBe('final');
  });

  it('retries a request whose kept-alive upstream connection the server closed meanwhile', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < 6; i++) {
      const r = await get(`http://${HOST_LOOPBACK}:${stalePort}/${i % 2 ? 'soon' : ''}`, { agent });
      expect(r.status).toBe(200);
      expect(r.body.toString()).toBe('ok');
      await new Promise((r) => setTimeout(r, 30));
    }
    agent.destroy();
    expect(staleConnections()).toBeGreaterThanOrEqual(6);
    // a request with a body is not sent twice: it fails instead
    expect((await get(`http://${HOST_LOOPBACK}:${stalePort}/`)).status).toBe(200);
    const posted = await get(`http://${HOST_LOOPBACK}:${stalePort}/`, { method: 'POST', body: Buffer.from('once'), headers: { 'content-length': '4' } });
    expect(posted.status).toBe(502);
  });

  it('answers 502 when the upstream cannot be reached or does not speak HTTP, and counts it failed', async () => {
    const failedBefore = outcomes.filter((o) => o === 'failed').length;
    const refused = await get(`http://${HOST_LOOPBACK}:${deadPort}/`);
    expect(refused.status).toBe(502);
    expect(refused.body.toString()).toMatch(/cannot reach 127\.0\.0\.2:\d+: ECONNREFUSED/);
    expect((await get(`http://${HOST_LOOPBACK}:${rawPort}/garbage`)).status).toBe(502);
    expect(outcomes.filter((o) => o === 'failed').length - failedBefore).toBe(2);
    await expect(get(`http://${HOST_LOOPBACK}:${rawPort}/short`)).rejects.toThrow();
  });

  it('resolves a name once for a while, and still refuses what is not allowed', async () => {
    const before = lookups;
    for (let i = 0; i < 3; i++) expect((await get(`http://web.test:${webPort}/n`)).body.toString()).toContain('GET /n 0');
    expect(lookups - before).toBe(1);
    const denied = await get(`http://web.test:${rawPort}/`);
    expect(denied.status).toBe(403);
    expect(denied.headers['x-bkg-error']).toBe('NETWORK_DENIED');
    expect((await get('http://other.test/')).status).toBe(403);
  });
});
