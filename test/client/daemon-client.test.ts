/** DaemonClient against a tiny real HTTP server on a temp unix socket: requests, error mapping, starting the daemon. */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BkgError } from '../../src/api/errors.js';
import { DaemonClient, errorFromResponse } from '../../src/client/daemon-client.js';
import { resolveEndpoint } from '../../src/client/endpoint.js';
import { FakeDaemon } from './fake-server.js';
import { rejection as caught } from '../helpers/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'bkg-client-'));
const fake = new FakeDaemon(join(dir, 'api.sock'));
let client: DaemonClient;

const VIEW = {
  id: 'abc123', name: 'web', namespace: 'default', project: 'demo', status: 'running', runtime: 'shell', network: 'none', limits: { memory_mb: 256 },
  env: [], workspace: null, api_key: 'bkg_ab...cd', created_at: '2024-01-01T00:00:00Z', started_at: null, expires_at: null, idle_expires_at: null, last_activity_at: null, host: 'host_1',
};


beforeAll(async () => {
  await fake.start();
  client = new DaemonClient({ endpoint: resolveEndpoint({ BKG_API_URL: `unix://${fake.socketPath}` }) });
});

afterAll(async () => {
  await client.close();
  await fake.stop();
  rmSync(dir, { recursive: true, force: true });
});

afterEach(() => {
  fake.routes.clear();
  fake.seen.length = 0;
});

describe('DaemonClient requests', () => {
  it('sends JSON bodies and returns typed results', async () => {
    fake.routes.set('POST /api/v1/sandboxes', () => ({ status: 201, body: { ...VIEW, api_key_secret: 'bkg_secret' } }));
    const r = await client.createSandbox({ name: 'web', project: 'demo', limits: { memory_mb: 256 } });
    expect(r).toEqual({ sandbox: VIEW, api_key_secret: 'bkg_secret' });
    const req = fake.last();
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers.authorization).toBeUndefined();
    expect(JSON.parse(req.body.toString())).toEqual({ name: 'web', project: 'demo', limits: { memory_mb: 256 } });
  });

  it('unwraps list answers and encodes ids in paths', async () => {
    fake.routes.set('GET /api/v1/sandboxes', () => ({ status: 200, body: { sandboxes: [VIEW] } }));
    fake.routes.set('GET /api/v1/sandboxes/a%20b', () => ({ status: 200, body: VIEW }));
    fake.routes.set('POST /api/v1/sandboxes/web/exec', () => ({ status: 200, body: { exit_code: 0, signal: null, stdout: 'hi\n', stderr: '', timed_out: false, oom_killed: false, duration_ms: 3, truncated: false } }));
    fake.routes.set('DELETE /api/v1/sandboxes/web', () => ({ status: 204 }));
    expect(await client.listSandboxes()).toEqual([VIEW]);
    expect((await client.getSandbox('a b')).id).toBe('abc123');
    const r = await client.exec('web', { cmd: ['echo', 'hi'], timeout_ms: 1000 });
    expect(r.stdout).toBe('hi\n');
    expect(JSON.parse(fake.last().body.toString())).toEqual({ cmd: ['echo', 'hi'], timeout_ms: 1000 });
    await expect(client.removeSandbox('web')).resolves.toBeUndefined();
    expect(fake.last().method).toBe('DELETE');
  });

  it('moves files as raw bytes with the path in the query', async () => {
    const bytes = Buffer.from([0, 1, 2, 255, 10]);
    fake.routes.set('GET /api/v1/sandboxes/web/files', () => ({ status: 200, raw: bytes, type: 'application/octet-stream' }));
    fake.routes.set('PUT /api/v1/sandboxes/web/files', () => ({ status: 204 }));
    expect(await client.readFile('web', '/workspace/a b&c')).toEqual(bytes);
    expect(new URL(fake.last().url, 'http://x').searchParams.get('path')).toBe('/workspace/a b&c');
    await client.writeFile('web', '/tmp/x', bytes);
    expect(fake.last().headers['content-type']).toBe('application/octet-stream');
    expect(fake.last().body).toEqual(bytes);
  });

  it('passes audit filters as query parameters, leaving out unset ones', async () => {
    fake.routes.set('GET /api/v1/audit', () => ({ status: 200, body: { events: [] } }));
    await client.auditEvents({ since: '1h', limit: 5 });
    expect(fake.last().url).toBe('/api/v1/audit?since=1h&limit=5');
    await client.auditEvents();
    expect(fake.last().url).toBe('/api/v1/audit');
  });

  it('sends the bearer key when one is configured', async () => {
    const keyed = new DaemonClient({ endpoint: resolveEndpoint({ BKG_API_URL: `unix://${fake.socketPath}`, BKG_API_KEY: 'bkg_abc' }) });
    fake.routes.set('GET /api/v1/keys', () => ({ status: 200, body: { keys: [] } }));
    try {
      expect(await keyed.listKeys()).toEqual([]);
      expect(fake.last().headers.authorization).toBe('Bearer bkg_abc');
    } finally {
      await keyed.close();
    }
  });

  it('reports health for both 200 and 503 without throwing', async () => {
    fake.routes.set('GET /healthz', () => ({ status: 503, body: { ok: false, problems: ['sandbox helper missing'] } }));
    expect(await client.health()).toEqual({ ok: false, problems: ['sandbox helper missing'] });
    expect(await client.probe()).toEqual({ ok: false, problems: ['sandbox helper missing'] });
  });
});

