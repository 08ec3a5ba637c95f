/** Test helpers: a real daemon in a temp BKG_HOME, and raw HTTP requests over its socket or TCP. */
import { request } from 'node:http';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { answerProblem } from '../../src/api/answers.js';
import { loadDaemonConfig, type DaemonConfig } from '../../src/daemon/config.js';
import type { FleetDirectory } from '../../src/daemon/fleet/directory.js';
import { startDaemon, type RunningDaemon } from '../../src/daemon/main.js';

export interface Resp {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  raw: Buffer;
}

export interface Target {
  socketPath?: string;
  port?: number;
  key?: string;
}

export function call(t: Target, method: string, path: string, body?: unknown, extra: { headers?: Record<string, string>; raw?: Buffer; /** Skip the contract check (a HEAD, or a route outside the contract on purpose). */ unchecked?: boolean } = {}): Promise<Resp> {
  return new Promise((resolve, reject) => {
    const payload = extra.raw ?? (body === undefined ? undefined : Buffer.from(JSON.stringify(body)));
    const headers: Record<string, string> = { ...(payload && !extra.raw ? { 'content-type': 'application/json' } : {}), ...(t.key ? { authorization: `Bearer ${t.key}` } : {}), ...(extra.headers ?? {}) };
    const req = request({ method, path, headers, ...(t.socketPath ? { socketPath: t.socketPath } : { host: '127.0.0.1', port: t.port }) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        let parsed: unknown = raw.toString();
        try {
          parsed = raw.length ? JSON.parse(raw.toString()) : undefined;
        } catch {
          /* not JSON */
        }
        // every answer a test receives must be what the contract declares (status, fields, ErrorBody)
        const problem = extra.unchecked ? null : answerProblem({ method, url: path, status: res.statusCode ?? 0, contentType: res.headers['content-type'], body: raw });
        if (problem) reject(new Error(`the answer breaks the contract: ${problem}\n${raw.toString().slice(0, 500)}`));
        else resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed, raw });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * fetch(), with the answer checked against the contract as call() checks its answers: for clients
 * that bring their own HTTP (the openai SDK, a reader of server-sent events). A streamed answer is
 * checked by its status and content type; a JSON one by its body too (read from a clone).
 */
export async function checkedFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const res = await fetch(input, init);
  const url = new URL(input instanceof Request ? input.url : String(input));
  const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
  const contentType = res.headers.get('content-type') ?? undefined;
  const body = (contentType ?? '').startsWith('text/event-stream') ? Buffer.alloc(0) : Buffer.from(await res.clone().arrayBuffer());
  const problem = answerProblem({ method, url: url.pathname + url.search, status: res.status, contentType, body });
  if (problem) throw new Error(`the answer breaks the contract: ${problem}\n${body.toString().slice(0, 500)}`);
  return res;
}

export interface TestDaemon {
  home: string;
  config: DaemonConfig;
  daemon: RunningDaemon;
  local: Target;
  stop(): Promise<void>;
}

/** `env`: more settings (BKG_PEER_PORT, BKG_TLS_CERT, ...); `fleet`: the fleet's hosts, instead of a fleet database. */
export async function startTestDaemon(opts: { port?: number; home?: string; env?: Record<string, string>; fleet?: { directory: FleetDirectory } } = {}): Promise<TestDaemon> {
  const home = opts.home ?? mkdtempSync(join(tmpdir(), 'bkg-home-'));
  chmodSync(home, 0o700);
  const config = loadDaemonConfig({ ...opts.env, BKG_HOME: home, BKG_PORT: String(opts.port ?? 0) });
  const daemon = await startDaemon({ config, ...(opts.fleet ? { fleet: opts.fleet } : {}) });
  return {
    home,
    config,
    daemon,
    local: { socketPath: config.socketPath },
    async stop() {
      await daemon.close();
    },
  };
}

export function removeHome(home: string): void {
  rmSync(home, { recursive: true, force: true });
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
