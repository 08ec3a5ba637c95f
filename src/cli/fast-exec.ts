/**
 * The fast path of `bkg exec NAME [-e K=V] [--cwd DIR] [--timeout T] [--json] -- CMD...`: parsed
 * here and sent with node:http, without loading oclif or undici, because exec is the command
 * scripts and agents run in loops. Anything else (-i, -t, --help, a daemon that is not running)
 * returns null and takes the full oclif path.
 */
import { request } from 'node:http';
import { BkgError, ERRORS, toErrorBody, type ErrorCode } from '../api/errors.js';
import type { ExecRequest, ExecResponse } from '../api/sandboxes.js';
import { parseDuration } from '../api/units.js';
import { resolveEndpoint, type Endpoint } from '../client/endpoint.js';
import { parseEnv } from './env-flags.js';
import { renderExec } from './exec-output.js';

interface Parsed {
  name: string;
  json: boolean;
  req: ExecRequest;
  timeoutMs?: number;
}

/** null: not the simple form, let oclif handle it. */
export function parseFastExec(args: string[]): Parsed | null {
  const dashes = args.indexOf('--');
  if (dashes < 1 || dashes === args.length - 1) return null;
  const env: string[] = [];
  let name: string | undefined;
  let json = false;
  let cwd: string | undefined;
  let timeout: string | undefined;
  for (let i = 0; i < dashes; i++) {
    const a = args[i] as string;
    const value = (): string | null => (i + 1 < dashes ? (args[++i] as string) : null);
    if (a === '--json') json = true;
    else if (a === '-e' || a === '--env') {
      const v = value();
      if (v === null) return null;
      env.push(v);
    } else if (a.startsWith('--env=')) env.push(a.slice(6));
    else if (a === '--cwd' || a === '--timeout') {
      const v = value();
      if (v === null) return null;
      if (a === '--cwd') cwd = v;
      else timeout = v;
    } else if (!a.startsWith('-') && name === undefined) name = a;
    else return null;
  }
  if (name === undefined) return null;
  if (cwd !== undefined && !cwd.startsWith('/')) return null; // oclif path explains the error
  const timeoutMs = timeout === undefined ? undefined : parseDuration(timeout, '--timeout');
  const cmd = args.slice(dashes + 1);
  const req: ExecRequest = { cmd, ...(env.length ? { env: parseEnv(env) } : {}), ...(cwd ? { cwd } : {}), ...(timeoutMs ? { timeout_ms: timeoutMs } : {}) };
  return { name, json, req, ...(timeoutMs ? { timeoutMs } : {}) };
}

function post(ep: Endpoint, path: string, body: unknown): Promise<{ status: number; body: Buffer } | null> {
  return new Promise((resolve, reject) => {
    const data = Buffer.from(JSON.stringify(body));
    const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': data.length };
    if (ep.apiKey) headers.authorization = `Bearer ${ep.apiKey}`;
    const url = new URL(ep.origin);
    const req = request({ method: 'POST', path, headers, ...(ep.socketPath ? { socketPath: ep.socketPath } : { host: url.hostname, port: url.port }) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => (ep.home !== undefined && (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') ? resolve(null) : reject(err)));
    req.end(data);
  });
}

function fail(err: unknown, json: boolean): number {
  const { body } = toErrorBody(err);
  if (json) process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
  else process.stderr.write(`bkg: ${body.error.message}\n  hint: ${body.error.hint}\n`);
  return ERRORS[body.error.code].exitCode;
}

/** The exit code, or null to fall back to the full CLI. */
export async function fastExec(args: string[]): Promise<number | null> {
  let parsed: Parsed | null;
  try {
    parsed = parseFastExec(args);
  } catch (err) {
    return fail(err, args.includes('--json'));
  }
  if (!parsed) return null;
  const ep = resolveEndpoint();
  const res = await post(ep, `/api/v1/sandboxes/${encodeURIComponent(parsed.name)}/exec`, parsed.req);
  if (res === null) return null; // no daemon yet: the full path starts it
  const body = JSON.parse(res.body.toString() || 'null') as ExecResponse | { error: { code: string; message: string; hint?: string } };
  if (res.status !== 200) {
    const e = (body as { error: { code: string; message: string; hint?: string } }).error;
    const code = (e.code in ERRORS ? e.code : 'INTERNAL') as ErrorCode;
    return fail(new BkgError(code, e.message, e.hint ? { hint: e.hint } : {}), parsed.json);
  }
  return renderExec(body as ExecResponse, { json: parsed.json, cmd: parsed.req.cmd, ...(parsed.timeoutMs ? { timeoutMs: parsed.timeoutMs } : {}) });
}