describe('DaemonClient error mapping', () => {
  it('rethrows the daemon\'s code, message, hint and details', async () => {
    fake.routes.set('POST /api/v1/sandboxes/web/exec', () => ({
      status: 409, body: { error: { code: 'SANDBOX_NOT_RUNNING', message: 'sandbox "web" is not running', hint: 'start it', details: { id: 'abc' } } },
    }));
    const e = await caught(client.exec('web', { cmd: ['true'] }));
    expect(e.code).toBe('SANDBOX_NOT_RUNNING');
    expect(e.message).toBe('sandbox "web" is not running');
    expect(e.hint).toBe('start it');
    expect(e.details).toEqual({ id: 'abc' });
    expect(e.exitCode).toBe(2);
  });

  it.each([
    [401, 'UNAUTHENTICATED', 4],
    [403, 'FORBIDDEN', 4],
    [404, 'NOT_FOUND', 2],
    [409, 'CONFLICT', 2],
    [429, 'RATE_LIMITED', 5],
    [503, 'ISOLATION_UNAVAILABLE', 3],
  ] as const)('HTTP %i %s → exit %i', async (status, code, exit) => {
    fake.routes.set('GET /api/v1/sandboxes', () => ({ status, body: { error: { code, message: 'nope', hint: 'h' } } }));
    const e = await caught(client.listSandboxes());
    expect([e.code, e.exitCode, e.hint]).toEqual([code, exit, 'h']);
  });

  it('uses the registry hint when the daemon sends none', async () => {
    fake.routes.set('GET /api/v1/keys', () => ({ status: 403, body: { error: { code: 'FORBIDDEN', message: 'this needs an admin key' } } }));
    const e = await caught(client.listKeys());
    expect(e.hint).toMatch(/role or namespace/);
  });

  it('maps unknown codes to INTERNAL, keeping the code in the message and details', async () => {
    fake.routes.set('GET /api/v1/daemon', () => ({ status: 418, body: { error: { code: 'TEAPOT', message: 'short and stout', hint: 'tip me over' } } }));
    const e = await caught(client.daemonInfo());
    expect(e.code).toBe('INTERNAL');
    expect(e.message).toContain('TEAPOT');
    expect(e.message).toContain('short and stout');
    expect(e.hint).toBe('tip me over');
    expect(e.details).toMatchObject({ code: 'TEAPOT', status: 418 });
  });

  it('maps an answer without an error body to INTERNAL naming the status', async () => {
    fake.routes.set('GET /api/v1/daemon', () => ({ status: 502, raw: '<html>Bad Gateway</html>', type: 'text/html' }));
    const e = await caught(client.daemonInfo());
    expect(e.code).toBe('INTERNAL');
    expect(e.message).toContain('HTTP 502');
    expect(e.message).toContain('Bad Gateway');
  });

  it('maps a 2xx answer that is not JSON to INTERNAL', async () => {
    fake.routes.set('GET /api/v1/daemon', () => ({ status: 200, raw: 'not json', type: 'text/plain' }));
    expect((await caught(client.daemonInfo())).code).toBe('INTERNAL');
  });

  it('errorFromResponse ignores malformed details', () => {
    const e = errorFromResponse(400, Buffer.from(JSON.stringify({ error: { code: 'INVALID_ARGUMENT', message: 'bad', hint: 7, details: [1] } })));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.hint).toMatch(/Check the named field/);
    expect(e.details).toBeUndefined();
  });
});

describe('reaching the daemon', () => {
  it('is DAEMON_UNAVAILABLE (exit 3) when nothing listens at BKG_API_URL, and never starts one', async () => {
    const c = new DaemonClient({ endpoint: resolveEndpoint({ BKG_API_URL: `unix://${join(dir, 'nothing.sock')}` }) });
    try {
      expect(c.canAutoStart).toBe(false);
      const e = await caught(c.listSandboxes());
      expect(e.code).toBe('DAEMON_UNAVAILABLE');
      expect(e.exitCode).toBe(3);
      expect(e.message).toContain('nothing.sock');
      expect(await c.probe()).toBeNull();
    } finally {
      await c.close();
    }
  });

  it('is DAEMON_UNAVAILABLE for a refused TCP port', async () => {
    const c = new DaemonClient({ endpoint: resolveEndpoint({ BKG_API_URL: 'http://127.0.0.1:1' }) });
    try {
      expect((await caught(c.daemonInfo())).code).toBe('DAEMON_UNAVAILABLE');
    } finally {
      await c.close();
    }
  });
});

