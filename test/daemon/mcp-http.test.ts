/** MCP over Streamable HTTP with the official SDK client, against a real daemon. */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, freePort, removeHome, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { sandboxSkipReason } from '../helpers/sandbox.js';

const skip = sandboxSkipReason();
const TOOLS = ['file_list', 'file_read', 'file_write', 'sandbox_changes', 'sandbox_create', 'sandbox_delete', 'sandbox_exec', 'sandbox_fork', 'sandbox_list', 'sandbox_metrics', 'sandbox_run_code', 'sandbox_snapshot', 'sandbox_start', 'sandbox_stop', 'snapshot_delete', 'snapshot_list'];


type Result = { isError?: boolean; structuredContent?: Record<string, unknown>; _meta?: Record<string, unknown>; content: { type: string; text?: string }[] };

describe.skipIf(skip)('MCP over Streamable HTTP', () => {
  let d: TestDaemon;
  let url: URL;
  const keys: Record<string, string> = {};
  const clients: Client[] = [];
  let ws: string;

  async function connect(key?: string): Promise<Client> {
    const client = new Client({ name: 'bkg-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(url, key ? { requestInit: { headers: { Authorization: `Bearer ${key}` } } } : {}));
    clients.push(client);
    return client;
  }
  const tool = async (c: Client, name: string, args: Record<string, unknown> = {}): Promise<Result> => (await c.callTool({ name, arguments: args })) as Result;

  beforeAll(async () => {
    d = await startTestDaemon({ port: await freePort() });
    url = new URL(`http://127.0.0.1:${d.daemon.info.port as number}/mcp`);
    for (const [name, role, namespace] of [['admin', 'admin', undefined], ['a', 'namespace', 'team-a'], ['b', 'namespace', 'team-b']] as const) {
      keys[name] = ((await call(d.local, 'POST', '/api/v1/keys', { name, role, ...(namespace ? { namespace } : {}) })).body as { secret: string }).secret;
    }
    ws = mkdtempSync(join(tmpdir(), 'bkg-mcp-ws-'));
    chmodSync(ws, 0o755);
    writeFileSync(join(ws, 'notes.txt'), 'original\n');
  });
  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => {});
    for (const s of (((await call(d.local, 'GET', '/api/v1/sandboxes')).body as { sandboxes: { id: string }[] }).sandboxes)) await call(d.local, 'DELETE', `/api/v1/sandboxes/${s.id}`);
    await d.stop();
    removeHome(d.home);
    rmSync(ws, { recursive: true, force: true });
  });

  it('lists the tools, each with a schema and a description', async () => {
    const c = await connect(keys.admin);
    const { tools } = await c.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(TOOLS);
    for (const t of tools) {
      expect(t.description?.length).toBeGreaterThan(20);
      expect(t.inputSchema.type).toBe('object');
    }
  });

  it('runs a whole session: create, write a file, run code that reads it, read the changes, delete', async () => {
    const c = await connect(keys.admin);
    expect((await tool(c, 'sandbox_create', { name: 'm1', runtime: 'python', workspace: ws })).structuredContent).toMatchObject({ sandbox: { name: 'm1', status: 'created' } });
    expect((await tool(c, 'sandbox_start', { sandbox: 'm1' })).structuredContent).toMatchObject({ sandbox: { status: 'running' } });
    expect((await tool(c, 'file_write', { sandbox: 'm1', path: '/workspace/in.txt', content: 'hello from mcp' })).isError).toBeFalsy();
    const run = await tool(c, 'sandbox_run_code', { sandbox: 'm1', language: 'python', code: "print(open('/workspace/in.txt').read().upper())" });
    expect(run.structuredContent).toMatchObject({ exit_code: 0, stdout: 'HELLO FROM MCP\n', stdout_truncated: false });
    const read = await tool(c, 'file_read', { sandbox: 'm1', path: '/workspace/notes.txt' });
    expect(read.structuredContent).toMatchObject({ content: 'original\n', encoding: 'utf-8' });
    const list = await tool(c, 'file_list', { sandbox: 'm1', path: '/workspace' });
    expect((list.structuredContent as { entries: { name: string }[] }).entries.map((e) => e.name)).toEqual(['in.txt', 'notes.txt']);
    expect((await tool(c, 'sandbox_changes', { sandbox: 'm1' })).structuredContent).toEqual({ changes: [{ path: 'in.txt', kind: 'added', type: 'file' }] });
    const metrics = await tool(c, 'sandbox_metrics', { sandbox: 'm1' });
    expect((metrics.structuredContent as { usage: { memory_bytes: number } }).usage.memory_bytes).toBeGreaterThan(0);
    const logs = await c.readResource({ uri: 'bkg://sandboxes/m1/logs' });
    expect(JSON.parse((logs.contents[0] as { text: string }).text)).toHaveLength(1);
    const file = await c.readResource({ uri: 'bkg://sandboxes/m1/files/workspace/in.txt' });
    expect((file.contents[0] as { text: string }).text).toBe('hello from mcp');
    expect((await tool(c, 'sandbox_delete', { sandbox: 'm1' })).isError).toBeFalsy();
    const gone = await tool(c, 'sandbox_exec', { sandbox: 'm1', cmd: ['true'] });
    expect(gone.isError).toBe(true);
    expect(gone._meta?.['bkg/error']).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('runs code in a throwaway sandbox when none is named', async () => {
    const c = await connect(keys.a);
    const r = await tool(c, 'sandbox_run_code', { language: 'node', code: 'console.log(6 * 7)' });
    expect(r.structuredContent).toMatchObject({ exit_code: 0, stdout: '42\n' });
    expect((await tool(c, 'sandbox_list')).structuredContent).toEqual({ sandboxes: [] });
  });

  it('gives a sandbox without a host directory a /workspace: an agent writes main.py there and runs it, there unless told otherwise', async () => {
    const c = await connect(keys.a); // a namespace key: a host workspace would be a privilege it lacks
    expect((await tool(c, 'sandbox_create', { name: 'agent', runtime: 'python' })).structuredContent).toMatchObject({ sandbox: { workspace: null } });
    await tool(c, 'sandbox_start', { sandbox: 'agent' });
    const source = 'import os\nprint(os.getcwd(), 6 * 7)\n';
    const wrote = await tool(c, 'file_write', { sandbox: 'agent', path: '/workspace/main.py', content: source });
    expect(wrote.isError).toBeFalsy();
    expect(wrote.structuredContent).toEqual({ path: '/workspace/main.py', size: source.length });
    expect((await tool(c, 'sandbox_exec', { sandbox: 'agent', cmd: ['python3', '/workspace/main.py'] })).structuredContent).toMatchObject({ exit_code: 0, stdout: '/workspace 42\n' });
    expect((await tool(c, 'sandbox_exec', { sandbox: 'agent', cmd: ['python3', 'main.py'] })).structuredContent).toMatchObject({ exit_code: 0, stdout: '/workspace 42\n' });
    expect((await tool(c, 'sandbox_exec', { sandbox: 'agent', cmd: ['pwd'], cwd: '/tmp' })).structuredContent).toMatchObject({ exit_code: 0, stdout: '/tmp\n' });
    expect((await tool(c, 'sandbox_run_code', { sandbox: 'agent', language: 'shell', code: 'pwd; ls' })).structuredContent).toMatchObject({ exit_code: 0, stdout: '/workspace\nmain.py\n' });
    expect((await tool(c, 'file_list', { sandbox: 'agent', path: '/workspace' })).structuredContent).toMatchObject({ entries: [{ name: 'main.py', type: 'file' }] });
    expect((await tool(c, 'sandbox_changes', { sandbox: 'agent' })).structuredContent).toEqual({ changes: [{ path: 'main.py', kind: 'added', type: 'file' }] });
    expect((await tool(c, 'sandbox_stop', { sandbox: 'agent' })).structuredContent).toMatchObject({ sandbox: { status: 'stopped' } });
    expect((await tool(c, 'sandbox_start', { sandbox: 'agent' })).structuredContent).toMatchObject({ sandbox: { status: 'running' } });
    expect((await tool(c, 'file_read', { sandbox: 'agent', path: '/workspace/main.py' })).structuredContent).toMatchObject({ content: source });
    expect((await tool(c, 'sandbox_delete', { sandbox: 'agent' })).isError).toBeFalsy();
    const throwaway = await tool(c, 'sandbox_run_code', { language: 'python', code: 'import os; open("out.txt", "w").write("x"); print(os.getcwd(), os.listdir())' });
    expect(throwaway.structuredContent).toMatchObject({ exit_code: 0, stdout: "/workspace ['out.txt']\n" });
  });

  it('streams progress and kills the command inside the sandbox when the client cancels', async () => {
    const c = await connect(keys.a);
    await tool(c, 'sandbox_create', { name: 'long' });
    await tool(c, 'sandbox_start', { sandbox: 'long' });
    const progress: string[] = [];
    const abort = new AbortController();
    const pending = c.callTool({ name: 'sandbox_exec', arguments: { sandbox: 'long', cmd: ['sh', '-c', 'echo tick; exec sleep 7.321'] } }, undefined, {
      signal: abort.signal,
      onprogress: (p) => progress.push(p.message ?? ''),
      resetTimeoutOnProgress: true,
    });
    const running = (): boolean => spawnSync('pgrep', ['-f', '^sleep 7.321$']).stdout.toString().trim() !== '';
    for (let i = 0; i < 100 && !running(); i++) await new Promise((r) => setTimeout(r, 20));
    expect(running()).toBe(true);
    for (let i = 0; i < 50 && progress.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(progress.join('')).toContain('tick');
    abort.abort();
    await expect(pending).rejects.toThrow();
    for (let i = 0; i < 100 && running(); i++) await new Promise((r) => setTimeout(r, 20));
    expect(running()).toBe(false);
  });

  it('refuses a bad size in sandbox_create with the typed error naming the field, as REST does, and creates nothing', async () => {
    const c = await connect(keys.a as string);
    for (const [limits, field, message] of [
      [{ memory_mb: '1k' }, 'limits.memory_mb', /number/],
      [{ memory_mb: 1 }, 'limits.memory_mb', /at least 16/],
      [{ memory_mb: 1.5 }, 'limits.memory_mb', /whole number/],
      [{ disk_mb: -1 }, 'limits.disk_mb', /at least/],
      [{ swap_mb: 64 }, 'limits.swap_mb', /not a known field/],
    ] as const) {
      const r = await tool(c, 'sandbox_create', { name: 'bad-size', limits });
      expect(r.isError, JSON.stringify(limits)).toBe(true);
      const err = r._meta?.['bkg/error'] as { code: string; message: string; details?: { field?: string } } | undefined;
      expect(err, JSON.stringify(r.content)).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field } });
      expect(err?.message).toMatch(message);
      // the same words as the REST door
      const rest = await call(d.local, 'POST', '/api/v1/sandboxes', { name: 'bad-size', namespace: 'team-a', limits });
      expect((rest.body as { error: { code: string; message: string } }).error).toMatchObject({ code: 'INVALID_ARGUMENT', message: err?.message });
    }
    expect(((await tool(c, 'sandbox_list')).structuredContent as { sandboxes: { name: string }[] }).sandboxes.map((s) => s.name)).not.toContain('bad-size');
  });

  it('refuses a missing or wrong key, and hides other namespaces', async () => {
    await expect(connect()).rejects.toThrow(/401|UNAUTHENTICATED|Unauthorized/);
    await expect(connect('bkg_' + 'y'.repeat(43))).rejects.toThrow(/401|UNAUTHENTICATED|Unauthorized/);
    const b = await connect(keys.b);
    expect((await tool(b, 'sandbox_list')).structuredContent).toEqual({ sandboxes: [] });
    const other = await tool(b, 'sandbox_exec', { sandbox: 'long', cmd: ['true'] });
    expect(other._meta?.['bkg/error']).toMatchObject({ code: 'NOT_FOUND' });
    const ws2 = await tool(b, 'sandbox_create', { name: 'x', workspace: '/etc' });
    expect(ws2._meta?.['bkg/error']).toMatchObject({ code: 'FORBIDDEN' });
  });

  it('handles ten concurrent sessions, audited and counted like REST', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, async (_, i) => {
      const c = await connect(keys.admin);
      const name = `par${i}`;
      await tool(c, 'sandbox_create', { name });
      await tool(c, 'sandbox_start', { sandbox: name });
      const r = await tool(c, 'sandbox_exec', { sandbox: name, cmd: ['sh', '-c', `echo ${i}`] });
      await tool(c, 'sandbox_delete', { sandbox: name });
      return (r.structuredContent as { stdout: string }).stdout;
    }));
    expect(results).toEqual(Array.from({ length: 10 }, (_, i) => `${i}\n`));
    const events = (await call(d.local, 'GET', '/api/v1/audit?limit=100000')).body as { events: { action: string; target: string }[] };
    expect(events.events.filter((e) => e.action === 'sandbox.exec').length).toBeGreaterThanOrEqual(10);
    const metrics = (await call(d.local, 'GET', '/metrics')).raw.toString();
    expect(metrics).toMatch(/^bkg_mcp_tool_calls_total\{tool="sandbox_exec",outcome="ok"\} (\d+)$/m);
    expect(metrics).toMatch(/^bkg_mcp_sessions \d+$/m);
  });

  it('survives whatever a client sends', async () => {
    const c = await connect(keys.a);
    const unknown = await c.callTool({ name: 'no_such_tool', arguments: {} }).then((r) => r as Result, (e: Error) => ({ isError: true, content: [{ type: 'text', text: e.message }] }) as Result);
    expect(unknown.isError).toBe(true);
    const badArgs = await c.callTool({ name: 'sandbox_exec', arguments: { sandbox: '../x', cmd: 'ls' } }).then((r) => r as Result, (e: Error) => ({ isError: true, content: [{ type: 'text', text: e.message }] }) as Result);
    expect(badArgs.isError).toBe(true);
    const port = d.daemon.info.port as number;
    const auth = `Bearer ${keys.a as string}`;
    for (const body of ['not json', '{"jsonrpc":"2.0"}', '[]', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call' })]) {
      const r = await fetch(`http://127.0.0.1:${port}/mcp`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body });
      expect(r.status, body).toBeGreaterThanOrEqual(400);
      expect(r.status, body).toBeLessThan(500);
    }
    const stale = await fetch(`http://127.0.0.1:${port}/mcp`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': 'nope' }, body: '{}' });
    expect(stale.status).toBe(404);
    expect((await tool(c, 'sandbox_list')).isError).toBeFalsy(); // the session still works
    expect((await call(d.local, 'GET', '/healthz')).status).toBe(200);
  });
});
