import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/log.js';
import { createFileDigest, downloadHttp } from '../../../src/llm/registry/download.js';

/**
 * downloadHttp's own HTTP/1.1 reader (http-get.ts) against a server that writes its answers by
 * hand on node:net: every framing, split into small writes, redirects, interim answers and broken
 * bodies, each checked by the file's bytes and the digest taken on the way.
 */
const data = randomBytes(3 * 1024 * 1024 + 4321); // more than the appender's two 1 MiB buffers
const sha = createHash('sha256').update(data).digest('hex');
const dir = mkdtempSync(join(tmpdir(), 'bkg-http-get-'));
const log = createLogger({ level: 'silent' });
let server: Server;
let base = '';
const seen: string[] = [];

/** Write `parts` one by one, a macrotask apart (so the reader sees them as separate reads). */
async function dribble(sock: Socket, parts: (string | Buffer)[]): Promise<void> {
  for (const p of parts) {
    sock.write(p);
    await new Promise((r) => setTimeout(r, 1));
  }
}

function chunked(body: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < body.length; at += size) {
    const c = body.subarray(at, at + size);
    out.push(Buffer.from(`${c.length.toString(16)};ext=1\r\n`), c, Buffer.from('\r\n'));
  }
  out.push(Buffer.from('0\r\nx-trailer: 1\r\n\r\n'));
  return out;
}

const routes: Record<string, (sock: Socket, req: string) => Promise<void> | void> = {
  '/length': (s) => void s.end(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\ncontent-length: ${data.length}\r\n\r\n`), data])),
  '/chunked': async (s) => {
    await dribble(s, ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n', '\r\n', ...chunked(data, 100_000)]);
    s.end();
  },
  // many chunks in one read: the reader must not pass on the next piece while the file waits
  '/chunked-small': (s) => void s.end(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n'), ...chunked(data, 8192)])),
  '/close': async (s) => {
    await dribble(s, ['HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n', data.subarray(0, 1000), data.subarray(1000)]);
    s.end();
  },
  '/interim': (s) => void s.end(Buffer.concat([Buffer.from(`HTTP/1.1 103 Early Hints\r\nlink: </x>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: ${data.length}\r\n\r\n`), data])),
  '/many-interim': (s) => void s.end(`${'HTTP/1.1 100 Continue\r\n\r\n'.repeat(17)}HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok`),
  '/redirect': (s) => void s.end('HTTP/1.1 302 Found\r\nlocation: /length\r\ncontent-length: 5\r\n\r\nmoved'),
  '/loop': (s) => void s.end('HTTP/1.1 301 Moved\r\nlocation: /loop\r\ncontent-length: 0\r\n\r\n'),
  '/to-file': (s) => void s.end('HTTP/1.1 301 Moved\r\nlocation: file:///etc/passwd\r\ncontent-length: 0\r\n\r\n'),
  '/bad-chunk': (s) => void s.end('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n'),
  '/bad-length': (s) => void s.end('HTTP/1.1 200 OK\r\ncontent-length: 12abc\r\n\r\nhello'),
  '/not-http': (s) => void s.end('SSH-2.0-OpenSSH_9.6\r\n\r\n'),
  '/gone': (s) => void s.end('HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\n\r\nnot found'),
};

beforeAll(async () => {
  server = createServer((sock) => {
    let req = '';
    sock.on('error', () => {});
    sock.on('data', (d) => {
      req += d.toString('latin1');
      if (!req.includes('\r\n\r\n')) return;
      const path = /^GET (\S+) HTTP\/1\.1\r\n/.exec(req)?.[1] ?? '';
      seen.push(req);
      const route = routes[path.split('?')[0] ?? ''];
      if (route) void route(sock, req);
      else sock.end('HTTP/1.1 500 No Route\r\ncontent-length: 0\r\n\r\n');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  base = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

async function download(path: string, name: string) {
  const dest = join(dir, name);
  const digest = createFileDigest();
  const progress: number[] = [];
  const r = await downloadHttp(new URL(path, base), { dest, digest, log, maxBytes: 2 ** 40, retries: 0, retryDelayMs: 1, onProgress: (done) => progress.push(done) });
  return { r, bytes: readFileSync(dest), digest: digest.hex(), progress };
}

describe('downloadHttp over its own HTTP/1.1 reader', () => {
  it.each(['/length', '/chunked', '/chunked-small', '/close', '/interim', '/redirect'])('%s: the whole body, hashed on the way', async (path) => {
    const { r, bytes, digest, progress } = await download(path, `f${path.slice(1)}`);
    expect(r).toEqual({ bytes: data.length, attempts: 1, resumed: 0 });
    expect(bytes.equals(data)).toBe(true);
    expect(digest).toBe(sha);
    expect(progress.at(-1)).toBe(data.length);
  });

  it('sends one GET with the host, identity encoding, its user agent and connection: close', async () => {
    seen.length = 0;
    await download('/length?x=1', 'q');
    expect(seen).toHaveLength(1);
    const req = seen[0] ?? '';
    expect(req.startsWith('GET /length?x=1 HTTP/1.1\r\n')).toBe(true);
    expect(req).toContain(`host: ${new URL(base).host}\r\n`);
    expect(req).toContain('accept-encoding: identity\r\n');
    expect(req).toContain('user-agent: bkg-model-registry\r\n');
    expect(req).toContain('connection: close\r\n');
  });

  it('refuses broken answers with DOWNLOAD_FAILED and a reason', async () => {
    await expect(download('/loop', 'l')).rejects.toMatchObject({ code: 'DOWNLOAD_FAILED', message: expect.stringContaining('too many redirects') });
    await expect(download('/to-file', 't')).rejects.toMatchObject({ code: 'DOWNLOAD_FAILED', message: 'redirect to unsupported protocol file:' });
    await expect(download('/bad-chunk', 'c')).rejects.toMatchObject({ code: 'DOWNLOAD_FAILED', message: expect.stringContaining('the server sent a malformed chunk') });
    await expect(download('/bad-length', 'b')).rejects.toMatchObject({ code: 'DOWNLOAD_FAILED', message: expect.stringContaining('an invalid content-length') });
    await expect(download('/not-http', 'n')).rejects.toMatchObject({ code: 'DOWNLOAD_FAILED', message: expect.stringContaining('a response that is not HTTP/1.x') });
    await expect(download('/many-interim', 'i')).rejects.toMatchObject({ code: 'DOWNLOAD_FAILED', message: expect.stringContaining('more than 16 interim answers') });
    await expect(download('/gone', 'g')).rejects.toMatchObject({ code: 'DOWNLOAD_FAILED', message: `HTTP 404 from ${base}/gone` });
  });
});