describe('starting the host daemon', () => {
  const FIXTURE = join(import.meta.dirname, 'fixtures', 'fake-daemon.mjs');

  function homeClient(mode: 'ok' | 'fail' | 'hang', timeoutMs = 10_000): { c: DaemonClient; home: string } {
    const home = mkdtempSync(join(tmpdir(), 'bkg-home-'));
    const env: NodeJS.ProcessEnv = { ...process.env, BKG_HOME: join(home, 'h'), FAKE_DAEMON_MODE: mode };
    delete env.BKG_API_URL;
    delete env.BKG_API_KEY;
    return { c: new DaemonClient({ env, binPath: FIXTURE, startTimeoutMs: timeoutMs }), home };
  }

  it('starts it once when its socket does not answer, with output in $BKG_HOME/logs/daemon.out (0700 dirs)', async () => {
    const { c, home } = homeClient('ok');
    try {
      expect(c.canAutoStart).toBe(true);
      const info = await c.daemonInfo();
      expect(info.version).toBe('fake');
      expect(c.started?.started).toBe(true);
      expect(c.started?.pid).toBe(info.pid);
      const h = join(home, 'h');
      expect(statSync(h).mode & 0o777).toBe(0o700);
      expect(statSync(join(h, 'logs')).mode & 0o777).toBe(0o700);
      expect(readFileSync(join(h, 'logs', 'daemon.out'), 'utf8')).toContain('fake daemon daemon start --foreground');
      // A second ensureDaemon finds it running.
      expect((await c.ensureDaemon()).started).toBe(false);
      await c.shutdownDaemon();
    } finally {
      await c.close();
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('reports a daemon that exits at once, with the end of its output', async () => {
    const { c, home } = homeClient('fail');
    try {
      const e = await caught(c.listSandboxes());
      expect(e.code).toBe('DAEMON_UNAVAILABLE');
      expect(e.exitCode).toBe(3);
      expect(e.message).toContain('exited with code 7');
      expect(e.message).toContain('fake daemon: cannot start');
      expect(e.hint).toContain(join(home, 'h', 'logs', 'daemon.out'));
    } finally {
      await c.close();
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('gives up after the start timeout', async () => {
    const { c, home } = homeClient('hang', 600);
    try {
      const t = Date.now();
      const e = await caught(c.listSandboxes());
      expect(e.code).toBe('DAEMON_UNAVAILABLE');
      expect(e.message).toContain('did not answer');
      expect(Date.now() - t).toBeLessThan(5000);
      // Only one start per client: the next call fails without spawning again.
      expect((await caught(c.listSandboxes())).code).toBe('DAEMON_UNAVAILABLE');
      expect(existsSync(join(home, 'h', 'bkg.sock'))).toBe(false);
    } finally {
      await c.close();
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('resolveEndpoint', () => {
  it('defaults to $BKG_HOME/bkg.sock without a key', () => {
    expect(resolveEndpoint({ BKG_HOME: '/srv/bkg/' })).toEqual({ origin: 'http://localhost', socketPath: '/srv/bkg/bkg.sock', home: '/srv/bkg', url: 'unix:///srv/bkg/bkg.sock' });
  });

  it('reads BKG_API_URL and BKG_API_KEY', () => {
    expect(resolveEndpoint({ BKG_API_URL: 'unix:///run/bkg/api.sock', BKG_API_KEY: 'k1' })).toEqual({ origin: 'http://localhost', socketPath: '/run/bkg/api.sock', url: 'unix:///run/bkg/api.sock', apiKey: 'k1' });
    expect(resolveEndpoint({ BKG_API_URL: 'http://127.0.0.1:7420' })).toEqual({ origin: 'http://127.0.0.1:7420', url: 'http://127.0.0.1:7420' });
  });

  it.each([
    [{ BKG_HOME: 'relative/home' }, 'BKG_HOME'],
    [{ BKG_API_URL: 'ftp://x' }, 'BKG_API_URL'],
    [{ BKG_API_URL: 'not a url' }, 'BKG_API_URL'],
    [{ BKG_API_URL: 'unix://host/sock' }, 'BKG_API_URL'],
    [{ BKG_API_URL: 'http://127.0.0.1:7420/api' }, 'BKG_API_URL'],
    [{ BKG_API_KEY: 'has space' }, 'BKG_API_KEY'],
  ])('%j is INVALID_CONFIG naming %s', (env, setting) => {
    let err: unknown;
    try {
      resolveEndpoint(env);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BkgError);
    expect((err as BkgError).code).toBe('INVALID_CONFIG');
    expect((err as BkgError).message.startsWith(`${setting}:`)).toBe(true);
  });
});
