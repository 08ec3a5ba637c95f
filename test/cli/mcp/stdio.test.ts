/**
 * `bkg mcp`, the stdio bridge, as editors run it: the official SDK client spawning bin/run.js.
 * First against a stub Streamable HTTP MCP server (SDK McpServer over node:http, on a unix socket or
 * TCP) that checks the bridge itself; then against the real daemon it starts on demand.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { ListRootsRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BIN, bkg } from '../../helpers/cli.js';
import { sandboxSkipReason } from '../../helpers/sandbox.js';

// --- a stub of the daemon's MCP endpoint ---

interface StubRequest {
  method: string;
  url: string;
  session?: string;
  auth?: string;
  protocolVersion?: string;
}

interface Stub {
  url: string;
  requests: StubRequest[];
  /** What the tools saw: cancellations, roots the client listed. */
  events: string[];
  /** Stop and listen again on the same address with no sessions, as a restarted daemon does. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

function stubTools(events: string[]): McpServer {
  const server = new McpServer({ name: 'bkg-stub', version: '0.0.0' });
  server.registerTool('echo', { description: 'echo', inputSchema: { text: z.string() } }, ({ text }) => ({
    content: [{ type: 'text', text: `echo: ${text}` }],
    structuredContent: { text },
  }));
  server.registerTool('slow', { description: 'progress until cancelled', inputSchema: { steps: z.number() } }, async ({ steps }, extra) => {
    const token = extra._meta?.progressToken;
    for (let i = 1; i <= steps && !extra.signal.aborted; i++) {
      if (token !== undefined) await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: i, total: steps } });
      await sleep(50);
    }
    const deadline = Date.now() + 10_000;
    while (!extra.signal.aborted && Date.now() < deadline) await sleep(20);
    events.push(extra.signal.aborted ? 'cancelled' : 'slow ended');
    return { content: [{ type: 'text', text: 'cancelled' }] };
  });
  server.registerTool('roots', { description: 'asks the client for its roots' }, async () => {
    const { roots } = await server.server.listRoots();
    events.push(`roots:${roots.map((r) => r.uri).join(',')}`);
    return { content: [{ type: 'text', text: roots.map((r) => r.uri).join(',') }] };
  });
  return server;
}

async function startStub(at: { socketPath: string } | { port: 0 }, key?: string): Promise<Stub> {
  const requests: StubRequest[] = [];
  const events: string[] = [];
  let sessions = new Map<string, StreamableHTTPServerTransport>();
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const header = (name: string) => (typeof req.headers[name] === 'string' ? (req.headers[name] as string) : undefined);
    const session = header('mcp-session-id');
    requests.push({ method: req.method ?? '', url: req.url ?? '', ...(session ? { session } : {}), ...(header('authorization') ? { auth: header('authorization') } : {}), ...(header('mcp-protocol-version') ? { protocolVersion: header('mcp-protocol-version') } : {}) });
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (key !== undefined && req.headers.authorization !== `Bearer ${key}`) {
      return void json(401, { error: { code: 'UNAUTHENTICATED', message: 'missing or invalid API key', hint: 'Pass a valid API key.' } });
    }
    if (req.url !== '/mcp') return void json(404, { error: { code: 'NOT_FOUND', message: `no route ${req.url}`, hint: '' } });
    let transport = session === undefined ? undefined : sessions.get(session);
    if (transport === undefined) {
      if (session !== undefined) return void json(404, { jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null });
      const own = sessions;
      const t: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({ sessionIdGenerator: randomUUID, onsessioninitialized: (id) => void own.set(id, t) });
      t.onclose = () => {
        if (t.sessionId) own.delete(t.sessionId);
      };
      await stubTools(events).connect(t);
      transport = t;
    }
    await transport.handleRequest(req, res);
  };
  let server: Server;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = createServer((req, res) => void handle(req, res).catch((err: unknown) => res.writeHead(500).end(String(err))));
      server.once('error', reject);
      server.listen('socketPath' in at ? at.socketPath : { host: '127.0.0.1', port: currentPort }, () => resolve());
    });
  let currentPort = 0;
  await listen();
  currentPort = 'socketPath' in at ? 0 : (server!.address() as AddressInfo).port;
  const close = async () => {
    const open = [...sessions.values()];
    sessions = new Map();
    await Promise.all(open.map((t) => t.close()));
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    url: 'socketPath' in at ? `unix://${at.socketPath}` : `http://127.0.0.1:${currentPort}`,
    requests,
    events,
    close,
    async restart() {
      await close();
      await listen();
    },
  };
}

// --- clients ---

function text(r: unknown): string {
  return ((r as CallToolResult).content ?? []).map((c) => (c.type === 'text' ? c.text : '')).join('');
}

interface Connected {
  client: Client;
  transport: StdioClientTransport;
  stderr: () => string;
}

async function connect(env: Record<string, string>, capabilities: ConstructorParameters<typeof Client>[1] = {}): Promise<Connected> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [BIN, 'mcp'], env, stderr: 'pipe' });
  let err = '';
  transport.stderr?.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const client = new Client({ name: 'bkg-test', version: '0.0.0' }, capabilities);
  try {
    await client.connect(transport);
  } catch (e) {
    await transport.close();
    throw Object.assign(e as Error, { stderr: err });
  }
  return { client, transport, stderr: () => err };
}

/** `bkg mcp` spawned raw: write lines, collect stdout lines, and the exit. */
function raw(env: Record<string, string>) {
  const child = spawn(process.execPath, [BIN, 'mcp'], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    child,
    exited,
    stdout: () => out,
    stderr: () => err,
    send: (m: unknown) => child.stdin.write(`${JSON.stringify(m)}\n`),
    async waitFor(id: number, timeoutMs = 20_000): Promise<Record<string, unknown>> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).find((m) => m.id === id);
        if (hit) return hit;
        if (Date.now() > deadline) throw new Error(`no answer to ${id}; stdout: ${out}; stderr: ${err}`);
        await sleep(20);
      }
    },
  };
}

