/** runProject (for `bkg run [NAME] [-- CMD]`) against a fake daemon: create/start only what is needed, then exec. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BkgError } from '../../src/api/errors.js';
import type { ExecResponse, SandboxView } from '../../src/api/sandboxes.js';
import { execExitCode } from '../../src/cli/exec-output.js';
import { runProject, type ExecFn } from '../../src/cli/run-project.js';

/** CMD through the REST exec the fake daemon answers (the real CLI streams it over the WebSocket; daily.test.ts). */
const restExec: ExecFn = async (c, i) => {
  const r = await c.exec(i.name, { cmd: i.cmd, ...(i.env ? { env: i.env } : {}) });
  return { exitCode: execExitCode(r), result: r };
};
import { DaemonClient } from '../../src/client/daemon-client.js';
import { resolveEndpoint } from '../../src/client/endpoint.js';
import { FakeDaemon, type Reply } from '../client/fake-server.js';

const dir = mkdtempSync(join(tmpdir(), 'bkg-runproj-'));
const fake = new FakeDaemon(join(dir, 'api.sock'));
const configPath = join(dir, 'cave.yaml');
let client: DaemonClient;

/** The fake daemon's sandboxes, by name. */
let sandboxes: Map<string, SandboxView>;
let execResult: Partial<ExecResponse>;

function view(name: string, status: SandboxView['status'], project: string | null = 'demo'): SandboxView {
  return {
    id: `id-${name}`, name, namespace: 'default', project, status, runtime: 'shell', network: 'none', limits: {}, env: [], workspace: null, allow_nested_namespaces: false, seccomp: 'default',
    api_key: 'bkg_x...y', created_at: '2024-01-01T00:00:00Z', started_at: null, expires_at: null, idle_expires_at: null, last_activity_at: null, host: 'host_1',
  };
}

const notFound = (name: string): Reply => ({ status: 404, body: { error: { code: 'NOT_FOUND', message: `no sandbox "${name}"`, hint: 'h' } } });
const conflict = (message: string): Reply => ({ status: 409, body: { error: { code: 'CONFLICT', message, hint: 'h' } } });

function route(name: string): void {
  const base = `/api/v1/sandboxes/${name}`;
  fake.routes.set(`GET ${base}`, () => {
    const s = sandboxes.get(name);
    return s ? { status: 200, body: s } : notFound(name);
  });
  fake.routes.set(`POST ${base}/start`, () => {
    const s = sandboxes.get(name);
    if (!s) return notFound(name);
    if (s.status === 'running') return conflict(`sandbox "${name}" is already running`);
    s.status = 'running';
    return { status: 200, body: s };
  });
  fake.routes.set(`POST ${base}/exec`, () => ({
    status: 200,
    body: { exit_code: 0, signal: null, stdout: '', stderr: '', timed_out: false, oom_killed: false, duration_ms: 1, truncated: false, ...execResult },
  }));
}

function config(text: string): void {
  writeFileSync(configPath, text);
}

/** "METHOD path" of every request, in order. */
function calls(): string[] {
  return fake.seen.map((s) => `${s.method} ${s.url}`);
}

beforeAll(async () => {
  await fake.start();
  client = new DaemonClient({ endpoint: resolveEndpoint({ BKG_API_URL: `unix://${fake.socketPath}` }) });
});

afterAll(async () => {
  await client.close();
  await fake.stop();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  fake.routes.clear();
  fake.seen.length = 0;
  sandboxes = new Map();
  execResult = {};
  for (const name of ['web', 'db']) route(name);
  fake.routes.set('POST /api/v1/sandboxes', (req) => {
    const body = JSON.parse(req.body.toString()) as { name: string; project?: string };
    if (sandboxes.has(body.name)) return conflict(`sandbox "${body.name}" exists`);
    const s = view(body.name, 'created', body.project ?? null);
    sandboxes.set(body.name, s);
    return { status: 201, body: { ...s, api_key_secret: 'bkg_s' } };
  });
  config('project: demo\nversion: 1\nsandboxes:\n  - name: web\n    workspace: .\n    limits: { memory_mb: 64 }\n  - name: db\n');
});

