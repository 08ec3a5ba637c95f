/**
 * Two real daemons on this machine, each with its own BKG_HOME and peer listener, each given a
 * fleet directory naming the other (no Postgres): B's sandbox row reaches A's store as sync would
 * apply it, and every call on A for it runs on B, over mutual TLS, as the same caller, audited on
 * both hosts. Rights are decided on both: a key that cannot see the sandbox is refused on A and
 * never forwarded; a key B's copy has revoked is refused by B; a dead B is HOST_UNAVAILABLE.
 */
import { mkdtempSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { FleetDirectory, PeerHost } from '../../../src/daemon/fleet/directory.js';
import { FORWARDED_PRINCIPAL_HEADER } from '../../../src/daemon/fleet/forwarded-principal.js';
import { call, freePort, removeHome, startTestDaemon, type Target, type TestDaemon } from '../../helpers/daemon.js';
import { mcpClient, mcpError, mcpTool } from '../../helpers/doors.js';
import { sandboxSkipReason } from '../../helpers/sandbox.js';
import { hostIdOf, rowOf, TestSync } from './replicate.js';
import { makeCa, peerEnv, tlsGet, type HostFiles } from './tls.js';

const skip = sandboxSkipReason();

interface AuditEvent {
  actor: string;
  action: string;
  target: string | null;
  outcome: string;
  details: Record<string, unknown> | null;
}

function directory(selfId: string, selfName: string, hosts: Map<string, PeerHost>): FleetDirectory {
  return { selfId, selfName, host: async (id) => hosts.get(id) ?? null, hosts: async () => [...hosts.values()] };
}

async function audit(d: TestDaemon): Promise<AuditEvent[]> {
  const r = await call(d.local, 'GET', '/api/v1/audit?limit=100000');
  expect(r.status).toBe(200);
  return (r.body as { events: AuditEvent[] }).events;
}

interface Stream {
  stdout: string;
  stderr: string;
  control: Record<string, unknown>[];
  code: number;
  reason: string;
}

function collect(ws: WebSocket): Promise<Stream> {
  const s: Stream = { stdout: '', stderr: '', control: [], code: 0, reason: '' };
  ws.on('message', (data: Buffer, isBinary) => {
    if (!isBinary) s.control.push(JSON.parse(data.toString()) as Record<string, unknown>);
    else if (data[0] === 1) s.stdout += data.subarray(1).toString();
    else if (data[0] === 2) s.stderr += data.subarray(1).toString();
  });
  return new Promise((resolve) => ws.on('close', (code, reason) => resolve({ ...s, code, reason: reason.toString() })));
}

const stdin = (text: string): Buffer => Buffer.concat([Buffer.from([0]), Buffer.from(text)]);

describe.skipIf(skip)('forwarding to the host that runs the sandbox', () => {
  const sync = new TestSync();
  const cleanup: string[] = [];
  const hosts = new Map<string, PeerHost>();
  let certs: Record<string, HostFiles>;
  let a: TestDaemon;
  let b: TestDaemon;
  let aId: string;
  let bId: string;
  let bHome: string;
  let bOpts: Parameters<typeof startTestDaemon>[0];
  let sandboxId: string;
  const keys: Record<'team' | 'other' | 'revokedOnB' | 'unknownOnB' | 'revokedOnA', { id: string; secret: string }> = {} as never;
  const onA = (key?: string): Target => ({ port: a.daemon.info.port ?? 0, ...(key ? { key } : {}) });

  beforeAll(async () => {
    const ca = await makeCa(['a', 'b']);
    certs = ca.hosts;
    cleanup.push(ca.dir);
    const homes = [mkdtempSync(join(tmpdir(), 'bkg-a-')), mkdtempSync(join(tmpdir(), 'bkg-b-'))] as [string, string];
    for (const h of homes) chmodSync(h, 0o700);
    [aId, bId] = homes.map(hostIdOf) as [string, string];
    bHome = homes[1];
    const [aPeer, bPeer, aPort, bPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    hosts.set(aId, { id: aId, name: 'a', peerUrl: `https://127.0.0.1:${aPeer}`, alive: true, load: {} });
    hosts.set(bId, { id: bId, name: 'b', peerUrl: `https://127.0.0.1:${bPeer}`, alive: true, load: {} });
    a = await startTestDaemon({ home: homes[0], port: aPort, env: peerEnv(certs.a as HostFiles, aPeer), fleet: { directory: directory(aId, 'a', hosts) } });
    bOpts = { home: bHome, port: bPort, env: peerEnv(certs.b as HostFiles, bPeer), fleet: { directory: directory(bId, 'b', hosts) } };
    b = await startTestDaemon(bOpts);

    // B runs the sandbox; its namespace and row reach A as sync applies them
    const created = await call(b.local, 'POST', '/api/v1/sandboxes', { name: 'web', namespace: 'team' });
    expect(created.status).toBe(201);
    sandboxId = (created.body as { id: string }).id;
    expect((await call(b.local, 'POST', '/api/v1/sandboxes/web/start')).status).toBe(200);
    const nsRow = rowOf(bHome, 'sandboxes', sandboxId);
    sync.copy(bHome, a.home, 'namespaces', nsRow.namespace_id as string);
    sync.copy(bHome, a.home, 'sandboxes', sandboxId);

    // keys made on A; B's copy gets some of them
    const make = async (name: string, namespace: string): Promise<{ id: string; secret: string }> => {
      const r = await call(a.local, 'POST', '/api/v1/keys', { name, role: 'namespace', namespace });
      expect(r.status).toBe(201);
      const body = r.body as { key: { id: string }; secret: string };
      return { id: body.key.id, secret: body.secret };
    };
    keys.team = await make('team-key', 'team');
    keys.other = await make('other-key', 'other');
    keys.revokedOnB = await make('revoked-on-b', 'team');
    keys.unknownOnB = await make('unknown-on-b', 'team');
    keys.revokedOnA = await make('revoked-on-a', 'team');
    sync.copy(a.home, b.home, 'namespaces', rowOf(a.home, 'api_keys', keys.other.id).namespace_id as string);
    for (const k of [keys.team, keys.other, keys.revokedOnB, keys.revokedOnA]) sync.copy(a.home, b.home, 'api_keys', k.id);
    // a revocation that reached B but not (yet) A
    sync.copy(a.home, b.home, 'api_keys', keys.revokedOnB.id, { revoked_at: new Date().toISOString() });
    expect((await call(a.local, 'POST', `/api/v1/keys/${keys.revokedOnA.id}/revoke`)).status).toBe(200);
  });

  afterAll(async () => {
    await a?.stop();
    await b?.stop().catch(() => {});
    // B again, to delete the sandbox it runs (its helper outlives the daemon)
    const again = await startTestDaemon(bOpts);
    await call(again.local, 'DELETE', `/api/v1/sandboxes/${sandboxId}`);
    await again.stop();
    for (const dir of [a.home, bHome, ...cleanup]) removeHome(dir);
  });

  it('finds B\'s sandbox in A\'s store, owned by B', async () => {
    const row = rowOf(a.home, 'sandboxes', sandboxId);
    expect(row.host).toBe(bId);
  });

  it('runs a REST exec on A in B\'s sandbox, on B, audited on both hosts', async () => {
    const r = await call(onA(keys.team.secret), 'POST', '/api/v1/sandboxes/web/exec', { cmd: ['sh', '-c', 'read x; echo "got $x"; echo oops >&2; exit 3'], stdin: 'hello\n' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ exit_code: 3, stdout: 'got hello\n', stderr: 'oops\n' });

    // B ran it: its executions have it, as the key's
    const logs = await call(b.local, 'GET', '/api/v1/sandboxes/web/logs');
    expect((logs.body as { executions: { actor: string; exit_code: number }[] }).executions.at(-1)).toMatchObject({ actor: keys.team.id, exit_code: 3 });
    // A audits the forwarding, B the exec with where it came from
    const onAudit = await audit(a);
    expect(onAudit.filter((e) => e.action === 'sandbox.forward').at(-1)).toMatchObject({ actor: keys.team.id, target: sandboxId, outcome: 'ok', details: { host: bId, action: 'sandbox.exec' } });
    expect(onAudit.some((e) => e.action === 'sandbox.exec')).toBe(false);
    expect((await audit(b)).filter((e) => e.action === 'sandbox.exec').at(-1)).toMatchObject({ actor: keys.team.id, target: sandboxId, outcome: 'ok', details: { via: aId, exit_code: 3 } });
  });

  it('forwards the other sandbox calls: view, files, logs', async () => {
    const view = await call(onA(keys.team.secret), 'GET', '/api/v1/sandboxes/web');
    expect(view.body).toMatchObject({ id: sandboxId, name: 'web', namespace: 'team', status: 'running' });
    const put = await call(onA(keys.team.secret), 'PUT', '/api/v1/sandboxes/web/files?path=/tmp/note.txt', undefined, { raw: Buffer.from('from a'), headers: { 'content-type': 'application/octet-stream' } });
    expect(put.status).toBe(204);
    const got = await call(b.local, 'GET', '/api/v1/sandboxes/web/files?path=/tmp/note.txt');
    expect(got.raw.toString()).toBe('from a');
    const read = await call(onA(keys.team.secret), 'GET', '/api/v1/sandboxes/web/files?path=/tmp/note.txt');
    expect(read.raw.toString()).toBe('from a');
    const logs = await call(onA(keys.team.secret), 'GET', '/api/v1/sandboxes/web/logs');
    expect((logs.body as { executions: unknown[] }).executions.length).toBeGreaterThan(0);
    const writes = (await audit(b)).filter((e) => e.action === 'sandbox.file.write');
    expect(writes.at(-1)).toMatchObject({ actor: keys.team.id, details: { path: '/tmp/note.txt', via: aId } });
  });

  it('carries the host admin of A as host:<A>, an admin on B', async () => {
    const r = await call(a.local, 'POST', '/api/v1/sandboxes/web/exec', { cmd: ['true'] });
    expect(r.status).toBe(200);
    expect((await audit(b)).filter((e) => e.action === 'sandbox.exec').at(-1)).toMatchObject({ actor: `host:${aId}`, details: { via: aId } });
  });

  it('relays a WebSocket exec through A: stdin in, output out, exit code and close', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${a.daemon.info.port}/api/v1/sandboxes/web/exec/ws`, { headers: { authorization: `Bearer ${keys.team.secret}` } });
    const done = collect(ws);
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'start', cmd: ['sh', '-c', 'read line; echo "got $line"; echo err >&2; cat; exit 5'] }));
    ws.send(stdin('first\n'));
    ws.send(stdin('and the rest'));
    ws.send(JSON.stringify({ type: 'stdin_eof' }));
    const s = await done;
    expect(s.stdout).toBe('got first\nand the rest');
    expect(s.stderr).toBe('err\n');
    expect(s.control.at(-1)).toMatchObject({ type: 'exit', exit_code: 5, timed_out: false });
    expect(s.code).toBe(1000);
    expect((await audit(a)).filter((e) => e.action === 'sandbox.forward').at(-1)).toMatchObject({ actor: keys.team.id, outcome: 'ok', details: { host: bId, action: 'sandbox.exec' } });
    expect((await audit(b)).filter((e) => e.action === 'sandbox.exec').at(-1)).toMatchObject({ actor: keys.team.id, details: { via: aId, exit_code: 5 } });
  });

  it('forwards MCP tools: exec with its output, and listing a directory', async () => {
    const c = await mcpClient(a.daemon.info.port ?? 0, keys.team.secret);
    try {
      const exec = await mcpTool(c, 'sandbox_exec', { sandbox: 'web', cmd: ['sh', '-c', 'echo mcp; exit 2'] });
      expect(exec.structuredContent).toMatchObject({ exit_code: 2, stdout: 'mcp\n' });
      const list = await mcpTool(c, 'file_list', { sandbox: 'web', path: '/tmp' });
      expect(list.isError, JSON.stringify(list.content)).toBeFalsy();
      expect((list.structuredContent as { entries: { name: string }[] }).entries.map((e) => e.name)).toContain('note.txt');
      const missing = await mcpTool(c, 'file_read', { sandbox: 'web', path: '/tmp/none' });
      expect(mcpError(missing)?.code).toBe('NOT_FOUND');
    } finally {
      await c.close();
    }
  });

  it('refuses on A, without forwarding, a key that cannot see the sandbox', async () => {
    const before = (await audit(b)).length;
    expect((await call(onA(keys.other.secret), 'GET', '/api/v1/sandboxes/web')).status).toBe(404);
    expect((await call(onA(keys.other.secret), 'POST', '/api/v1/sandboxes/web/exec', { cmd: ['true'] })).status).toBe(404);
    const ws = new WebSocket(`ws://127.0.0.1:${a.daemon.info.port}/api/v1/sandboxes/web/exec/ws`, { headers: { authorization: `Bearer ${keys.other.secret}` } });
    const done = collect(ws);
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'start', cmd: ['true'] }));
    expect((await done).control[0]).toMatchObject({ type: 'error', error: { code: 'NOT_FOUND' } });
    const onAudit = await audit(a);
    expect(onAudit.some((e) => e.action === 'sandbox.forward' && e.actor === keys.other.id)).toBe(false);
    expect(onAudit.filter((e) => e.actor === keys.other.id && e.action === 'sandbox.exec').at(-1)).toMatchObject({ outcome: 'denied' });
    expect((await audit(b)).slice(before).filter((e) => e.actor === keys.other.id)).toEqual([]);
  });

  it('refuses revoked keys: on A when A knows, on B when only B knows', async () => {
    expect((await call(onA(keys.revokedOnA.secret), 'POST', '/api/v1/sandboxes/web/exec', { cmd: ['true'] })).body).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
    const r = await call(onA(keys.revokedOnB.secret), 'POST', '/api/v1/sandboxes/web/exec', { cmd: ['true'] });
    expect(r.status).toBe(401);
    expect(r.body).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
    expect((r.body as { error: { message: string } }).error.message).toContain(keys.revokedOnB.id);
    const unknown = await call(onA(keys.unknownOnB.secret), 'POST', '/api/v1/sandboxes/web/exec', { cmd: ['true'] });
    expect(unknown.status).toBe(401);
    // through every door: the MCP tool that lists files, and the exec WebSocket
    const c = await mcpClient(a.daemon.info.port ?? 0, keys.revokedOnB.secret);
    try {
      expect(mcpError(await mcpTool(c, 'file_list', { sandbox: 'web', path: '/tmp' }))?.code).toBe('UNAUTHENTICATED');
      expect(mcpError(await mcpTool(c, 'sandbox_exec', { sandbox: 'web', cmd: ['true'] }))?.code).toBe('UNAUTHENTICATED');
    } finally {
      await c.close();
    }
    const ws = new WebSocket(`ws://127.0.0.1:${a.daemon.info.port}/api/v1/sandboxes/web/exec/ws`, { headers: { authorization: `Bearer ${keys.revokedOnB.secret}` } });
    const done = collect(ws);
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'start', cmd: ['true'] }));
    const s = await done;
    expect(s.control).toMatchObject([{ type: 'error', error: { code: 'UNAUTHENTICATED' } }]);
    expect(s.code).toBe(4000);
    expect((await audit(a)).filter((e) => e.action === 'sandbox.forward' && e.actor === keys.revokedOnB.id).at(-1)).toMatchObject({ outcome: 'denied', details: { code: 'UNAUTHENTICATED' } });
  });

  it('takes only mutual TLS with a principal on B\'s peer listener, and derives the rights itself', async () => {
    const port = Number(new URL((hosts.get(bId) as PeerHost).peerUrl as string).port);
    const bFiles = certs.b as HostFiles;
    const aFiles = certs.a as HostFiles;
    const path = `/api/v1/sandboxes/${sandboxId}`;
    // plain HTTP never gets an HTTP answer
    const plain = await call({ port }, 'GET', path, undefined, { unchecked: true }).then((r) => r.status, (err: NodeJS.ErrnoException) => err.code ?? err.message);
    expect(typeof plain, `plain HTTP got ${plain}`).toBe('string'); // an error code (ECONNRESET), never an HTTP status
    // a client certificate of another CA, or none: the handshake is refused
    const other = await makeCa(['a']);
    cleanup.push(other.dir);
    const stranger = other.hosts.a as HostFiles;
    expect((await tlsGet(port, path, { client: stranger, trust: bFiles })).error).toBeDefined();
    expect((await tlsGet(port, path, { trust: bFiles })).error).toBeDefined();
    // the right certificate without the forwarded principal: 401
    expect(await tlsGet(port, path, { client: aFiles, trust: bFiles })).toMatchObject({ status: 401, body: { error: { code: 'UNAUTHENTICATED' } } });
    const as = (p: Record<string, unknown>) => ({ [FORWARDED_PRINCIPAL_HEADER]: JSON.stringify({ name: 'x', namespaceId: null, sandboxId: null, host: aId, ...p }) });
    expect(await tlsGet(port, path, { client: aFiles, trust: bFiles, headers: as({ id: 'host', role: 'admin' }) })).toMatchObject({ status: 200, body: { id: sandboxId } });
    expect(await tlsGet(port, path, { client: aFiles, trust: bFiles, headers: as({ id: keys.unknownOnB.id, role: 'admin' }) })).toMatchObject({ status: 401 });
    // a namespace key claimed to be an admin key is still the namespace key B's copy has
    const claimed = as({ id: keys.other.id, role: 'admin', namespaceId: null });
    expect(await tlsGet(port, `/api/v1/sandboxes/${sandboxId}`, { client: aFiles, trust: bFiles, headers: claimed })).toMatchObject({ status: 404 });
    expect(await tlsGet(port, '/api/v1/sandboxes', { client: aFiles, trust: bFiles, headers: claimed })).toMatchObject({ status: 200, body: { sandboxes: [] } });
    expect(await tlsGet(port, '/api/v1/sandboxes', { client: aFiles, trust: bFiles, headers: as({ id: keys.team.id, role: 'namespace' }) })).toMatchObject({ status: 200, body: { sandboxes: [{ id: sandboxId }] } });
    // and no forwarded caller, not even another host's admin, manages keys, policies or the daemon here
    expect(await tlsGet(port, '/api/v1/keys', { client: aFiles, trust: bFiles, headers: as({ id: 'host', role: 'admin' }) })).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN', details: { action: 'key.manage' } } } });
    expect((await audit(b)).at(-1)).toMatchObject({ actor: `host:${aId}`, action: 'key.manage', outcome: 'denied', details: { via: aId } });
  });

  it('answers 503 HOST_UNAVAILABLE naming B when B is gone, also mid-stream', async () => {
    (hosts.get(bId) as PeerHost).alive = false;
    const stale = await call(onA(keys.team.secret), 'GET', '/api/v1/sandboxes/web');
    expect(stale.status).toBe(503);
    expect(stale.body).toMatchObject({ error: { code: 'HOST_UNAVAILABLE', details: { host: bId } } });
    (hosts.get(bId) as PeerHost).alive = true;
    // hosts talk over https only: a registry entry with plain http is never dialled
    const peerUrl = (hosts.get(bId) as PeerHost).peerUrl as string;
    (hosts.get(bId) as PeerHost).peerUrl = peerUrl.replace('https:', 'http:');
    const plain = await call(onA(keys.team.secret), 'GET', '/api/v1/sandboxes/web');
    expect(plain.body).toMatchObject({ error: { code: 'HOST_UNAVAILABLE', details: { host: bId } } });
    expect((plain.body as { error: { message: string } }).error.message).toContain('https only');
    (hosts.get(bId) as PeerHost).peerUrl = peerUrl;

    const ws = new WebSocket(`ws://127.0.0.1:${a.daemon.info.port}/api/v1/sandboxes/web/exec/ws`, { headers: { authorization: `Bearer ${keys.team.secret}` } });
    const done = collect(ws);
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'start', cmd: ['sh', '-c', 'echo ready; sleep 30'] }));
    await new Promise<void>((r) => ws.on('message', (data: Buffer, bin) => bin && data.subarray(1).toString().includes('ready') && r()));
    await b.stop();
    const s = await done;
    expect(s.control.at(-1)).toMatchObject({ type: 'error', error: { code: 'HOST_UNAVAILABLE', details: { host: bId } } });
    expect(s.code).toBe(4000);

    const r = await call(onA(keys.team.secret), 'POST', '/api/v1/sandboxes/web/exec', { cmd: ['true'] });
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({ error: { code: 'HOST_UNAVAILABLE', details: { host: bId } } });
    expect((r.body as { error: { message: string } }).error.message).toContain(`host "b" (${bId})`);
    expect((await audit(a)).filter((e) => e.action === 'sandbox.forward').at(-1)).toMatchObject({ outcome: 'error', details: { host: bId, code: 'HOST_UNAVAILABLE' } });
  });
});
