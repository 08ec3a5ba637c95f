/**
 * Streamed exec over the daemon's WebSocket (protocol: src/api/exec-stream.ts): stdin from a
 * readable, stdout/stderr to writables as they arrive (no size cap), signals to the command,
 * optional terminal with resize. Used by `bkg exec`, `bkg run NAME -- CMD` and `bkg shell`.
 */
import { createRequire } from 'node:module';
import type WebSocketClass from 'ws';
import type { Readable, Writable } from 'node:stream';
import { BkgError, ERRORS, type ErrorCode } from '../api/errors.js';
import type { LimitHit } from '../api/sandboxes.js';
import { STREAM_STDERR, STREAM_STDIN, STREAM_STDOUT, type SignalName } from '../api/exec-stream.js';
import type { Endpoint } from './endpoint.js';
import type { DaemonConnection } from './connection.js';
import { WsClient } from './ws-client.js';

export interface StreamExecRequest {
  cmd: string[];
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
  tty?: { rows: number; cols: number };
}

export interface StreamExecIO {
  stdin: Readable | null;
  stdout: Writable;
  stderr: Writable;
  /** Called with a function to report terminal size changes (tty only). */
  onResize?: (resize: (rows: number, cols: number) => void) => void;
}

export interface StreamExit {
  exit_code: number | null;
  signal: number | null;
  timed_out: boolean;
  oom_killed: boolean;
  duration_ms: number;
  limits_hit?: LimitHit[];
  exec_error?: string;
}

const streamPath = (id: string): string => `/api/v1/sandboxes/${encodeURIComponent(id)}/exec/ws`;

export function streamUrl(ep: Endpoint, id: string): string {
  if (ep.socketPath) return `ws+unix://${ep.socketPath}:${streamPath(id)}`;
  return `${ep.origin.replace(/^http/, 'ws')}${streamPath(id)}`;
}

/** Over TLS: the `ws` package (required, not imported: loading a CommonJS package through ESM costs the CLI ~20 ms of export scanning). */
function wssClient(ep: Endpoint, id: string, headers: Record<string, string>): WebSocketClass {
  const WebSocket = createRequire(import.meta.url)('ws') as typeof WebSocketClass;
  return new WebSocket(streamUrl(ep, id), { headers });
}

export interface ExecStream {
  /**
   * Settles once the daemon answered the stream's request (open, or refused with an error that
   * `done` carries); rejects with the connection's own error (its `code`, e.g. ENOENT) when nothing
   * answered: the caller may start the daemon and open another stream.
   */
  opened: Promise<void>;
  /** The command's end; rejects with the daemon's error (or DAEMON_UNAVAILABLE when the stream broke). */
  done: Promise<StreamExit>;
  /** Signal the command and its process group; without a name (or KILL), end it now. */
  signal(name?: SignalName): void;
}

async function openExecStream(ep: Endpoint, id: string, req: StreamExecRequest, io: StreamExecIO): Promise<ExecStream> {
  const headers: Record<string, string> = ep.apiKey ? { authorization: `Bearer ${ep.apiKey}` } : {};
  const ws = ep.origin.startsWith('https:') ? wssClient(ep, id, headers) : new WsClient({ ...(ep.socketPath ? { socketPath: ep.socketPath } : {}), origin: ep.origin, path: streamPath(id), headers });
  const signal = (name?: SignalName): void => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: 'signal', ...(name ? { signal: name } : {}) }));
  };
  let answered = false;
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => ((answered = true), resolve()));
    ws.once('unexpected-response', () => ((answered = true), resolve()));
    ws.once('error', (err: Error) => (answered ? resolve() : reject(err)));
    ws.once('close', () => (answered ? resolve() : reject(new Error('the connection closed before the daemon answered'))));
  });
  opened.catch(() => {}); // a caller that does not wait for it learns the same from `done`
  let reading = false; // stdin is ours to pause when the stream ends
  const done = new Promise<StreamExit>((resolve, reject) => {
    let exit: StreamExit | null = null;
    let failure: BkgError | null = null;
    ws.on('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString()) as { error: { code: string; message: string; hint?: string } };
          const code = (body.error.code in ERRORS ? body.error.code : 'INTERNAL') as ErrorCode;
          reject(new BkgError(code, body.error.message, body.error.hint ? { hint: body.error.hint } : {}));
        } catch {
          reject(new BkgError('INTERNAL', `the daemon refused the exec stream (HTTP ${res.statusCode ?? '?'})`));
        }
      });
      res.on('error', (err: Error) => reject(new BkgError('DAEMON_UNAVAILABLE', `the daemon refused the exec stream (HTTP ${res.statusCode ?? '?'}), and its answer broke off: ${err.message}`)));
    });
    ws.on('error', (err) => reject(new BkgError('DAEMON_UNAVAILABLE', `exec stream failed: ${err.message}`)));
    ws.on('open', () => {
      ws.send(JSON.stringify({ type: 'start', cmd: req.cmd, ...(req.env ? { env: req.env } : {}), ...(req.cwd ? { cwd: req.cwd } : {}), ...(req.timeoutMs ? { timeout_ms: req.timeoutMs } : {}), ...(req.tty ? { tty: true, rows: req.tty.rows, cols: req.tty.cols } : {}) }));
      if (io.stdin) {
        reading = true;
        io.stdin.on('data', (c: Buffer | string) => ws.send(Buffer.concat([Buffer.from([STREAM_STDIN]), Buffer.from(c)])));
        io.stdin.on('end', () => ws.readyState === ws.OPEN && ws.send(JSON.stringify({ type: 'stdin_eof' })));
        io.stdin.resume(); // flowing even if an earlier stream paused it
      } else ws.send(JSON.stringify({ type: 'stdin_eof' }));
      io.onResize?.((rows, cols) => ws.readyState === ws.OPEN && ws.send(JSON.stringify({ type: 'resize', rows, cols })));
    });
    ws.on('message', (data: Buffer, isBinary) => {
      if (isBinary) {
        if (data[0] === STREAM_STDOUT) io.stdout.write(data.subarray(1));
        else if (data[0] === STREAM_STDERR) io.stderr.write(data.subarray(1));
        return;
      }
      const msg = JSON.parse(data.toString()) as { type: string; error?: { code: string; message: string; hint?: string } } & StreamExit;
      if (msg.type === 'exit') {
        const { type: _t, ...rest } = msg;
        exit = rest;
      } else if (msg.type === 'error' && msg.error) {
        const code = (msg.error.code in ERRORS ? msg.error.code : 'INTERNAL') as ErrorCode;
        failure = new BkgError(code, msg.error.message, msg.error.hint ? { hint: msg.error.hint } : {});
      }
    });
    ws.on('close', () => {
      if (reading) io.stdin?.pause();
      if (exit) resolve(exit);
      else reject(failure ?? new BkgError('DAEMON_UNAVAILABLE', 'the exec stream closed without an exit status'));
    });
  });
  done.catch(() => {}); // a stream given up after a failed open is never awaited
  return { opened, done, signal };
}

/**
 * The stream opened at once, without a health probe first (one round trip less); when nothing
 * listens on the host's own socket, the client starts the daemon, once, and it is opened again.
 */
export function openExecStreamStarting(client: DaemonConnection, id: string, req: StreamExecRequest, io: StreamExecIO): Promise<ExecStream> {
  return client.withDaemon(async () => {
    const stream = await openExecStream(client.endpoint, id, req, io);
    await stream.opened;
    return stream;
  });
}
