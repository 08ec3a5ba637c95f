/** A real daemon HTTP server on a temp unix socket and an ephemeral loopback port, plus a raw client. */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { BkgError } from '../../../src/api/errors.js';
import type { Transport } from '../../../src/daemon/http/context.js';
import { textReply } from '../../../src/daemon/http/reply.js';
import { Router } from '../../../src/daemon/http/router.js';
import { createHttpServer, type DaemonHttpServer } from '../../../src/daemon/http/server.js';
import { parse } from '../../../src/api/parse.js';
import { z } from '../../../src/api/schema/common.js';
import { Registry } from '../../../src/daemon/prometheus.js';

export const MAX_BODY = 64 * 1024;

export const CreateSandbox = z.object({
  name: z.string().max(64),
  runtime: z.enum(['shell', 'python', 'node']).optional(),
  limits: z.object({ memory_mb: z.int().min(16).max(65536).optional(), cpus: z.number().min(0.01).max(64).optional() }).strict().optional(),
  argv: z.array(z.string()).max(16).optional(),
  env: z.record(z.string(), z.string()).optional(),
  network: z.boolean().optional(),
}).strict();

export interface Principal {
  readonly kind: 'local' | 'token';
}

/** Routes with access 'local' are for the unix socket's caller only. */
function authorize(p: Principal, access: string): void {
  if (access === 'local' && p.kind !== 'local') throw new BkgError('FORBIDDEN', 'local callers only');
}

function authenticate(req: IncomingMessage, transport: Transport): Principal {
  if (transport === 'unix') return { kind: 'local' };
  if (req.headers.authorization === 'Bearer good') return { kind: 'token' };
  throw new BkgError('UNAUTHENTICATED', 'a valid API key is required');
}

export interface Harness {
  readonly dir: string;
  readonly socketPath: string;
  readonly port: number;
  readonly server: DaemonHttpServer;
  readonly registry: Registry;
  readonly logs: string[];
  stop(): Promise<void>;
}

export async function startHarness(): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'bkg-http-'));
  const file = join(dir, 'download.txt');
  await writeFile(file, 'file contents\n');
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  const log = pino({ level: 'debug' }, sink);
  const registry = new Registry();
  const router = new Router<Principal>()
    .addPublic('GET', '/healthz', async () => ({ status: 200, body: { ok: true } }))
    .addPublic('GET', '/metrics', async () => textReply(registry.render(), Registry.contentType))
    .add('GET', '/api/v1/sandboxes/stats', 'any', async () => ({ status: 200, body: { stats: true } }))
    .add('GET', '/api/v1/sandboxes/:id', 'any', async (ctx) => ({ status: 200, body: { id: ctx.params.id, principal: ctx.principal, transport: ctx.transport } }))
    .add('DELETE', '/api/v1/sandboxes/:id', 'any', async () => ({ status: 204 }))
    .add('POST', '/api/v1/sandboxes', 'any', async (ctx) => ({ status: 201, body: parse(CreateSandbox, await ctx.body()) }))
    .add('POST', '/api/v1/sandboxes/:id/exec', 'any', async (ctx) => ({ status: 200, body: { id: ctx.params.id, body: (await ctx.body()) ?? null } }))
    .add('GET', '/api/v1/echo-query', 'any', async (ctx) => ({ status: 200, body: Object.fromEntries(ctx.query) }))
    .add('GET', '/api/v1/files/download', 'any', async () => ({ status: 200, headers: { 'content-type': 'text/plain' }, stream: createReadStream(file) }))
    .add('GET', '/api/v1/files/missing', 'any', async () => ({ status: 200, stream: createReadStream(join(dir, 'nope')) }))
    .add('GET', '/api/v1/boom', 'any', async () => {
      throw new Error('secret: db password hunter2');
    })
    .add('GET', '/api/v1/limited', 'any', async () => {
      throw new BkgError('RATE_LIMITED', 'too many requests', { details: { retry_after_s: 7 } });
    })
    .add('POST', '/api/v1/local-only', 'local', async () => ({ status: 200, body: { ran: true } }));
  const server = createHttpServer({ router, log, authenticate, authorize, metrics: registry, maxBodyBytes: MAX_BODY });
  const socketPath = join(dir, 'bkg.sock');
  const bound = await server.listen({ socketPath, port: 'ephemeral', host: '127.0.0.1' });
  return {
    dir,
    socketPath,
    port: bound.port ?? 0,
    server,
    registry,
    logs,
    async stop() {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface Response {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
  /** The parsed body when it is JSON. */
  readonly json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface RequestOptions {
  readonly method?: string;
  readonly path: string;
  readonly headers?: Record<string, string>;
  /** An object is sent as JSON (with Content-Type: application/json unless headers say otherwise). */
  readonly body?: string | Buffer | object;
  /** Send the body chunked, without Content-Length. */
  readonly chunked?: boolean;
}

/** One request on a fresh connection; resolves with the response even if the server stopped reading the body. */
export function request(h: Harness, transport: Transport, o: RequestOptions): Promise<Response> {
  const headers: Record<string, string> = { ...(o.headers ?? {}) };
  let body: Buffer | undefined;
  if (o.body !== undefined) {
    body = typeof o.body === 'string' || Buffer.isBuffer(o.body) ? Buffer.from(o.body) : Buffer.from(JSON.stringify(o.body));
    if (typeof o.body === 'object' && !Buffer.isBuffer(o.body) && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) {
      headers['content-type'] = 'application/json';
    }
    if (!o.chunked) headers['content-length'] = String(body.length);
  }
  const target = transport === 'unix' ? { socketPath: h.socketPath } : { host: '127.0.0.1', port: h.port };
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = httpRequest({ ...target, agent: false, method: o.method ?? 'GET', path: o.path, headers }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    if (body) {
      // Write in pieces so a server that stops reading early is exercised.
      for (let i = 0; i < body.length; i += 16 * 1024) req.write(body.subarray(i, i + 16 * 1024));
    }
    req.end();
  });
}

/** TCP with the good bearer token. */
export function authed(o: RequestOptions): RequestOptions {
  return { ...o, headers: { authorization: 'Bearer good', ...(o.headers ?? {}) } };
}
