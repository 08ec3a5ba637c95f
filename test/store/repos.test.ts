/** The daemon's repositories on a real database file. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDb, type Db } from '../../src/store/db.js';
import { DEFAULT_NAMESPACE_POLICY, type NamespacePolicy } from '../../src/api/policies.js';
import { ExecutionRepo, NamespacePolicyRepo, NamespaceRepo, ProjectRepo, RateLimitRepo, SandboxRepo, type NewSandbox } from '../../src/store/repos/index.js';
import { caught } from '../helpers/errors.js';

let dir: string;
let path: string;
let db: Db;
let t: number;
const clock = (): Date => new Date((t += 1000));

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bkg-repos-'));
  path = join(dir, 'bkg.db');
  db = openDb(path);
  t = Date.parse('2026-03-01T00:00:00Z');
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});


describe('projects and namespaces', () => {
  it('ensure by name: created once, then the same row', () => {
    const projects = new ProjectRepo(db, clock);
    const p = projects.ensure('acme');
    expect(p).toMatchObject({ name: 'acme', createdAt: '2026-03-01T00:00:01.000Z' });
    expect(p.id).toMatch(/^prj_[0-9A-Za-z]{16}$/);
    expect(projects.ensure('acme')).toEqual(p);
    expect(projects.list()).toEqual([p]);

    const namespaces = new NamespaceRepo(db, clock);
    const ns = namespaces.ensure('team-a', p.id);
    expect(ns).toMatchObject({ name: 'team-a', projectId: p.id });
    expect(namespaces.ensure('team-a')).toEqual(ns); // never moved out of its project
    expect(namespaces.getByName('team-a')).toEqual(ns);
    expect(namespaces.get(ns.id)).toEqual(ns);
    expect(namespaces.getByName('nope')).toBeNull();
    namespaces.ensure('team-b');
    expect(namespaces.list(p.id).map((n) => n.name)).toEqual(['team-a']);
    expect(namespaces.list().map((n) => n.name)).toEqual(['team-a', 'team-b']);
  });

  it('refuses an unknown project and empty names', () => {
    const namespaces = new NamespaceRepo(db);
    expect(caught(() => namespaces.ensure('x', 'prj_missing')).code).toBe('NOT_FOUND');
    expect(caught(() => namespaces.ensure('')).code).toBe('INVALID_ARGUMENT');
    expect(caught(() => new ProjectRepo(db).ensure('')).code).toBe('INVALID_ARGUMENT');
  });
});

describe('sandboxes', () => {
  let sandboxes: SandboxRepo;
  let nsA: string;
  let nsB: string;
  const spec = (over: Partial<NewSandbox> & Pick<NewSandbox, 'id' | 'name' | 'namespaceId'>): NewSandbox => ({
    runtime: 'python',
    limits: { memoryBytes: 256 * 1024 ** 2, pids: 64 },
    network: 'none',
    env: { FOO: 'bar' },
    ...over,
  });

  beforeEach(() => {
    const namespaces = new NamespaceRepo(db, clock);
    nsA = namespaces.ensure('a').id;
    nsB = namespaces.ensure('b').id;
    sandboxes = new SandboxRepo(db, clock);
  });

  it('round-trips a sandbox through SQLite', () => {
    const created = sandboxes.insert(spec({ id: 'sbx1', name: 'web', namespaceId: nsA, workspace: '/srv/ws', idleExpiresAt: new Date('2026-03-01T01:00:00Z') }));
    expect(created).toEqual({
      id: 'sbx1', name: 'web', namespaceId: nsA, projectId: null, runtime: 'python',
      limits: { memoryBytes: 256 * 1024 ** 2, pids: 64 }, network: 'none', env: { FOO: 'bar' }, workspace: '/srv/ws', allowNestedNamespaces: false, seccomp: null, secrets: [],
      status: 'created', pid: null, helperPid: null, helperStartTime: null, scratchFd: null, startedAt: null, expiresAt: null,
      idleExpiresAt: '2026-03-01T01:00:00.000Z', lastActivityAt: null, createdAt: created.createdAt, host: '',
    });
    db.close();
    db = openDb(path);
    expect(new SandboxRepo(db).get('sbx1')).toEqual(created);
  });

  it('reports a duplicate name in a namespace as CONFLICT naming the name; other namespaces may reuse it', () => {
    sandboxes.insert(spec({ id: 's1', name: 'web', namespaceId: nsA }));
    const err = caught(() => sandboxes.insert(spec({ id: 's2', name: 'web', namespaceId: nsA })));
    expect(err.code).toBe('CONFLICT');
    expect(err.status).toBe(409);
    expect(err.message).toContain('"web"');
    expect(err.message).toContain('"a"');
    expect(err.details).toEqual({ name: 'web', namespaceId: nsA });
    expect(sandboxes.insert(spec({ id: 's2', name: 'web', namespaceId: nsB })).namespaceId).toBe(nsB);
    expect(caught(() => sandboxes.insert(spec({ id: 's1', name: 'other', namespaceId: nsA }))).code).toBe('CONFLICT');
    expect(caught(() => sandboxes.insert(spec({ id: 's3', name: 'x', namespaceId: 'ns_missing' }))).code).toBe('NOT_FOUND');
  });

  it('scopes lookups to a namespace; a null namespace (admin) sees all', () => {
    sandboxes.insert(spec({ id: 's1', name: 'web', namespaceId: nsA }));
    sandboxes.insert(spec({ id: 's2', name: 'db', namespaceId: nsA }));
    sandboxes.insert(spec({ id: 's3', name: 'web', namespaceId: nsB }));

    expect(sandboxes.getByIdOrName(nsA, 's1')?.name).toBe('web');
    expect(sandboxes.getByIdOrName(nsA, 'web')?.id).toBe('s1');
    expect(sandboxes.getByIdOrName(nsB, 'web')?.id).toBe('s3');
    expect(sandboxes.getByIdOrName(nsB, 's1')).toBeNull(); // another namespace's sandbox, by id
    expect(sandboxes.getByIdOrName(nsB, 'db')).toBeNull();
    expect(sandboxes.getByIdOrName(null, 's1')?.namespaceId).toBe(nsA);
    expect(sandboxes.getByIdOrName(null, 'db')?.id).toBe('s2');
    expect(caught(() => sandboxes.getByIdOrName(null, 'web')).code).toBe('INVALID_ARGUMENT'); // ambiguous across namespaces
    expect(sandboxes.getByIdOrName(null, 'nothing')).toBeNull();

    expect(sandboxes.list(nsA).map((s) => s.id)).toEqual(['s1', 's2']);
    expect(sandboxes.list(nsB).map((s) => s.id)).toEqual(['s3']);
    expect(sandboxes.list(null).map((s) => s.id)).toEqual(['s1', 's2', 's3']);
  });

  it('tracks status, runtime info and activity; finds expired sandboxes', () => {
    sandboxes.insert(spec({ id: 's1', name: 'web', namespaceId: nsA }));
    sandboxes.insert(spec({ id: 's2', name: 'db', namespaceId: nsA }));
    const started = new Date('2026-03-01T00:10:00Z');
    const info = sandboxes.setRuntimeInfo('s1', { pid: 4242, helperPid: 4241, startedAt: started, expiresAt: new Date('2026-03-01T01:10:00Z') });
    expect(info).toMatchObject({ pid: 4242, helperPid: 4241, startedAt: '2026-03-01T00:10:00.000Z', expiresAt: '2026-03-01T01:10:00.000Z' });
    expect(sandboxes.updateStatus('s1', 'running').status).toBe('running');
    expect(sandboxes.list(nsA, { status: 'running' }).map((s) => s.id)).toEqual(['s1']);

    const touched = sandboxes.touch('s1', new Date('2026-03-01T00:20:00Z'), new Date('2026-03-01T00:30:00Z'));
    expect(touched).toMatchObject({ lastActivityAt: '2026-03-01T00:20:00.000Z', idleExpiresAt: '2026-03-01T00:30:00.000Z' });
    expect(sandboxes.touch('s1', new Date('2026-03-01T00:21:00Z')).idleExpiresAt).toBe('2026-03-01T00:30:00.000Z');

    expect(sandboxes.listExpired(new Date('2026-03-01T00:29:59Z'))).toEqual([]);
    expect(sandboxes.listExpired(new Date('2026-03-01T00:30:00Z')).map((s) => s.id)).toEqual(['s1']);
    sandboxes.touch('s1', new Date('2026-03-01T00:29:00Z'), null);
    expect(sandboxes.listExpired(new Date('2026-03-01T00:30:00Z'))).toEqual([]);
    expect(sandboxes.listExpired(new Date('2026-03-01T01:10:00Z')).map((s) => s.id)).toEqual(['s1']);

    expect(caught(() => sandboxes.updateStatus('s1', 'exploded' as never)).code).toBe('INVALID_ARGUMENT');
    expect(caught(() => sandboxes.updateStatus('nope', 'stopped')).code).toBe('NOT_FOUND');
    expect(caught(() => sandboxes.touch('nope')).code).toBe('NOT_FOUND');
  });

  it('deletes a sandbox together with its executions', () => {
    sandboxes.insert(spec({ id: 's1', name: 'web', namespaceId: nsA }));
    const executions = new ExecutionRepo(db);
    executions.insert({ sandboxId: 's1', cmd: ['true'], exitCode: 0, startedAt: new Date(), actor: 'key_x' });
    expect(sandboxes.delete('s1')).toBe(true);
    expect(sandboxes.delete('s1')).toBe(false);
    expect(sandboxes.get('s1')).toBeNull();
    expect(executions.listForSandbox('s1')).toEqual([]);
  });
});

describe('executions', () => {
  it('records runs of a sandbox in start order and lists the latest ones', () => {
    const ns = new NamespaceRepo(db).ensure('a');
    const sandboxes = new SandboxRepo(db);
    for (const id of ['s1', 's2']) sandboxes.insert({ id, name: id, namespaceId: ns.id, runtime: 'sh', limits: {}, network: 'none' });
    const executions = new ExecutionRepo(db);
    const first = executions.insert({
      sandboxId: 's1', cmd: ['python3', '-c', 'print(1)'], exitCode: 0, durationMs: 12, startedAt: new Date('2026-03-01T00:00:01Z'), actor: 'key_a',
    });
    expect(first).toEqual({
      id: first.id, sandboxId: 's1', cmd: ['python3', '-c', 'print(1)'], exitCode: 0, signal: null, timedOut: false, oomKilled: false,
      durationMs: 12, startedAt: '2026-03-01T00:00:01.000Z', actor: 'key_a',
    });
    expect(first.id).toMatch(/^exe_/);
    executions.insert({ sandboxId: 's1', cmd: ['sleep', '99'], signal: 'SIGKILL', timedOut: true, startedAt: new Date('2026-03-01T00:00:03Z'), actor: 'key_a' });
    executions.insert({ sandboxId: 's1', cmd: ['big'], signal: 'SIGKILL', oomKilled: true, startedAt: new Date('2026-03-01T00:00:02Z'), actor: 'key_b' });
    executions.insert({ sandboxId: 's2', cmd: ['other'], exitCode: 1, startedAt: new Date('2026-03-01T00:00:04Z'), actor: 'key_b' });

    const all = executions.listForSandbox('s1');
    expect(all.map((e) => e.cmd[0])).toEqual(['python3', 'big', 'sleep']);
    expect(all[1]).toMatchObject({ oomKilled: true, timedOut: false, exitCode: null, signal: 'SIGKILL' });
    expect(all[2]).toMatchObject({ timedOut: true });
    expect(executions.listForSandbox('s1', { limit: 2 }).map((e) => e.cmd[0])).toEqual(['big', 'sleep']);
    expect(caught(() => executions.insert({ sandboxId: 'nope', cmd: ['x'], startedAt: new Date(), actor: 'a' })).code).toBe('NOT_FOUND');
  });
});

describe('rate limits', () => {
  it('stores per-role overrides and refuses invalid ones', () => {
    const policies = new RateLimitRepo(db);
    policies.set({ role: 'namespace', ratePerSec: 5, burst: 10 });
    policies.set({ role: 'namespace', ratePerSec: 2.5, burst: 4 });
    policies.set({ role: 'admin', ratePerSec: 1000, burst: 2000 });
    expect(policies.list()).toEqual([
      { role: 'admin', ratePerSec: 1000, burst: 2000 },
      { role: 'namespace', ratePerSec: 2.5, burst: 4 },
    ]);
    expect(caught(() => policies.set({ role: 'readonly', ratePerSec: 0, burst: 1 })).code).toBe('INVALID_CONFIG');
    expect(caught(() => policies.set({ role: 'readonly', ratePerSec: 1, burst: 1.5 })).code).toBe('INVALID_CONFIG');
    expect(caught(() => policies.set({ role: 'root' as never, ratePerSec: 1, burst: 1 })).code).toBe('INVALID_CONFIG');
    expect(policies.delete('admin')).toBe(true);
    expect(policies.list().map((p) => p.role)).toEqual(['namespace']);
  });
});

describe('namespace policies', () => {
  it('stores a namespace\'s own policy, replaces it, and forgets it with the namespace', () => {
    const ns = new NamespaceRepo(db, clock).ensure('ci').id;
    const policies = new NamespacePolicyRepo(db, clock);
    expect(policies.get(ns)).toBeNull();
    const policy = { ...DEFAULT_NAMESPACE_POLICY, networks: ['none', 'host'] as NamespacePolicy['networks'], workspace_roots: ['/srv/ci'], max_memory_mb: null, max_cpus: 1.5 };
    const stored = policies.set(ns, policy, 'key_admin');
    expect(stored).toEqual({ namespaceId: ns, policy, updatedAt: expect.any(String), updatedBy: 'key_admin' });
    expect(policies.get(ns)).toEqual(stored);
    policies.set(ns, { ...policy, max_sandboxes: 3 }, 'host');
    expect(policies.get(ns)?.policy.max_sandboxes).toBe(3);
    expect(policies.list()).toHaveLength(1);
    expect(policies.delete(ns)).toBe(true);
    expect(policies.get(ns)).toBeNull();
    expect(policies.delete(ns)).toBe(false);
  });
});

describe('namespace usage and the create guard', () => {
  it('counts sandboxes, running ones and their limits; the guard sees the count inside the insert\'s transaction', () => {
    const ns = new NamespaceRepo(db, clock).ensure('ci').id;
    const sandboxes = new SandboxRepo(db, clock);
    const mk = (id: string) => ({ id, name: id, namespaceId: ns, runtime: 'shell', limits: { memoryBytes: 64 * 1024 ** 2, pids: 10 }, network: 'none' as const });
    expect(sandboxes.usage(ns)).toEqual({ sandboxes: 0, running: 0, memoryBytes: 0, pids: 0 });
    const seen: number[] = [];
    const max2 = (u: { sandboxes: number }) => {
      seen.push(u.sandboxes);
      if (u.sandboxes >= 2) throw new Error('full');
    };
    sandboxes.insert(mk('a'), max2);
    sandboxes.insert(mk('b'), max2);
    expect(() => sandboxes.insert(mk('c'), max2)).toThrow('full');
    expect(seen).toEqual([0, 1, 2]);
    expect(sandboxes.get('c')).toBeNull();
    sandboxes.updateStatus('a', 'running');
    expect(sandboxes.usage(ns)).toEqual({ sandboxes: 2, running: 1, memoryBytes: 64 * 1024 ** 2, pids: 10 });
    sandboxes.delete('b');
    expect(sandboxes.usage(ns).sandboxes).toBe(1);
  });
});
