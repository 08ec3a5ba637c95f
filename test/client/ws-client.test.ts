/**
 * The CLI's own WebSocket client against the `ws` server the daemon runs: messages both ways (small,
 * 16-bit and 64-bit lengths, fragmented), ping/pong, both closing handshakes, an upgrade refused with
 * an ordinary response (its body by content-length, chunked or up to the end; interim answers
 * skipped; a body that cannot be read reported), an answer that is not HTTP or not a WebSocket, a
 * connection that goes before any answer, and a unix socket as well as TCP.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { WsClient } from '../../src/client/ws-client.js';

const dir = mkdtempSync(join(tmpdir(), 'bkg-ws-client-'));
const servers: Server[] = [];
afterAll(async () => {
  for (const s of servers) await new Promise((r) => s.close(r));
  rmSync(dir, { recursive: true, force: true });
});

/** An HTTP server whose /ws upgrades (when the authorization header says `yes`) and whose every other answer is a 401 with a JSON body. */
async function serve(onSocket: (ws: WebSocket) => void, at: 'tcp' | 'unix'): Promise<{ target: { socketPath?: string; origin: string } }> {
  const wss = new WebSocketServer({ noServer: true });
  const server = createServer((_req, res) => {
    res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'UNAUTHORIZED' } }));
  });
  server.on('upgrade', (req, socket, head) => {
    if (req.headers.authorization !== 'yes') {
      socket.end('HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: 30\r\nconnection: close\r\n\r\n{"error":{"code":"NO_ACCESS"}}');
      return;
    }
    wss.handleUpgrade(req, socket, head, onSocket);
  });
  servers.push(server);
  if (at === 'unix') {
    const socketPath = join(dir, `s${servers.length}.sock`);
    server.listen(socketPath);
    await once(server, 'listening');
    return { target: { socketPath, origin: 'http://localhost' } };
  }
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { target: { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` } };
}

function messages(c: WsClient): { got: [Buffer, boolean][]; closed: Promise<unknown> } {
  const got: [Buffer, boolean][] = [];
  c.on('message', (d: Buffer, binary: boolean) => got.push([d, binary]));
  return { got, closed: once(c, 'close') };
}

describe('WsClient', () => {
  for (const at of ['unix', 'tcp'] as const) {
    it(`exchanges text and binary messages of every length class over ${at}, answers pings, and ends on the server's close`, async () => {
      const big = Buffer.alloc(70_000, 7);
      const heard: [string, boolean][] = [];
      let ponged = false;
      const { target } = await serve((ws) => {
        ws.on('pong', () => (ponged = true));
        ws.on('message', (d: Buffer, binary) => {
          heard.push([binary ? `bin:${d.length}:${d[0]}` : d.toString(), binary]);
          if (heard.length < 3) return;
          ws.ping();
          ws.send('hello');
          ws.send(Buffer.from([1, 2, 3]));
          ws.send(big);
          ws.send(Buffer.alloc(300, 9));
          ws.send('frag', { fin: false });
          ws.send('mented', { fin: true });
          setTimeout(() => ws.close(1000, 'bye'), 50);
        });
      }, at);
      const c = new WsClient({ ...target, path: '/ws', headers: { authorization: 'yes' } });
      const { got, closed } = messages(c);
      await once(c, 'open');
      expect(c.readyState).toBe(c.OPEN);
      c.send('{"type":"start"}');
      c.send(Buffer.from([5, 6]));
      c.send(Buffer.alloc(200_000, 4));
      await closed;
      expect(heard).toEqual([['{"type":"start"}', false], ['bin:2:5', true], ['bin:200000:4', true]]);
      expect(got.map(([d, b]) => (b ? `bin:${d.length}:${d[0]}` : d.toString()))).toEqual(['hello', 'bin:3:1', 'bin:70000:7', 'bin:300:9', 'fragmented']);
      expect(got[2]?.[0].equals(big)).toBe(true);
      expect(ponged).toBe(true);
      expect(c.readyState).toBe(3);
    });
  }

  it('closes from our side with the closing handshake', async () => {
    let code = 0;
    const { target } = await serve((ws) => ws.on('close', (c) => (code = c)), 'unix');
    const c = new WsClient({ ...target, path: '/ws', headers: { authorization: 'yes' } });
    const { closed } = messages(c);
    await once(c, 'open');
    c.close();
    await closed;
    for (let i = 0; i < 50 && code === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(code).toBe(1000);
  });

  it('hands an ordinary answer to the upgrade to unexpected-response, then closes', async () => {
    const { target } = await serve(() => {}, 'unix');
    const c = new WsClient({ ...target, path: '/ws', headers: {} });
    const [, res] = (await once(c, 'unexpected-response')) as [unknown, import('node:http').IncomingMessage];
    const closed = once(c, 'close');
    const body: Buffer[] = [];
    res.on('data', (d: Buffer) => body.push(d));
    await closed;
    expect([res.statusCode, Buffer.concat(body).toString()]).toEqual([401, '{"error":{"code":"NO_ACCESS"}}']);
  });

  /** A server that answers every connection with `raw` (written in pieces) and closes unless `keepOpen`. */
  async function rawServer(raw: string[], keepOpen = false): Promise<string> {
    const { createServer: createNetServer } = await import('node:net');
    const socketPath = join(dir, `raw${servers.length}.sock`);
    const server = createNetServer((sock) => {
      sock.once('data', async () => {
        for (const part of raw) {
          sock.write(part);
          await new Promise((r) => setTimeout(r, 5));
        }
        if (!keepOpen) sock.end();
      });
    });
    servers.push(server as unknown as Server);
    server.listen(socketPath);
    await once(server, 'listening');
    return socketPath;
  }

  async function refusal(socketPath: string): Promise<[number, string, string | undefined]> {
    const c = new WsClient({ socketPath, origin: 'http://localhost', path: '/ws', headers: { authorization: 'Bearer k' } });
    const [, res] = (await once(c, 'unexpected-response')) as [unknown, import('node:http').IncomingMessage];
    const body: Buffer[] = [];
    for await (const d of res) body.push(d as Buffer);
    return [res.statusCode ?? 0, Buffer.concat(body).toString(), res.headers['content-type'] as string | undefined];
  }

  it('reads a refusal whose head and body arrive in pieces: by content-length, chunked, or up to the end of the connection', async () => {
    const json = '{"error":{"code":"NOT_FOUND"}}';
    // content-length: the body ends there, whatever follows on a connection kept open
    expect(await refusal(await rawServer(['HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nCon', `tent-Length: ${json.length}\r\n\r\n${json.slice(0, 9)}`, `${json.slice(9)}`], true))).toEqual([404, json, 'application/json']);
    expect(await refusal(await rawServer([`HTTP/1.1 403 Forbidden\r\ntransfer-encoding: chunked\r\n\r\n5\r\n${json.slice(0, 5)}\r\n`, `${(json.length - 5).toString(16)}\r\n${json.slice(5)}\r\n0\r\n\r\n`], true))).toEqual([403, json, undefined]);
    expect(await refusal(await rawServer([`HTTP/1.0 500 Oops\r\n\r\n${json}`]))).toEqual([500, json, undefined]);
  });

  it('fails on an answer that is not HTTP, and refuses a header value with a line break', async () => {
    const c = new WsClient({ socketPath: await rawServer(['SSH-2.0-OpenSSH\r\n\r\n'], true), origin: 'http://localhost', path: '/ws', headers: {} });
    const [err] = (await once(c, 'error')) as [Error];
    expect(err.message).toBe('the server sent a response that is not HTTP/1.x');
    await once(c, 'close');
    expect(() => new WsClient({ socketPath: join(dir, 'x.sock'), origin: 'http://localhost', path: '/ws', headers: { authorization: 'Bearer k\r\nx-admin: 1' } })).toThrow(/line break/);
  });

  it('skips interim answers, refuses a 101 that is not a WebSocket, and reports a body that cannot be read', async () => {
    const json = '{"error":{"code":"NOT_FOUND"}}';
    expect(await refusal(await rawServer([`HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </x>\r\n\r\n`, `HTTP/1.1 404 Not Found\r\ncontent-length: ${json.length}\r\n\r\n${json}`], true))).toEqual([404, json, undefined]);
    const notWs = new WsClient({ socketPath: await rawServer(['HTTP/1.1 101 Switching Protocols\r\nupgrade: h2c\r\nconnection: Upgrade\r\n\r\n'], true), origin: 'http://localhost', path: '/ws', headers: {} });
    const notWsClosed = new Promise((r) => notWs.once('close', r)); // (events.once would reject on the 'error' before it)
    const [err] = (await once(notWs, 'error')) as [Error];
    expect(err.message).toBe('the server sent a 101 answer without "upgrade: websocket"');
    await notWsClosed;
    for (const head of ['HTTP/1.1 500 Oops\r\ncontent-length: 5, 5\r\n\r\nhello', 'HTTP/1.1 500 Oops\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n', 'HTTP/1.1 500 Oops\r\ncontent-length: 99\r\n\r\nhello']) {
      const c = new WsClient({ socketPath: await rawServer([head], head.includes('99') ? false : true), origin: 'http://localhost', path: '/ws', headers: {} });
      const closed = new Promise((r) => c.once('close', r)); // the connection goes with the broken answer
      // a listener for the body's 'error' from the start, as exec-stream has (without one, the body just ends)
      const broken = await new Promise<Error>((resolve) => c.once('unexpected-response', (_req, res: import('node:http').IncomingMessage) => res.once('error', resolve)));
      expect(broken.message).toMatch(/^the server sent (an invalid content-length "5, 5"|a malformed chunk|a response cut short)$/);
      await closed;
    }
  });

  it('says error (ECONNRESET), then close, when the connection goes before any answer', async () => {
    const c = new WsClient({ socketPath: await rawServer([]), origin: 'http://localhost', path: '/ws', headers: {} });
    const closed = new Promise((r) => c.once('close', r)); // 'close' comes in the same turn as 'error'
    const [err] = (await once(c, 'error')) as [NodeJS.ErrnoException];
    expect([err.code, err.message]).toEqual(['ECONNRESET', 'socket hang up']);
    await closed;
    expect(c.readyState).toBe(3);
  });

  it('says error, then close, when nothing listens', async () => {
    const c = new WsClient({ socketPath: join(dir, 'nobody.sock'), origin: 'http://localhost', path: '/ws', headers: {} });
    const [err] = (await once(c, 'error')) as [NodeJS.ErrnoException];
    expect(err.code).toBe('ENOENT');
    expect(c.readyState).toBe(3);
  });
});
