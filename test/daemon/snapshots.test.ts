/**
 * Snapshots and forks against a real daemon with real sandboxes: a snapshot of a running and of a
 * stopped sandbox; a fork shows the origin's files and shares nothing writable with it (writes either
 * way stay apart, also through the hard-linked saved files); from_snapshot; list and remove; who may
 * (the rights table: readonly and sandbox keys refused, a namespace key only its namespace's); a
 * deleted origin keeps its snapshots; the MCP tools.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, freePort, removeHome, startTestDaemon, type Resp, type Target, type TestDaemon } from '../helpers/daemon.js';
import { mcpClient, mcpErrorCode, mcpTool } from '../helpers/doors.js';
import { sandboxSkipReason } from '../helpers/sandbox.js';

const skip = sandboxSkipReason();

interface ErrorBody { error: { code: string; message: string } }
interface Snap { id: string; namespace: string; sandbox: string; sandbox_id: string; tag: string | null; size_bytes: number }
interface Created { id: string; name: string; status: string; api_key_secret: string; limits: Record<string, number>; env: string[] }

const code = (r: Resp): string | number => (r.status < 300 ? r.status : (r.body as ErrorBody).error.code);

describe.skipIf(skip)('snapshots and forks', () => {
  let d: TestDaemon;
  let port: number;
  const admin = (): Target => d.local;
  const as = (key: string): Target => ({ port, key });
  const ok = async (r: Promise<Resp>, status = 200): Promise<unknown> => {
    const res = await r;
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    return res.body;
  };
  const sh = async (t: Target, sandbox: string, script: string): Promise<{ exit_code: number; stdout: string }> =>
    (await ok(call(t, 'POST', `/api/v1/sandboxes/${sandbox}/exec`, { cmd: ['sh', '-c', script] }))) as { exit_code: number; stdout: string };
  const create = async (t: Target, body: Record<string, unknown>): Promise<Created> => (await ok(call(t, 'POST', '/api/v1/sandboxes', body), 201)) as Created;
  const start = (t: Target, name: string): Promise<unknown> => ok(call(t, 'POST', `/api/v1/sandboxes/${name}/start`));
  const snapshot = async (t: Target, name: string, tag?: string): Promise<Snap> =>
    (await ok(call(t, 'POST', `/api/v1/sandboxes/${name}/snapshots`, tag === undefined ? {} : { tag }), 201)) as Snap;
  const makeKey = async (name: string, role: string, namespace?: string): Promise<string> =>
    ((await call(admin(), 'POST', '/api/v1/keys', { name, role, ...(namespace ? { namespace } : {}) })).body as { secret: string }).secret;

  beforeAll(async () => {
    port = await freePort();
    d = await startTestDaemon({ port });
    await create(admin(), { name: 'orig', env: { ORIGIN_VAR: 'x' }, limits: { memory_mb: 256, disk_mb: 256 } });
    await start(admin(), 'orig');
    await sh(admin(), 'orig', 'echo one > /workspace/a.txt && mkdir -p /workspace/deep/er && echo deep > /workspace/deep/er/f && echo dot > /root/.dot && echo tmp > /tmp/t && ln -s a.txt /workspace/link');
  });
  afterAll(async () => {
    await d?.stop();
    if (d) removeHome(d.home);
  });

  it('snapshots a running sandbox (held still while copied, running after) and forks it: same files, same settings, nothing writable shared', async () => {
    const snap = await snapshot(admin(), 'orig', 'v1');
    expect(snap).toMatchObject({ namespace: 'default', sandbox: 'orig', tag: 'v1' });
    expect(snap.size_bytes).toBeGreaterThan(0);
    expect(statSync(join(d.home, 'snapshots')).mode & 0o777).toBe(0o700);
    expect(await sh(admin(), 'orig', 'cat /workspace/a.txt')).toMatchObject({ exit_code: 0, stdout: 'one\n' }); // thawed
    expect(code(await call(admin(), 'POST', '/api/v1/sandboxes/orig/snapshots', { tag: 'v1' }))).toBe('CONFLICT');

    const fork = (await ok(call(admin(), 'POST', '/api/v1/sandboxes/orig/fork', { name: 'fork1' }), 201)) as Created;
    expect(fork.status).toBe('running');
    expect(fork.env).toEqual(['ORIGIN_VAR']);
    expect(fork.limits).toMatchObject({ memory_mb: 256, disk_mb: 256 });
    const seen = await sh(admin(), 'fork1', 'cat /workspace/a.txt /workspace/deep/er/f /root/.dot /tmp/t; readlink /workspace/link; echo $ORIGIN_VAR');
    expect(seen.stdout).toBe('one\ndeep\ndot\ntmp\na.txt\nx\n');
    await sh(admin(), 'fork1', 'echo fork > /workspace/a.txt && echo b > /workspace/b.txt');
    await sh(admin(), 'orig', 'echo c > /workspace/c.txt');
    expect((await sh(admin(), 'orig', 'cat /workspace/a.txt; ls /workspace')).stdout).toBe('one\na.txt\nc.txt\ndeep\nlink\n');
    expect((await sh(admin(), 'fork1', 'ls /workspace')).stdout).toBe('a.txt\nb.txt\ndeep\nlink\n');
    // the fork of a running sandbox took a snapshot of its own, untagged
    const all = ((await ok(call(admin(), 'GET', '/api/v1/snapshots'))) as { snapshots: Snap[] }).snapshots;
    expect(all.filter((s) => s.sandbox === 'orig').map((s) => s.tag)).toEqual(['v1', null]);
  });

  it('snapshots a stopped sandbox from its saved files (hard links), and from_snapshot starts from it; later saves never reach the snapshot or the origin', async () => {
    await ok(call(admin(), 'POST', '/api/v1/sandboxes/orig/stop'));
    const snap = await snapshot(admin(), 'orig', 'stopped');
    const savedFile = join(d.home, 'sandboxes', (snap.sandbox_id), 'files', 'upper', 'c.txt');
    const snapFile = join(d.home, 'snapshots', snap.id, 'upper', 'c.txt');
    expect(existsSync(savedFile) && existsSync(snapFile), JSON.stringify([readdirSync(join(d.home, 'snapshots', snap.id)), readdirSync(join(d.home, 'sandboxes', snap.sandbox_id, 'files'))])).toBe(true);
    expect(statSync(snapFile).ino).toBe(statSync(savedFile).ino); // same file system: linked, no new disk

    const from = await create(admin(), { name: 'from2', from_snapshot: 'orig:stopped' });
    expect(from.status).toBe('created');
    await start(admin(), 'from2');
    expect((await sh(admin(), 'from2', 'cat /workspace/c.txt /root/.dot')).stdout).toBe('c\ndot\n');
    // writing the restored (linked) file in the new sandbox, then a stop that saves it, changes nothing elsewhere
    await sh(admin(), 'from2', 'echo changed > /workspace/c.txt');
    await ok(call(admin(), 'POST', '/api/v1/sandboxes/from2/stop'));
    await start(admin(), 'from2');
    expect((await sh(admin(), 'from2', 'cat /workspace/c.txt')).stdout).toBe('changed\n');
    await start(admin(), 'orig');
    expect((await sh(admin(), 'orig', 'cat /workspace/c.txt')).stdout).toBe('c\n');
    await create(admin(), { name: 'from3', from_snapshot: snap.id });
    await start(admin(), 'from3');
    expect((await sh(admin(), 'from3', 'cat /workspace/c.txt')).stdout).toBe('c\n');
    expect(code(await call(admin(), 'POST', '/api/v1/sandboxes', { name: 'nope', from_snapshot: 'orig:missing' }))).toBe('NOT_FOUND');
  });

  it('lists and removes snapshots by id and by SANDBOX:TAG', async () => {
    const snap = await snapshot(admin(), 'orig', 'tmp');
    const list = ((await ok(call(admin(), 'GET', '/api/v1/snapshots'))) as { snapshots: Snap[] }).snapshots;
    expect(list.map((s) => s.id)).toContain(snap.id);
    expect(code(await call(admin(), 'DELETE', '/api/v1/snapshots/orig:tmp'))).toBe(204);
    expect(existsSync(join(d.home, 'snapshots', snap.id))).toBe(false);
    expect(code(await call(admin(), 'DELETE', '/api/v1/snapshots/orig:tmp'))).toBe('NOT_FOUND');
    const other = await snapshot(admin(), 'orig');
    expect(other.tag).toBeNull();
    expect(code(await call(admin(), 'DELETE', `/api/v1/snapshots/${other.id}`))).toBe(204);
    const after = ((await ok(call(admin(), 'GET', '/api/v1/snapshots'))) as { snapshots: Snap[] }).snapshots;
    expect(after.map((s) => s.id)).not.toContain(other.id);
  });

  it('refuses readonly and sandbox keys; a namespace key acts only in its namespace', async () => {
    const readonly = await makeKey('ro', 'readonly');
    for (const [m, p, b] of [['POST', '/api/v1/sandboxes/orig/snapshots', {}], ['GET', '/api/v1/snapshots', undefined], ['POST', '/api/v1/sandboxes/orig/fork', { name: 'x' }], ['DELETE', '/api/v1/snapshots/orig:v1', undefined]] as const) {
      expect(code(await call(as(readonly), m, p, b))).toBe('FORBIDDEN');
    }
    const own = await create(admin(), { name: 'selfish' });
    await start(admin(), 'selfish');
    expect(code(await call(as(own.api_key_secret), 'POST', '/api/v1/sandboxes/selfish/snapshots', {}))).toBe('FORBIDDEN');
    expect(code(await call(as(own.api_key_secret), 'GET', '/api/v1/snapshots'))).toBe('FORBIDDEN');

    const team = await makeKey('team', 'namespace', 'team');
    expect(code(await call(as(team), 'POST', '/api/v1/sandboxes/orig/snapshots', {}))).toBe('NOT_FOUND');
    expect(code(await call(as(team), 'DELETE', '/api/v1/snapshots/orig:v1'))).toBe('NOT_FOUND');
    expect(code(await call(as(team), 'POST', '/api/v1/sandboxes', { name: 'steal', from_snapshot: 'orig:v1' }))).toBe('NOT_FOUND');
    expect(((await ok(call(as(team), 'GET', '/api/v1/snapshots'))) as { snapshots: Snap[] }).snapshots).toEqual([]);
    await create(as(team), { name: 'mine' });
    const mine = await snapshot(as(team), 'mine', 't');
    expect(mine.namespace).toBe('team');
    const fork = (await ok(call(as(team), 'POST', '/api/v1/sandboxes/mine/fork', { name: 'mine2' }), 201)) as Created;
    expect(fork.status).toBe('created'); // the origin never ran: nor does the fork
    expect(code(await call(as(team), 'DELETE', '/api/v1/snapshots/mine:t'))).toBe(204);
    const audit = ((await ok(call(admin(), 'GET', '/api/v1/audit?limit=1000'))) as { events: { action: string; outcome: string }[] }).events;
    expect(audit.some((e) => e.action === 'sandbox.snapshot' && e.outcome === 'ok')).toBe(true);
    expect(audit.some((e) => e.action === 'snapshot.delete' && e.outcome === 'ok')).toBe(true);
  });

  it('does the same through MCP tools, with the same rights (a readonly key is refused)', async () => {
    const c = await mcpClient(port, await makeKey('mcp-admin', 'admin'));
    try {
      const snap = (await mcpTool(c, 'sandbox_snapshot', { sandbox: 'orig', tag: 'mcp' })).structuredContent as { snapshot: Snap };
      expect(snap.snapshot).toMatchObject({ sandbox: 'orig', tag: 'mcp' });
      const listed = (await mcpTool(c, 'snapshot_list')).structuredContent as { snapshots: Snap[] };
      expect(listed.snapshots.map((x) => x.id)).toContain(snap.snapshot.id);
      const fork = (await mcpTool(c, 'sandbox_fork', { sandbox: 'orig', name: 'mcp-fork' })).structuredContent as { sandbox: Created };
      expect(fork.sandbox.status).toBe('running');
      expect((await sh(admin(), 'mcp-fork', 'cat /workspace/a.txt')).stdout).toBe('one\n');
      const from = await mcpTool(c, 'sandbox_create', { name: 'mcp-from', from_snapshot: 'orig:mcp' });
      expect(mcpErrorCode(from)).toBeNull();
      expect((await mcpTool(c, 'snapshot_delete', { snapshot: 'orig:mcp' })).structuredContent).toEqual({ deleted: 'orig:mcp' });
    } finally {
      await c.close();
    }
    const ro = await mcpClient(port, await makeKey('mcp-ro', 'readonly'));
    try {
      expect(mcpErrorCode(await mcpTool(ro, 'sandbox_snapshot', { sandbox: 'orig' }))).toBe('FORBIDDEN');
      expect(mcpErrorCode(await mcpTool(ro, 'snapshot_list'))).toBe('FORBIDDEN');
    } finally {
      await ro.close();
    }
  });

  it('keeps a deleted sandbox\'s snapshots; only rm deletes them', async () => {
    const before = ((await ok(call(admin(), 'GET', '/api/v1/snapshots'))) as { snapshots: Snap[] }).snapshots.filter((s) => s.sandbox === 'orig');
    expect(before.length).toBeGreaterThan(0);
    expect(code(await call(admin(), 'DELETE', '/api/v1/sandboxes/orig'))).toBe(204);
    const after = ((await ok(call(admin(), 'GET', '/api/v1/snapshots'))) as { snapshots: Snap[] }).snapshots.filter((s) => s.sandbox === 'orig');
    expect(after.map((s) => s.id)).toEqual(before.map((s) => s.id));
    for (const s of after) expect(readdirSync(join(d.home, 'snapshots', s.id))).toContain('upper');
    await create(admin(), { name: 'heir', from_snapshot: 'orig:v1' });
    await start(admin(), 'heir');
    expect((await sh(admin(), 'heir', 'cat /workspace/a.txt')).stdout).toBe('one\n');
  });
});