describe('runProject', () => {
  it('creates and starts a missing sandbox, then runs the command and returns its exit code', async () => {
    execResult = { exit_code: 3, stdout: 'out\n' };
    const progress: string[] = [];
    const r = await runProject(client, { exec: restExec, name: 'web', cmd: ['sh', '-c', 'exit 3'], configPath, env: { A: '1' }, onProgress: (l) => progress.push(l) });
    expect(r.exitCode).toBe(3);
    expect(r.exec?.stdout).toBe('out\n');
    expect(r.sandboxes.map((s) => [s.name, s.created, s.started, s.sandbox.status])).toEqual([['web', true, true, 'running']]);
    expect(progress).toEqual(['created web', 'started web']);
    expect(calls()).toEqual(['GET /api/v1/sandboxes/web', 'POST /api/v1/sandboxes', 'POST /api/v1/sandboxes/web/start', 'POST /api/v1/sandboxes/web/exec']);
    const create = JSON.parse(fake.seen[1]?.body.toString() ?? '{}') as Record<string, unknown>;
    expect(create).toEqual({ name: 'web', workspace: dir, limits: { memory_mb: 64 }, project: 'demo' });
    expect(JSON.parse(fake.seen[3]?.body.toString() ?? '{}')).toEqual({ cmd: ['sh', '-c', 'exit 3'], env: { A: '1' } });
  });

  it('leaves a running sandbox alone', async () => {
    sandboxes.set('web', view('web', 'running'));
    const r = await runProject(client, { exec: restExec, name: 'web', cmd: ['true'], configPath });
    expect(r.exitCode).toBe(0);
    expect(r.sandboxes[0]).toMatchObject({ created: false, started: false });
    expect(calls()).toEqual(['GET /api/v1/sandboxes/web', 'POST /api/v1/sandboxes/web/exec']);
  });

  it('brings up every sandbox of the file without a name, starting stopped ones', async () => {
    sandboxes.set('db', view('db', 'stopped'));
    const r = await runProject(client, { exec: restExec, configPath });
    expect(r.exitCode).toBe(0);
    expect(r.exec).toBeUndefined();
    expect(r.sandboxes.map((s) => [s.name, s.created, s.started])).toEqual([['web', true, true], ['db', false, true]]);
    expect([...sandboxes.values()].map((s) => s.status)).toEqual(['running', 'running']);
  });

  it('treats 409 from a concurrent create or start as success', async () => {
    // GET says missing, but create answers 409 (another `bkg run` won the race), then start answers 409 too.
    fake.routes.set('GET /api/v1/sandboxes/web', () => {
      const gets = fake.seen.filter((s) => s.url === '/api/v1/sandboxes/web').length;
      return gets === 1 ? notFound('web') : { status: 200, body: view('web', 'stopped') };
    });
    sandboxes.set('web', view('web', 'running'));
    const r = await runProject(client, { exec: restExec, name: 'web', configPath });
    expect(r.sandboxes[0]).toMatchObject({ created: false, started: false });
    expect(calls()).toEqual([
      'GET /api/v1/sandboxes/web', 'POST /api/v1/sandboxes', 'GET /api/v1/sandboxes/web', 'POST /api/v1/sandboxes/web/start', 'GET /api/v1/sandboxes/web',
    ]);
  });

  it.each([
    [{ exit_code: null, signal: 15 }, 143],
    [{ exit_code: null, signal: 9, timed_out: true }, 124],
    [{ exit_code: 137, signal: 9, oom_killed: true }, 125],
    [{ exit_code: 127, exec_error: 'exec: nope: not found' }, 127],
  ])('exec %j → exit %i', async (result, code) => {
    sandboxes.set('web', view('web', 'running'));
    execResult = result;
    expect((await runProject(client, { exec: restExec, name: 'web', cmd: ['x'], configPath })).exitCode).toBe(code);
  });

  it('refuses a same-named sandbox of another project (CONFLICT)', async () => {
    sandboxes.set('web', view('web', 'running', 'other'));
    const err = await runProject(client, { exec: restExec, name: 'web', cmd: ['true'], configPath }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BkgError);
    expect((err as BkgError).code).toBe('CONFLICT');
    expect((err as BkgError).message).toContain('project "other"');
    expect(calls()).not.toContain('POST /api/v1/sandboxes/web/exec');
  });

  /** The BkgError a runProject call fails with. */
  const failure = (p: Promise<unknown>): Promise<BkgError> =>
    p.then(
      () => {
        throw new Error('expected runProject to fail');
      },
      (e: unknown) => {
        expect(e).toBeInstanceOf(BkgError);
        return e as BkgError;
      },
    );

  it('needs a name from the file, and one to run a command in when there are several', async () => {
    const missing = await failure(runProject(client, { exec: restExec, name: 'cache', configPath }));
    expect(missing.code).toBe('NOT_FOUND');
    expect(missing.hint).toContain('web, db');
    const ambiguous = await failure(runProject(client, { exec: restExec, cmd: ['true'], configPath }));
    expect(ambiguous.code).toBe('INVALID_ARGUMENT');
    expect(calls()).toEqual([]);

    config('project: demo\nversion: 1\nsandboxes:\n  - name: db\n');
    const only = await runProject(client, { exec: restExec, cmd: ['true'], configPath });
    expect(only.sandboxes.map((s) => s.name)).toEqual(['db']);
    expect(only.exec).toBeDefined();

    config('project: demo\nversion: 1\n');
    expect((await failure(runProject(client, { exec: restExec, configPath }))).code).toBe('INVALID_ARGUMENT');
  });
});
