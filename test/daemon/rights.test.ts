/**
 * Rights only narrow: a sandbox's own key acts on its own sandbox only, privileges come from admin
 * keys or a namespace's policy, quotas hold under concurrency. Every door (REST on each listener,
 * WebSocket, MCP) against a real daemon with real sandboxes.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_NAMESPACE_POLICY, type Privilege } from '../../src/api/policies.js';
import { packageRoot } from '../../src/runtime/host.js';
import { call, freePort, removeHome, startTestDaemon, type Resp, type Target, type TestDaemon } from '../helpers/daemon.js';
import { mcpClient, mcpError, mcpErrorCode, mcpTool, wsExec } from '../helpers/doors.js';
import { sandboxSkipReason } from '../helpers/sandbox.js';

const skip = sandboxSkipReason();

type Kind = 'admin' | 'granted' | 'plain' | 'readonly' | 'sandbox';
const KINDS: Kind[] = ['admin', 'granted', 'plain', 'readonly', 'sandbox'];

interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}
const code = (r: Resp): string | number => (r.status < 300 ? r.status : (r.body as ErrorBody).error.code);

describe.skipIf(skip)('rights and quotas', () => {
  let d: TestDaemon;
  let port: number;
  let wsRoot: string;
  const keys = {} as Record<Kind, string>;
  const clients: Client[] = [];
  const tcp = (kind: Kind): Target => ({ port, key: keys[kind] });
  const sandboxDoor = (kind: Kind): Target => ({ socketPath: join(d.home, 'sandbox.sock'), key: keys[kind] });
  /** The local bkg.sock with a key: the host admin's socket, but a key presented there acts as that key (README, "Listeners"). */
  const localDoor = (kind: Kind): Target => ({ socketPath: d.config.socketPath, key: keys[kind] });
  /** The REST doors: every listener, each with the key. */
  const REST_DOORS: [string, (kind: Kind) => Target][] = [['TCP', (k) => tcp(k)], ['bkg.sock', (k) => localDoor(k)], ['sandbox.sock', (k) => sandboxDoor(k)]];
  const admin = (): Target => d.local;
  const mcp = async (kind: Kind): Promise<Client> => {
    const c = await mcpClient(port, keys[kind]);
    clients.push(c);
    return c;
  };
  const makeKey = async (name: string, role: string, namespace?: string): Promise<string> =>
    ((await call(admin(), 'POST', '/api/v1/keys', { name, role, ...(namespace ? { namespace } : {}) })).body as { secret: string }).secret;
  const setPolicy = async (ns: string, patch: Record<string, unknown>): Promise<void> => {
    const r = await call(admin(), 'PATCH', `/api/v1/policies/${ns}`, patch);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
  };
  const removeAll = async (namespace?: string): Promise<void> => {
    const list = ((await call(admin(), 'GET', '/api/v1/sandboxes')).body as { sandboxes: { id: string; namespace: string }[] }).sandboxes;
    await Promise.all(list.filter((s) => namespace === undefined || s.namespace === namespace).map((s) => call(admin(), 'DELETE', `/api/v1/sandboxes/${s.id}`)));
  };

  beforeAll(async () => {
    // the concurrency tests send 50 requests at once with one key: keep the rate limiter out of the way
    process.env.BKG_RATE_LIMITS = 'admin=1000/2000,namespace=1000/2000,readonly=1000/2000';
    port = await freePort();
    d = await startTestDaemon({ port });
    delete process.env.BKG_RATE_LIMITS;
    wsRoot = mkdtempSync(join(tmpdir(), 'bkg-rights-ws-'));
    chmodSync(wsRoot, 0o755);
    mkdirSync(join(wsRoot, 'proj'));
    await setPolicy('granted', {
      networks: ['none', 'host'], workspace_roots: [wsRoot], allow_nested_namespaces: true, allow_custom_seccomp: true,
      max_memory_mb: null, max_cpus: null, max_pids: null, max_disk_mb: null, max_sandboxes: null, max_total_memory_mb: null, max_total_pids: null,
    });
    await setPolicy('plain', { max_cpus: 1 }); // the defaults, plus a CPU cap so that every privilege has a line to cross
    keys.admin = await makeKey('admin', 'admin');
    keys.granted = await makeKey('granted', 'namespace', 'granted');
    keys.plain = await makeKey('plain', 'namespace', 'plain');
    keys.readonly = await makeKey('ro', 'readonly');
    const home = await call(tcp('plain'), 'POST', '/api/v1/sandboxes', { name: 'home' });
    expect(home.status).toBe(201);
    keys.sandbox = (home.body as { api_key_secret: string }).api_key_secret;
  });
  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => {});
    await removeAll();
    await d.stop();
    removeHome(d.home);
    rmSync(wsRoot, { recursive: true, force: true });
  });

  it('stops the attack from inside a sandbox at its first step: its own key creates nothing', async () => {
    expect((await call(tcp('plain'), 'POST', '/api/v1/sandboxes', { name: 'ea', runtime: 'python' })).status).toBe(201);
    expect((await call(tcp('plain'), 'POST', '/api/v1/sandboxes/ea/start')).status).toBe(200);
    const script = `
import http.client, json, os, socket
class C(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX); self.sock.connect(os.environ["BKG_API_URL"][len("unix://"):])
def req(method, path, body=None):
    c = C("l"); h = {"Authorization": "Bearer " + os.environ["BKG_API_KEY"]}
    if body is not None: h["Content-Type"] = "application/json"
    c.request(method, path, body=None if body is None else json.dumps(body), headers=h)
    r = c.getresponse(); data = r.read()
    return [r.status, json.loads(data) if data else None]
print(json.dumps({
  "create_host": req("POST", "/api/v1/sandboxes", {"name": "y1", "network": "host"}),
  "create": req("POST", "/api/v1/sandboxes", {"name": "y2"}),
  "start": req("POST", "/api/v1/sandboxes/ea/start"),
  "stop": req("POST", "/api/v1/sandboxes/ea/stop"),
  "delete": req("DELETE", "/api/v1/sandboxes/ea"),
  "key": req("POST", "/api/v1/keys", {"name": "k", "role": "admin"}),
  "policy": req("PATCH", "/api/v1/policies/plain", {"networks": ["none", "host"]}),
  "audit": req("GET", "/api/v1/audit"),
  "list": req("GET", "/api/v1/sandboxes"),
  "other": req("GET", "/api/v1/sandboxes/home"),
  "exec_other": req("POST", "/api/v1/sandboxes/home/exec", {"cmd": ["true"]}),
  "exec_self": req("POST", "/api/v1/sandboxes/ea/exec", {"cmd": ["cat", "/proc/net/dev"]}),
}))
`;
    const r = await call(tcp('plain'), 'POST', '/api/v1/sandboxes/ea/exec', { cmd: ['python3', '-c', script] });
    const out = r.body as { stdout: string; stderr: string };
    expect(out.stderr).toBe('');
    const res = JSON.parse(out.stdout) as Record<string, [number, unknown]>;
    const codeOf = ([status, body]: [number, unknown]): string | number => (status < 300 ? status : (body as ErrorBody).error.code);
    expect(Object.fromEntries(Object.entries(res).map(([k, v]) => [k, codeOf(v)]))).toEqual({
      create_host: 'FORBIDDEN', create: 'FORBIDDEN', start: 'FORBIDDEN', stop: 'FORBIDDEN', delete: 'FORBIDDEN', key: 'FORBIDDEN', policy: 'FORBIDDEN', audit: 'FORBIDDEN',
      list: 200, other: 'NOT_FOUND', exec_other: 'NOT_FOUND', exec_self: 200,
    });
    expect((res.create_host?.[1] as ErrorBody).error.message).toMatch(/sandbox's own key .* cannot create sandboxes/);
    expect(((res.list?.[1] as { sandboxes: { name: string }[] }).sandboxes).map((s) => s.name)).toEqual(['ea']);
    const netdev = (res.exec_self?.[1] as { stdout: string }).stdout;
    expect(netdev.match(/^\s*(\S+):/gm)?.map((l) => l.trim())).toEqual(['lo:']); // still no network of its own but loopback
    const names = ((await call(admin(), 'GET', '/api/v1/sandboxes')).body as { sandboxes: { name: string }[] }).sandboxes.map((s) => s.name);
    expect(names).not.toContain('y1');
    expect(names).not.toContain('y2');
    const events = ((await call(admin(), 'GET', '/api/v1/audit?limit=100000')).body as { events: { action: string; outcome: string; target: string | null; details: Record<string, unknown> | null }[] }).events;
    expect(events).toContainEqual(expect.objectContaining({ action: 'sandbox.create', outcome: 'denied', target: 'POST /api/v1/sandboxes', details: expect.objectContaining({ code: 'FORBIDDEN', action: 'sandbox.create' }) }));
    expect(events).toContainEqual(expect.objectContaining({ action: 'key.manage', outcome: 'denied', details: expect.objectContaining({ code: 'FORBIDDEN' }) }));
    await call(admin(), 'DELETE', '/api/v1/sandboxes/ea');
  });

  describe('every privilege × every key kind × every door', () => {
    const profile = JSON.parse(readFileSync(join(packageRoot(), 'templates', 'seccomp', 'default.json'), 'utf8')) as Record<string, unknown>;
    const PRIVILEGES: [Privilege, () => Record<string, unknown>][] = [
      ['network.host', () => ({ network: 'host' })],
      ['network.allow', () => ({ network: { allow: ['pypi.org', '*.pythonhosted.org:443'] } })],
      ['workspace.host', () => ({ workspace: join(wsRoot, 'proj') })],
      ['nested_namespaces', () => ({ allow_nested_namespaces: true })],
      ['custom_seccomp', () => ({ seccomp: profile })],
      ['limits.memory_mb', () => ({ limits: { memory_mb: 4096 } })],
      ['limits.cpus', () => ({ limits: { cpus: 2 } })],
      ['limits.pids', () => ({ limits: { pids: 8192 } })],
      ['limits.disk_mb', () => ({ limits: { disk_mb: 8192 } })],
    ];
    /** What each kind of key gets: created, or refused naming the privilege (namespace without the grant) or the action. */
    const expected = (kind: Kind, privilege: Privilege): string => {
      if (kind === 'admin' || kind === 'granted') return 'created';
      if (kind === 'plain') return `FORBIDDEN ${privilege}`;
      return 'FORBIDDEN sandbox.create';
    };
    const outcome = (status: 'created' | string, details?: Record<string, unknown>): string =>
      status === 'created' ? status : `${status} ${String(details?.privilege ?? details?.action ?? '?')}`;

    const DOORS = {
      'REST over TCP': async (kind: Kind, name: string, body: Record<string, unknown>) => {
        const r = await call(tcp(kind), 'POST', '/api/v1/sandboxes', { name, ...body });
        return r.status === 201 ? outcome('created') : outcome((r.body as ErrorBody).error.code, (r.body as ErrorBody).error.details);
      },
      'REST on the sandbox socket': async (kind: Kind, name: string, body: Record<string, unknown>) => {
        const r = await call(sandboxDoor(kind), 'POST', '/api/v1/sandboxes', { name, ...body });
        return r.status === 201 ? outcome('created') : outcome((r.body as ErrorBody).error.code, (r.body as ErrorBody).error.details);
      },
      'REST on the local socket with a key': async (kind: Kind, name: string, body: Record<string, unknown>) => {
        const r = await call(localDoor(kind), 'POST', '/api/v1/sandboxes', { name, ...body });
        return r.status === 201 ? outcome('created') : outcome((r.body as ErrorBody).error.code, (r.body as ErrorBody).error.details);
      },
      MCP: async (kind: Kind, name: string, body: Record<string, unknown>) => {
        const c = await mcp(kind);
        const r = await mcpTool(c, 'sandbox_create', { name, ...body });
        const err = mcpError(r);
        return r.isError ? outcome(err?.code ?? '?', err?.details) : outcome('created');
      },
    } as const;

    it.each(Object.keys(DOORS) as (keyof typeof DOORS)[])('%s', async (door) => {
      const got: Record<string, string> = {};
      const want: Record<string, string> = {};
      for (const [i, [privilege, body]] of PRIVILEGES.entries()) {
        for (const kind of KINDS) {
          const key = `${privilege} × ${kind}`;
          want[key] = expected(kind, privilege);
          got[key] = await DOORS[door](kind, `p${i}-${kind}`, body());
        }
      }
      expect(got).toEqual(want);
      await removeAll('granted');
      await removeAll('default');
      const events = ((await call(admin(), 'GET', '/api/v1/audit?limit=100000')).body as { events: { outcome: string; details: Record<string, unknown> | null }[] }).events;
      for (const [privilege] of PRIVILEGES) expect(events.some((e) => e.outcome === 'denied' && e.details?.privilege === privilege), privilege).toBe(true);
    });
  });

  describe('actions on sandboxes, by key kind and door (REST, WebSocket, MCP)', () => {
    beforeAll(async () => {
      expect((await call(tcp('plain'), 'POST', '/api/v1/sandboxes/home/start')).status).toBe(200);
      expect((await call(tcp('granted'), 'POST', '/api/v1/sandboxes', { name: 'far' })).status).toBe(201);
      expect((await call(tcp('granted'), 'POST', '/api/v1/sandboxes/far/start')).status).toBe(200);
    });

    // home: plain's sandbox (the sandbox key's own); far: granted's
    const EXEC: Record<Kind, [string | number, string | number]> = {
      admin: [200, 200],
      plain: [200, 'NOT_FOUND'],
      granted: ['NOT_FOUND', 200],
      readonly: ['FORBIDDEN', 'FORBIDDEN'],
      sandbox: [200, 'NOT_FOUND'],
    };

    // The WebSocket door acts on an existing sandbox only (its one route is the exec stream: no
    // create, so no privilege can be asked for there); its exec is decided by the same Authorizer.
    it('exec over REST (TCP, bkg.sock with a key, sandbox.sock), WebSocket (TCP, bkg.sock, sandbox.sock) and MCP', async () => {
      const wsOutcome = (ws: Awaited<ReturnType<typeof wsExec>>): unknown =>
        ws.status === 403 ? 'FORBIDDEN' : ws.status !== undefined ? ws.status : (ws.error ?? (ws.exitCode === 0 && ws.stdout === 'hi\n' ? 200 : ws));
      const doors = ['REST TCP', 'REST bkg.sock', 'REST sandbox.sock', 'WS TCP', 'WS bkg.sock', 'WS sandbox.sock', 'MCP'];
      const got: Record<string, unknown> = {};
      const want: Record<string, unknown> = {};
      for (const kind of KINDS) {
        const c = await mcp(kind);
        for (const [i, target] of ['home', 'far'].entries()) {
          const expectedCode = EXEC[kind][i];
          const row: unknown[] = [];
          for (const [, door] of REST_DOORS) row.push(code(await call(door(kind), 'POST', `/api/v1/sandboxes/${target}/exec`, { cmd: ['echo', 'hi'] })));
          for (const at of [{ port }, { socketPath: d.config.socketPath }, { socketPath: join(d.home, 'sandbox.sock') }]) row.push(wsOutcome(await wsExec(at, keys[kind], target, ['echo', 'hi'])));
          row.push(mcpErrorCode(await mcpTool(c, 'sandbox_exec', { sandbox: target, cmd: ['echo', 'hi'] })) ?? 200);
          got[`${kind} → ${target}`] = Object.fromEntries(doors.map((door, j) => [door, row[j]]));
          want[`${kind} → ${target}`] = Object.fromEntries(doors.map((door) => [door, expectedCode]));
        }
      }
      expect(got).toEqual(want);
      // and the local socket without a key is the host admin, on both of its doors
      expect(code(await call(admin(), 'POST', '/api/v1/sandboxes/far/exec', { cmd: ['true'] }))).toBe(200);
      expect(wsOutcome(await wsExec({ socketPath: d.config.socketPath }, undefined, 'far', ['echo', 'hi']))).toBe(200);
      // a WebSocket refusal is audited like any other, with the action that was asked for
      const events = ((await call(admin(), 'GET', '/api/v1/audit?limit=100000')).body as { events: { action: string; outcome: string; target: string | null }[] }).events;
      expect(events).toContainEqual(expect.objectContaining({ action: 'sandbox.exec', outcome: 'denied', target: 'GET /api/v1/sandboxes/:id/exec/ws' }));
    });

    it('start, stop, delete and key making: never with a sandbox\'s own key or a read-only key, on any door', async () => {
      for (const kind of ['sandbox', 'readonly'] as const) {
        for (const [method, path] of [['POST', '/api/v1/sandboxes/home/start'], ['POST', '/api/v1/sandboxes/home/stop'], ['DELETE', '/api/v1/sandboxes/home'], ['POST', '/api/v1/keys']] as const) {
          for (const [door, at] of REST_DOORS) {
            expect(code(await call(at(kind), method, path, path.endsWith('keys') ? { name: 'x', role: 'admin' } : undefined)), `${kind} ${method} ${path} on ${door}`).toBe('FORBIDDEN');
          }
        }
        const c = await mcp(kind);
        for (const tool of ['sandbox_start', 'sandbox_stop', 'sandbox_delete']) expect(mcpErrorCode(await mcpTool(c, tool, { sandbox: 'home' })), `${kind} ${tool}`).toBe('FORBIDDEN');
        expect(mcpErrorCode(await mcpTool(c, 'sandbox_run_code', { language: 'shell', code: 'true' })), `${kind} sandbox_run_code`).toBe('FORBIDDEN');
      }
      expect(((await call(admin(), 'GET', '/api/v1/sandboxes/home')).body as { status: string }).status).toBe('running');
    });

    it('GET /api/v1/whoami tells each key its kind and exactly the actions the rights table gives it', async () => {
      const me = async (t: Target) => (await call(t, 'GET', '/api/v1/whoami')).body as { kind: string; namespace: string | null; sandbox_id: string | null; actions: string[] };
      const local = await me(admin());
      expect(local.kind).toBe('admin');
      expect(local.actions).toEqual(expect.arrayContaining(['key.manage', 'audit.read', 'llm.manage', 'sandbox.create']));
      const ro = await me(tcp('readonly'));
      expect(ro.kind).toBe('readonly');
      expect(ro.actions).toEqual(expect.arrayContaining(['sandbox.list', 'sandbox.read']));
      for (const a of ['sandbox.create', 'sandbox.stop', 'key.manage', 'audit.read', 'llm.manage']) expect(ro.actions, `readonly ${a}`).not.toContain(a);
      const ns = await me(tcp('plain'));
      expect(ns.kind).toBe('namespace');
      expect(ns.namespace).not.toBeNull();
      expect(ns.actions).toContain('sandbox.create');
      expect(ns.actions).not.toContain('audit.read');
      const own = await me(tcp('sandbox'));
      expect(own.kind).toBe('sandbox');
      expect(own.sandbox_id).not.toBeNull();
      expect(own.actions).toContain('sandbox.exec');
      for (const a of ['sandbox.create', 'sandbox.start', 'key.manage']) expect(own.actions, `sandbox ${a}`).not.toContain(a);
      // asking costs nothing: no refusal is recorded
      const denied = ((await call(admin(), 'GET', '/api/v1/audit?since=1m')).body as { events: { action: string; outcome: string }[] }).events.filter((e) => e.outcome === 'denied' && e.action === 'sandbox.list');
      expect(denied).toEqual([]);
    });

    it('a sandbox\'s own key reads its own status, logs and files, and writes its files', async () => {
      const own = tcp('sandbox');
      expect(code(await call(own, 'GET', '/api/v1/sandboxes/home'))).toBe(200);
      expect(code(await call(own, 'GET', '/api/v1/sandboxes/home/logs'))).toBe(200);
      expect(code(await call(own, 'PUT', '/api/v1/sandboxes/home/files?path=/tmp/x', undefined, { raw: Buffer.from('data'), headers: { 'content-type': 'application/octet-stream' } }))).toBe(204);
      expect((await call(own, 'GET', '/api/v1/sandboxes/home/files?path=/tmp/x')).raw.toString()).toBe('data');
      expect(code(await call(own, 'GET', '/api/v1/sandboxes/far/logs'))).toBe('NOT_FOUND');
      expect(code(await call(own, 'GET', '/api/v1/daemon'))).toBe('FORBIDDEN');
    });
  });

  it('grants a namespace its privileges through the policy, and a narrowed policy applies to the next start', async () => {
    const g = tcp('granted');
    expect((await call(g, 'POST', '/api/v1/sandboxes', { name: 'net', network: 'host' })).status).toBe(201);
    expect((await call(g, 'POST', '/api/v1/sandboxes/net/start')).status).toBe(200);
    const r = (await call(g, 'POST', '/api/v1/sandboxes/net/exec', { cmd: ['cat', '/proc/net/dev'] })).body as { stdout: string };
    expect(r.stdout.match(/^\s*(\S+):/gm)?.length).toBeGreaterThan(1); // the host's interfaces
    expect((await call(g, 'POST', '/api/v1/sandboxes/net/stop')).status).toBe(200);
    await setPolicy('granted', { networks: ['none'] });
    const refused = await call(g, 'POST', '/api/v1/sandboxes/net/start');
    expect(refused.status).toBe(403);
    expect((refused.body as ErrorBody).error).toMatchObject({ code: 'FORBIDDEN', details: { privilege: 'network.host', namespace: 'granted' } });
    expect((refused.body as ErrorBody).error.message).toMatch(/network "host" is a privilege namespace "granted" does not have/);
    expect((await call(admin(), 'POST', '/api/v1/sandboxes/net/start')).status).toBe(200); // admins hold every privilege
    await setPolicy('granted', { networks: ['none', 'host'] });
    await call(admin(), 'DELETE', '/api/v1/sandboxes/net');
  });

  it('a granted custom seccomp profile and nested namespaces take effect in every exec of a persistent sandbox', async () => {
    const g = tcp('granted');
    const profile = JSON.parse(readFileSync(join(packageRoot(), 'templates', 'seccomp', 'default.json'), 'utf8')) as { syscalls: { names: string[] }[] };
    for (const rule of profile.syscalls) rule.names = rule.names.filter((n) => n !== 'mkdir' && n !== 'mkdirat');
    expect((await call(g, 'POST', '/api/v1/sandboxes', { name: 'sec', seccomp: profile })).body).toMatchObject({ seccomp: 'custom', allow_nested_namespaces: false });
    expect((await call(g, 'POST', '/api/v1/sandboxes', { name: 'nest', allow_nested_namespaces: true })).body).toMatchObject({ seccomp: 'default', allow_nested_namespaces: true });
    const bad = await call(g, 'POST', '/api/v1/sandboxes', { name: 'bad', seccomp: { defaultAction: 'SCMP_ACT_MAYBE' } });
    expect(code(bad)).toBe('INVALID_SECCOMP_PROFILE');
    for (const n of ['sec', 'nest', 'home2']) {
      if (n === 'home2') expect((await call(g, 'POST', '/api/v1/sandboxes', { name: n })).status).toBe(201);
      expect((await call(g, 'POST', `/api/v1/sandboxes/${n}/start`)).status).toBe(200);
    }
    const exec = async (n: string, cmd: string) => (await call(g, 'POST', `/api/v1/sandboxes/${n}/exec`, { cmd: ['sh', '-c', cmd] })).body as { exit_code: number; stderr: string };
    expect((await exec('sec', 'mkdir /tmp/d')).stderr).toMatch(/Operation not permitted/);
    expect((await exec('home2', 'mkdir /tmp/d')).exit_code).toBe(0);
    expect((await exec('nest', 'unshare -U true')).exit_code).toBe(0);
    expect((await exec('home2', 'unshare -U true')).exit_code).not.toBe(0);
    for (const n of ['sec', 'nest', 'home2']) await call(admin(), 'DELETE', `/api/v1/sandboxes/${n}`);
  });

  it('applies workspace changes to the host only for keys that hold the workspace privilege', async () => {
    const ws = join(wsRoot, 'proj');
    // an admin's sandbox in "plain" with a host workspace: plain's key may exec in it, but not write to the host
    expect((await call(admin(), 'POST', '/api/v1/sandboxes', { name: 'wsp', namespace: 'plain', workspace: ws })).status).toBe(201);
    expect((await call(admin(), 'POST', '/api/v1/sandboxes/wsp/start')).status).toBe(200);
    expect((await call(tcp('plain'), 'POST', '/api/v1/sandboxes/wsp/exec', { cmd: ['sh', '-c', 'echo new > /workspace/from-plain.txt'] })).status).toBe(200);
    const refused = await call(tcp('plain'), 'POST', '/api/v1/sandboxes/wsp/apply');
    expect((refused.body as ErrorBody).error).toMatchObject({ code: 'FORBIDDEN', details: { privilege: 'workspace.host' } });
    expect(code(await call(tcp('readonly'), 'POST', '/api/v1/sandboxes/wsp/apply'))).toBe('FORBIDDEN');
    // granted's own sandbox under its root: applied
    expect((await call(tcp('granted'), 'POST', '/api/v1/sandboxes', { name: 'wsg', workspace: ws })).status).toBe(201);
    expect((await call(tcp('granted'), 'POST', '/api/v1/sandboxes/wsg/start')).status).toBe(200);
    expect((await call(tcp('granted'), 'POST', '/api/v1/sandboxes/wsg/exec', { cmd: ['sh', '-c', 'echo ok > /workspace/from-granted.txt'] })).status).toBe(200);
    expect((await call(tcp('granted'), 'POST', '/api/v1/sandboxes/wsg/apply')).status).toBe(200);
    expect(readFileSync(join(ws, 'from-granted.txt'), 'utf8')).toBe('ok\n');
    expect(() => readFileSync(join(ws, 'from-plain.txt'))).toThrow();
    await call(admin(), 'DELETE', '/api/v1/sandboxes/wsp');
    await call(admin(), 'DELETE', '/api/v1/sandboxes/wsg');
  });

  it('gives a new namespace the defaults, and lowers defaults above a cap instead of refusing them', async () => {
    const fresh = await makeKey('fresh', 'namespace', 'fresh');
    const created = await call({ port, key: fresh }, 'POST', '/api/v1/sandboxes', { name: 'f1' });
    expect(created.status).toBe(201);
    const view = (await call({ port, key: fresh }, 'GET', '/api/v1/policies/fresh')).body as { policy: unknown; default: boolean; usage: { sandboxes: number } };
    expect(view).toMatchObject({ policy: DEFAULT_NAMESPACE_POLICY, default: true, usage: { sandboxes: 1 } });
    await setPolicy('fresh', { max_memory_mb: 256, max_pids: 100 });
    const small = (await call({ port, key: fresh }, 'POST', '/api/v1/sandboxes', { name: 'f2' })).body as { limits: Record<string, number> };
    expect(small.limits).toMatchObject({ memory_mb: 256, pids: 100 });
    const over = await call({ port, key: fresh }, 'POST', '/api/v1/sandboxes', { name: 'f3', limits: { memory_mb: 300 } });
    expect((over.body as ErrorBody).error).toMatchObject({ code: 'FORBIDDEN', details: { privilege: 'limits.memory_mb', requested: 300, allowed: 256 } });
    expect((over.body as ErrorBody).error.message).toContain('300 MiB is above the 256 MiB');
    await removeAll('fresh');
  });

  it('holds the sandbox quota under 50 parallel creates, and a deleted sandbox frees its share', async () => {
    await setPolicy('quota', { max_sandboxes: 20 });
    const q = { port, key: await makeKey('quota', 'namespace', 'quota') };
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => call(q, 'POST', '/api/v1/sandboxes', { name: `q${i}` })));
    expect(results.filter((r) => r.status === 201)).toHaveLength(20);
    const refused = results.filter((r) => r.status !== 201);
    expect(refused).toHaveLength(30);
    for (const r of refused) {
      expect(r.status).toBe(403);
      expect((r.body as ErrorBody).error).toMatchObject({ code: 'QUOTA_EXCEEDED', details: { quota: 'max_sandboxes', limit: 20, used: 20 } });
    }
    expect((refused[0]?.body as ErrorBody).error.message).toBe('namespace "quota" already has 20 of its 20 sandboxes (quota max_sandboxes)');
    expect(((await call(q, 'GET', '/api/v1/policies/quota')).body as { usage: { sandboxes: number } }).usage.sandboxes).toBe(20);
    const c = await mcpClient(port, q.key as string);
    clients.push(c);
    expect(mcpErrorCode(await mcpTool(c, 'sandbox_create', { name: 'via-mcp' }))).toBe('QUOTA_EXCEEDED');
    const first = (results.find((r) => r.status === 201)?.body as { name: string }).name;
    expect((await call(q, 'DELETE', `/api/v1/sandboxes/${first}`)).status).toBe(204);
    expect((await call(q, 'POST', '/api/v1/sandboxes', { name: 'again' })).status).toBe(201);
    expect(code(await call(q, 'POST', '/api/v1/sandboxes', { name: 'too-many' }))).toBe('QUOTA_EXCEEDED');
    const events = ((await call(admin(), 'GET', '/api/v1/audit?limit=100000')).body as { events: { outcome: string; details: Record<string, unknown> | null }[] }).events;
    expect(events.filter((e) => e.outcome === 'denied' && e.details?.quota === 'max_sandboxes').length).toBeGreaterThanOrEqual(32);
    await removeAll('quota');
  });

  it('holds the running quota under parallel starts, and frees it on stop, delete and expiry', async () => {
    await setPolicy('runq', { max_running: 2 });
    const q = { port, key: await makeKey('runq', 'namespace', 'runq') };
    const start = (n: string) => call(q, 'POST', `/api/v1/sandboxes/${n}/start`);
    const status = async (n: string) => ((await call(q, 'GET', `/api/v1/sandboxes/${n}`)).body as { status: string }).status;
    for (const n of ['r1', 'r2', 'r3', 'r4', 'r5', 'short']) {
      expect((await call(q, 'POST', '/api/v1/sandboxes', { name: n, limits: { memory_mb: 64, ...(n === 'short' ? { timeout_s: 2 } : {}) } })).status).toBe(201);
    }
    const starts = await Promise.all(['r1', 'r2', 'r3', 'r4'].map(start));
    expect(starts.filter((r) => r.status === 200)).toHaveLength(2);
    for (const r of starts.filter((x) => x.status !== 200)) expect((r.body as ErrorBody).error).toMatchObject({ code: 'QUOTA_EXCEEDED', details: { quota: 'max_running', limit: 2, used: 2 } });
    const names = ['r1', 'r2', 'r3', 'r4'];
    const [a, b] = names.filter((_, i) => starts[i]?.status === 200) as [string, string];
    const [c, e] = names.filter((_, i) => starts[i]?.status !== 200) as [string, string];
    expect((await call(q, 'POST', `/api/v1/sandboxes/${a}/stop`)).status).toBe(200); // a stop frees a share
    expect((await start(c)).status).toBe(200);
    expect((await call(q, 'DELETE', `/api/v1/sandboxes/${b}`)).status).toBe(204); // so does a delete
    expect((await start(e)).status).toBe(200);
    expect(code(await start('r5'))).toBe('QUOTA_EXCEEDED');
    // admins are never refused, but what they start counts
    expect((await call(q, 'POST', `/api/v1/sandboxes/${c}/stop`)).status).toBe(200);
    expect((await call(admin(), 'POST', `/api/v1/sandboxes/${a}/start`)).status).toBe(200);
    expect(code(await start('r5'))).toBe('QUOTA_EXCEEDED');
    // expiry: "short" lives 2 s; once the daemon has stopped it, its share is free again
    expect((await call(q, 'POST', `/api/v1/sandboxes/${a}/stop`)).status).toBe(200);
    expect((await start('short')).status).toBe(200);
    expect(code(await start('r5'))).toBe('QUOTA_EXCEEDED');
    const deadline = Date.now() + 10_000;
    while ((await status('short')) === 'running' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await status('short')).toBe('stopped');
    expect((await start('r5')).status).toBe(200);
    expect(((await call(q, 'GET', '/api/v1/policies/runq')).body as { usage: { running: number; memory_mb: number } }).usage).toMatchObject({ running: 2, memory_mb: 128 });
    await removeAll('runq');
  });

  it('holds the memory quota of running sandboxes, and a deleted sandbox frees its share', async () => {
    await setPolicy('memq', { max_total_memory_mb: 200 });
    const q = { port, key: await makeKey('memq', 'namespace', 'memq') };
    for (const n of ['m1', 'm2']) expect((await call(q, 'POST', '/api/v1/sandboxes', { name: n, limits: { memory_mb: 128 } })).status).toBe(201);
    expect((await call(q, 'POST', '/api/v1/sandboxes/m1/start')).status).toBe(200);
    const refused = await call(q, 'POST', '/api/v1/sandboxes/m2/start');
    expect((refused.body as ErrorBody).error).toMatchObject({ code: 'QUOTA_EXCEEDED', details: { quota: 'max_total_memory_mb', limit: 200, used: 128 } });
    expect((refused.body as ErrorBody).error.message).toContain('256 MiB of memory, above its 200 MiB');
    expect((await call(q, 'DELETE', '/api/v1/sandboxes/m1')).status).toBe(204);
    expect((await call(q, 'POST', '/api/v1/sandboxes/m2/start')).status).toBe(200);
    await removeAll('memq');
  });

  it('holds the pids quota of running sandboxes, naming it, and a deleted sandbox frees its share', async () => {
    await setPolicy('pidq', { max_total_pids: 300 });
    const q = { port, key: await makeKey('pidq', 'namespace', 'pidq') };
    for (const n of ['p1', 'p2']) expect((await call(q, 'POST', '/api/v1/sandboxes', { name: n, limits: { memory_mb: 64, pids: 200 } })).status).toBe(201);
    expect((await call(q, 'POST', '/api/v1/sandboxes/p1/start')).status).toBe(200);
    const refused = await call(q, 'POST', '/api/v1/sandboxes/p2/start');
    expect(refused.status).toBe(403);
    expect((refused.body as ErrorBody).error).toMatchObject({ code: 'QUOTA_EXCEEDED', details: { quota: 'max_total_pids', namespace: 'pidq', limit: 300, used: 200 } });
    expect((refused.body as ErrorBody).error.message).toBe('starting "p2" (200 pids) would bring namespace "pidq"\'s running sandboxes to 400 pids, above its 300 (quota max_total_pids)');
    const c = await mcpClient(port, q.key as string);
    clients.push(c);
    expect(mcpError(await mcpTool(c, 'sandbox_start', { sandbox: 'p2' }))).toMatchObject({ code: 'QUOTA_EXCEEDED', details: { quota: 'max_total_pids' } });
    expect(((await call(q, 'GET', '/api/v1/policies/pidq')).body as { usage: { running: number; pids: number } }).usage).toMatchObject({ running: 1, pids: 200 });
    expect((await call(q, 'DELETE', '/api/v1/sandboxes/p1')).status).toBe(204);
    expect(((await call(q, 'GET', '/api/v1/policies/pidq')).body as { usage: { running: number; pids: number } }).usage).toMatchObject({ running: 0, pids: 0 });
    expect((await call(q, 'POST', '/api/v1/sandboxes/p2/start')).status).toBe(200);
    const events = ((await call(admin(), 'GET', '/api/v1/audit?limit=100000')).body as { events: { action: string; outcome: string; details: Record<string, unknown> | null }[] }).events;
    expect(events.filter((e) => e.action === 'sandbox.start' && e.outcome === 'denied' && e.details?.quota === 'max_total_pids')).toHaveLength(2);
    await removeAll('pidq');
  });

  it.each([
    ['max_total_memory_mb', { memory_mb: 64, pids: 16 }, 200, 'memory_mb'],
    ['max_total_pids', { memory_mb: 32, pids: 100 }, 350, 'pids'],
  ] as const)('holds %s under 8 parallel starts: exactly the 3 that fit run', async (quota, limits, limit, usage) => {
    const ns = `par-${usage.replace('_', '')}`;
    await setPolicy(ns, { [quota]: limit });
    const q = { port, key: await makeKey(ns, 'namespace', ns) };
    const names = Array.from({ length: 8 }, (_, i) => `${ns}-${i}`);
    for (const n of names) expect((await call(q, 'POST', '/api/v1/sandboxes', { name: n, limits })).status).toBe(201);
    const starts = await Promise.all(names.map((n) => call(q, 'POST', `/api/v1/sandboxes/${n}/start`)));
    expect(starts.filter((r) => r.status === 200)).toHaveLength(3);
    const refused = starts.filter((r) => r.status !== 200);
    expect(refused).toHaveLength(5);
    for (const r of refused) expect((r.body as ErrorBody).error).toMatchObject({ code: 'QUOTA_EXCEEDED', details: { quota, namespace: ns, limit } });
    const per = usage === 'memory_mb' ? limits.memory_mb : limits.pids;
    const view = (await call(q, 'GET', `/api/v1/policies/${ns}`)).body as { usage: Record<string, number> };
    expect(view.usage).toMatchObject({ running: 3, [usage]: 3 * per });
    const running = ((await call(q, 'GET', '/api/v1/sandboxes')).body as { sandboxes: { status: string }[] }).sandboxes.filter((x) => x.status === 'running');
    expect(running).toHaveLength(3);
    await removeAll(ns);
  });

  it('frees the running share of a sandbox stopped for being idle', async () => {
    await setPolicy('idleq', { max_running: 1, max_total_memory_mb: 64 });
    const q = { port, key: await makeKey('idleq', 'namespace', 'idleq') };
    expect((await call(q, 'POST', '/api/v1/sandboxes', { name: 'sleepy', limits: { memory_mb: 64, idle_timeout_s: 2 } })).status).toBe(201);
    expect((await call(q, 'POST', '/api/v1/sandboxes', { name: 'next', limits: { memory_mb: 64 } })).status).toBe(201);
    expect((await call(q, 'POST', '/api/v1/sandboxes/sleepy/start')).status).toBe(200);
    expect((await call(q, 'POST', '/api/v1/sandboxes/next/start')).body).toMatchObject({ error: { code: 'QUOTA_EXCEEDED', details: { quota: 'max_running', limit: 1, used: 1 } } });
    const status = async (n: string) => ((await call(q, 'GET', `/api/v1/sandboxes/${n}`)).body as { status: string }).status;
    const deadline = Date.now() + 15_000;
    while ((await status('sleepy')) === 'running' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await status('sleepy')).toBe('stopped');
    expect(((await call(q, 'GET', '/api/v1/policies/idleq')).body as { usage: { running: number; memory_mb: number } }).usage).toMatchObject({ running: 0, memory_mb: 0 });
    expect((await call(q, 'POST', '/api/v1/sandboxes/next/start')).status).toBe(200);
    await removeAll('idleq');
  });

  it('lets keys read their own namespace\'s policy; only admins change policies, and bad ones are refused', async () => {
    expect(code(await call(tcp('plain'), 'GET', '/api/v1/policies/plain'))).toBe(200);
    expect(code(await call(tcp('plain'), 'GET', '/api/v1/policies/granted'))).toBe('NOT_FOUND');
    expect(((await call(tcp('plain'), 'GET', '/api/v1/policies')).body as { policies: { namespace: string }[] }).policies.map((p) => p.namespace)).toEqual(['plain']);
    expect(code(await call(tcp('readonly'), 'GET', '/api/v1/policies/granted'))).toBe(200);
    for (const kind of ['plain', 'readonly', 'sandbox'] as const) expect(code(await call(tcp(kind), 'PATCH', '/api/v1/policies/plain', { max_sandboxes: 1000 })), kind).toBe('FORBIDDEN');
    expect(code(await call(tcp('sandbox'), 'GET', '/api/v1/policies/plain'))).toBe('FORBIDDEN');
    const noNone = await call(admin(), 'PATCH', '/api/v1/policies/plain', { networks: ['host'] });
    expect((noNone.body as ErrorBody).error).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'networks' } });
    expect(code(await call(admin(), 'PATCH', '/api/v1/policies/plain', { workspace_roots: ['/nonexistent/root'] }))).toBe('INVALID_ARGUMENT');
    expect(code(await call(admin(), 'PATCH', '/api/v1/policies/plain', { max_memory_mb: 'lots' }))).toBe('INVALID_ARGUMENT');
    expect(code(await call(admin(), 'PATCH', '/api/v1/policies/plain', { max_sandboxes: -1 }))).toBe('INVALID_ARGUMENT');
    const events = ((await call(admin(), 'GET', '/api/v1/audit?limit=100000')).body as { events: { action: string; outcome: string }[] }).events;
    expect(events.some((e) => e.action === 'policy.set' && e.outcome === 'ok')).toBe(true);
    expect(events.some((e) => e.action === 'policy.write' && e.outcome === 'denied')).toBe(true);
  });
});