const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } } };

/** Every stdout line is one JSON-RPC 2.0 message: nothing but protocol. */
function expectOnlyProtocol(stdout: string): void {
  expect(stdout.endsWith('\n')).toBe(true);
  for (const line of stdout.split('\n').slice(0, -1)) {
    const m = JSON.parse(line) as Record<string, unknown>;
    expect(m.jsonrpc).toBe('2.0');
    expect('method' in m || 'result' in m || 'error' in m).toBe(true);
  }
}

describe('bkg mcp bridges stdio to a Streamable HTTP MCP server', () => {
  let dir: string;
  let stub: Stub;
  let env: Record<string, string>;
  const open: Connected[] = [];
  const KEY = 'bkg_test_key';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bkg-mcp-stub-'));
    stub = await startStub({ socketPath: join(dir, 'stub.sock') }, KEY);
    // BKG_API_URL: the bridge never starts a daemon of its own here.
    env = { BKG_HOME: join(dir, 'home'), BKG_API_URL: stub.url, BKG_API_KEY: KEY };
  });
  afterEach(async () => {
    for (const c of open.splice(0)) await c.client.close();
  });
  afterAll(async () => {
    await stub?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('forwards requests, results, progress, cancellation and server requests unchanged', async () => {
    const c = await connect(env, { capabilities: { roots: { listChanged: false } } });
    open.push(c);
    c.client.setRequestHandler(ListRootsRequestSchema, () => ({ roots: [{ uri: 'file:///work/project', name: 'project' }] }));
    expect(c.client.getServerVersion()).toMatchObject({ name: 'bkg-stub' });
    const { tools } = await c.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['echo', 'roots', 'slow']);

    const echoed = await c.client.callTool({ name: 'echo', arguments: { text: 'hi' } });
    expect(text(echoed)).toBe('echo: hi');
    expect(echoed.structuredContent).toEqual({ text: 'hi' });

    // progress notifications come back; cancelling reaches the tool
    const progress: number[] = [];
    const abort = new AbortController();
    const slow = c.client.callTool({ name: 'slow', arguments: { steps: 3 } }, undefined, {
      signal: abort.signal,
      onprogress: (p) => {
        progress.push(p.progress);
        if (p.progress === 3) abort.abort('enough');
      },
    });
    await expect(slow).rejects.toThrow();
    expect(progress).toEqual([1, 2, 3]);
    for (let i = 0; i < 100 && !stub.events.includes('cancelled'); i++) await sleep(20);
    expect(stub.events).toContain('cancelled');

    // a request from the server (roots/list) and the client's answer
    expect(text(await c.client.callTool({ name: 'roots', arguments: {} }))).toBe('file:///work/project');

    // one session, with the key and the negotiated protocol version after initialize
    const mcp = stub.requests.filter((r) => r.url === '/mcp');
    expect(mcp.every((r) => r.auth === `Bearer ${KEY}`)).toBe(true);
    const sessions = new Set(mcp.map((r) => r.session).filter(Boolean));
    expect(sessions.size).toBe(1);
    expect(mcp.filter((r) => r.session !== undefined).every((r) => r.protocolVersion !== undefined)).toBe(true);

    // closing stdin ends the session on the server (DELETE) and the bridge
    const before = stub.requests.length;
    await c.client.close();
    open.pop();
    expect(stub.requests.slice(before).some((r) => r.method === 'DELETE' && sessions.has(r.session))).toBe(true);
  });

  it('opens a new session, transparently, when the server restarted', async () => {
    const c = await connect(env);
    open.push(c);
    const from = stub.requests.length;
    expect(text(await c.client.callTool({ name: 'echo', arguments: { text: 'one' } }))).toBe('echo: one');
    // a call running when the server goes away is answered with an error once the bridge knows
    const running = c.client.callTool({ name: 'slow', arguments: { steps: 1 } }).then(() => null, (e: unknown) => e as Error);
    await sleep(200);
    await stub.restart();
    expect(text(await c.client.callTool({ name: 'echo', arguments: { text: 'two' } }))).toBe('echo: two');
    expect((await running)?.message).toContain('DAEMON_UNAVAILABLE');
    expect((await c.client.listTools()).tools.length).toBe(3);
    // the old session was refused (404), a new one opened, and the call retried on it
    const seen = stub.requests.slice(from);
    expect(new Set(seen.map((r) => r.session).filter(Boolean)).size).toBe(2);
    expect(c.stderr()).toContain('session ended');
  });

  it('answers with the bkg error code when the server refuses the key', async () => {
    const err = await connect({ ...env, BKG_API_KEY: 'wrong' }).then(() => null, (e: unknown) => e as Error & { stderr: string });
    expect(err?.message).toContain('UNAUTHENTICATED');
    expect(err?.stderr).toContain('UNAUTHENTICATED');
  });

  it('answers with DAEMON_UNAVAILABLE when nothing listens at BKG_API_URL', async () => {
    const err = await connect({ ...env, BKG_API_URL: `unix://${join(dir, 'nothing.sock')}` }).then(() => null, (e: unknown) => e as Error);
    expect(err?.message).toContain('DAEMON_UNAVAILABLE');
  });

  it('works over TCP with the bearer key', async () => {
    const tcp = await startStub({ port: 0 }, KEY);
    try {
      const c = await connect({ ...env, BKG_API_URL: tcp.url });
      expect(text(await c.client.callTool({ name: 'echo', arguments: { text: 'tcp' } }))).toBe('echo: tcp');
      await c.client.close();
      expect(tcp.requests.some((r) => r.method === 'POST' && r.auth === `Bearer ${KEY}`)).toBe(true);
    } finally {
      await tcp.close();
    }
  });

  it('writes only JSON-RPC lines on stdout, answers what is in flight when stdin closes, and exits 0', async () => {
    const p = raw(env);
    p.send(INIT);
    expect(await p.waitFor(1)).toMatchObject({ result: { serverInfo: { name: 'bkg-stub' } } });
    p.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    p.send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    p.send({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'echo', arguments: { text: 'last' } } });
    p.child.stdin.end();
    expect(await p.exited).toBe(0);
    expectOnlyProtocol(p.stdout());
    expect(await p.waitFor(3, 0)).toMatchObject({ result: { structuredContent: { text: 'last' } } });
  });

  it('exits 0 on EOF before any message, with nothing on stdout', async () => {
    const p = raw(env);
    p.child.stdin.end();
    expect(await p.exited).toBe(0);
    expect(p.stdout()).toBe('');
  });
});

