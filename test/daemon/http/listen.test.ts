import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BkgError } from '../../../src/api/errors.js';
import { Router } from '../../../src/daemon/http/router.js';
import { createHttpServer } from '../../../src/daemon/http/server.js';
import { Registry } from '../../../src/daemon/prometheus.js';
import { request, type Harness } from './harness.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bkg-listen-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function server() {
  const router = new Router().addPublic('GET', '/healthz', async () => ({ status: 200, body: { ok: true } }));
  return createHttpServer({ router, log: pino({ level: 'silent' }), authenticate: () => ({}), authorize: () => {}, metrics: new Registry(), maxBodyBytes: 1024 });
}

async function errorOf(p: Promise<unknown>): Promise<BkgError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(BkgError);
  return err as BkgError;
}

/** A socket file whose listener was SIGKILLed: nothing answers on it any more. */
async function staleSocket(path: string): Promise<void> {
  const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`]);
  await new Promise((resolve) => child.stdout.once('data', resolve));
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  expect((await stat(path)).isSocket()).toBe(true);
}

describe('listen', () => {
  it('replaces a stale socket, serves on it 0600, and removes it on close', async () => {
    const socketPath = join(dir, 'bkg.sock');
    await staleSocket(socketPath);
    const s = server();
    const bound = await s.listen({ socketPath, port: 0, host: '127.0.0.1' });
    expect(bound).toEqual({ socketPath });
    expect(s.tcp.listening).toBe(false);
    expect((await stat(socketPath)).mode & 0o777).toBe(0o600);
    const res = await request({ socketPath } as Harness, 'unix', { path: '/healthz' });
    expect(res.json).toEqual({ ok: true });
    await s.close();
    expect(existsSync(socketPath)).toBe(false);
  });

  it('creates a missing parent directory owner-only', async () => {
    const socketPath = join(dir, 'home', 'bkg.sock');
    const s = server();
    await s.listen({ socketPath, port: 0, host: '127.0.0.1' });
    expect((await stat(join(dir, 'home'))).mode & 0o777).toBe(0o700);
    await s.close();
  });

  it('refuses a socket something answers on, and leaves it alone', async () => {
    const socketPath = join(dir, 'bkg.sock');
    const other = createNetServer();
    await new Promise<void>((resolve) => other.listen(socketPath, resolve));
    try {
      const err = await errorOf(server().listen({ socketPath, port: 0, host: '127.0.0.1' }));
      expect(err.code).toBe('CONFLICT');
      expect((await stat(socketPath)).isSocket()).toBe(true);
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });

  it('never removes a file that is not a socket', async () => {
    const socketPath = join(dir, 'bkg.sock');
    await writeFile(socketPath, 'precious');
    const err = await errorOf(server().listen({ socketPath, port: 0, host: '127.0.0.1' }));
    expect(err.code).toBe('INVALID_CONFIG');
    expect(await readFile(socketPath, 'utf8')).toBe('precious');
  });

  it('listens on TCP only on loopback, and reports a busy port', async () => {
    expect((await errorOf(server().listen({ port: 'ephemeral', host: '0.0.0.0' }))).code).toBe('INVALID_CONFIG');
    const a = server();
    const { port } = await a.listen({ port: 'ephemeral', host: '127.0.0.1' });
    expect(port).toBeGreaterThan(0);
    try {
      const socketPath = join(dir, 'b.sock');
      const b = server();
      const err = await errorOf(b.listen({ socketPath, port: port ?? 0, host: '127.0.0.1' }));
      expect(err.code).toBe('CONFLICT');
      expect(b.unix.listening).toBe(false);
      expect(existsSync(socketPath)).toBe(false);
    } finally {
      await a.close();
    }
  });
});