const skip = sandboxSkipReason();

describe.skipIf(skip)('bkg mcp with the real daemon', () => {
  let dir: string;
  let env: Record<string, string>;
  let c: Connected;
  const TOOLS = [
    'sandbox_create', 'sandbox_list', 'sandbox_start', 'sandbox_stop', 'sandbox_delete', 'sandbox_exec', 'sandbox_run_code',
    'file_read', 'file_write', 'file_list', 'sandbox_changes', 'sandbox_metrics', 'sandbox_snapshot', 'sandbox_fork', 'snapshot_list', 'snapshot_delete',
  ];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bkg-mcp-'));
    chmodSync(dir, 0o755);
    env = { BKG_HOME: join(dir, 'home'), BKG_PORT: '0' };
    // the bridge starts the daemon: nothing runs yet
    c = await connect(env);
  });
  afterAll(async () => {
    await c?.client.close();
    await bkg(['daemon', 'stop'], { env });
    rmSync(dir, { recursive: true, force: true });
  });

  it('started the daemon and lists all the tools', async () => {
    expect((await bkg(['daemon', 'status'], { env })).code).toBe(0);
    const names = (await c.client.listTools()).tools.map((t) => t.name);
    for (const t of TOOLS) expect(names).toContain(t);
  });

  const call = async (name: string, args: Record<string, unknown>) => {
    const r = (await c.client.callTool({ name, arguments: args })) as CallToolResult;
    expect(r.isError ?? false, `${name}: ${text(r)}`).toBe(false);
    return r;
  };

  it('runs a whole session: create, start, write a file, run code that reads it, delete', async () => {
    await call('sandbox_create', { name: 'mcp1' });
    await call('sandbox_start', { sandbox: 'mcp1' });
    await call('file_write', { sandbox: 'mcp1', path: '/tmp/in.txt', content: 'hello' });
    const ran = await call('sandbox_run_code', { sandbox: 'mcp1', language: 'python', code: "print(open('/tmp/in.txt').read().upper())" });
    expect(`${text(ran)}\n${JSON.stringify(ran.structuredContent ?? {})}`).toContain('HELLO');
    const listed = await call('sandbox_list', {});
    expect(`${text(listed)}${JSON.stringify(listed.structuredContent ?? {})}`).toContain('mcp1');
    await call('sandbox_delete', { sandbox: 'mcp1' });
  });

  it('reports failures as isError with the bkg error code', async () => {
    const r = (await c.client.callTool({ name: 'sandbox_start', arguments: { sandbox: 'no-such-sandbox' } })) as CallToolResult;
    expect(r.isError).toBe(true);
    expect(text(r)).toContain('NOT_FOUND');
    expect(r._meta?.['bkg/error']).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('passes exec output through as progress notifications, and cancellation back', async () => {
    await call('sandbox_create', { name: 'mcp2' });
    await call('sandbox_start', { sandbox: 'mcp2' });
    const progress: string[] = [];
    const r = await c.client.callTool({ name: 'sandbox_exec', arguments: { sandbox: 'mcp2', cmd: ['sh', '-c', 'echo one; sleep 0.3; echo two'] } }, undefined, {
      onprogress: (p) => void progress.push(p.message ?? ''),
    });
    expect(r.structuredContent).toMatchObject({ exit_code: 0, stdout: 'one\ntwo\n' });
    expect(progress.join('')).toContain('one');

    const abort = new AbortController();
    const cancelled = c.client.callTool({ name: 'sandbox_exec', arguments: { sandbox: 'mcp2', cmd: ['sh', '-c', 'echo started; exec sleep 1234'] } }, undefined, {
      signal: abort.signal,
      onprogress: () => abort.abort('enough'),
    });
    await expect(cancelled).rejects.toThrow();
    const sleeping = async () => text(await call('sandbox_exec', { sandbox: 'mcp2', cmd: ['sh', '-c', 'cat /proc/[0-9]*/cmdline | tr "\\0" " "'] })).includes('sleep 1234');
    for (let i = 0; i < 50 && (await sleeping()); i++) await sleep(100);
    expect(await sleeping()).toBe(false);
    await call('sandbox_delete', { sandbox: 'mcp2' });
  });

  it('starts the daemon again and opens a new session when the daemon was restarted', async () => {
    expect((await bkg(['daemon', 'stop'], { env })).code).toBe(0);
    const listed = await call('sandbox_list', {});
    expect(listed.structuredContent).toMatchObject({ sandboxes: expect.any(Array) });
    expect(c.stderr()).toContain('started the daemon');
  });

  it('writes only JSON-RPC lines on stdout and exits 0 when stdin closes', async () => {
    const p = raw(env);
    p.send(INIT);
    expect(await p.waitFor(1)).toMatchObject({ jsonrpc: '2.0', id: 1, result: { protocolVersion: expect.any(String) } });
    p.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    p.send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    await p.waitFor(2);
    p.child.stdin.end();
    expect(await p.exited).toBe(0);
    expectOnlyProtocol(p.stdout());
  });
});
