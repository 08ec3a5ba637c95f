/**
 * A streamed exec in a sandbox another host runs, for callers of the sandbox service that hold
 * I/O callbacks (MCP tools): the exec WebSocket of that host's peer listener, its frames turned
 * back into the RunIO calls and ExecResult of a local exec (stdin, output as it comes, signals,
 * resize; a stop ends the command).
 */
import type { IncomingMessage } from 'node:http';
import { Writable } from 'node:stream';
import type WebSocket from 'ws';
import { BkgError, type ErrorCode, ERRORS } from '../../api/errors.js';
import { SIGNALS, STREAM_STDERR, STREAM_STDIN, STREAM_STDOUT, type SignalName } from '../../api/exec-stream.js';
import { errorFromResponse } from '../../client/errors.js';
import type { ExecResult, RunIO } from '../../runtime/engine.js';
import type { Principal } from '../auth/api-keys.js';
import type { ExecWithRequest } from '../sandbox/exec.js';
import type { ExitFrame } from '../../api/schema/exec-stream.js';
import { hostUnavailable, type Forwarder, type PeerTarget } from './forward.js';

/** Stdin frames stay well under the daemon's 1 MiB frame cap. */
const STDIN_CHUNK = 256 * 1024;

function signalName(n: number): SignalName {
  return (Object.keys(SIGNALS) as SignalName[]).find((k) => SIGNALS[k] === n) ?? 'KILL';
}

function frame(stream: number, chunk: Buffer): Buffer {
  return Buffer.concat([Buffer.from([stream]), chunk]);
}

/** The error a peer's error frame or refused upgrade carries, as a BkgError. */
export function errorOfFrame(e: { code?: unknown; message?: unknown; hint?: unknown; details?: unknown }): BkgError {
  const code = typeof e.code === 'string' && Object.hasOwn(ERRORS, e.code) ? (e.code as ErrorCode) : 'INTERNAL';
  const details = typeof e.details === 'object' && e.details !== null ? (e.details as Record<string, unknown>) : undefined;
  return new BkgError(code, typeof e.message === 'string' ? e.message : 'the exec failed on the other host', { ...(typeof e.hint === 'string' ? { hint: e.hint } : {}), ...(details ? { details } : {}) });
}

/** Read a refused upgrade's answer into the BkgError it reports. */
export function refusal(res: IncomingMessage): Promise<BkgError> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('error', () => resolve(errorFromResponse(res.statusCode ?? 0, Buffer.concat(chunks))));
    res.on('end', () => resolve(errorFromResponse(res.statusCode ?? 0, Buffer.concat(chunks))));
  });
}

export async function execRemote(f: Forwarder, hostId: string, p: Principal, sandboxId: string, req: ExecWithRequest, io: RunIO): Promise<ExecResult> {
  const { ws, target } = await f.openStream(hostId, p, sandboxId);
  return stream(ws, target, sandboxId, req, io);
}

function stream(ws: WebSocket, t: PeerTarget, sandboxId: string, req: ExecWithRequest, io: RunIO): Promise<ExecResult> {
  return new Promise<ExecResult>((resolve, reject) => {
    let exit: ExitFrame | null = null;
    let failure: BkgError | null = null;
    const send = (data: string | Buffer): void => {
      if (ws.readyState === ws.OPEN) ws.send(data);
    };
    const control = (msg: Record<string, unknown>): void => send(JSON.stringify(msg));
    ws.on('unexpected-response', (_req, res) => {
      void refusal(res).then((err) => {
        failure ??= err;
        ws.terminate();
      });
    });
    ws.on('error', (err) => {
      failure ??= hostUnavailable(t.host.id, t.host.name, `does not answer at ${t.origin}: ${(err as NodeJS.ErrnoException).code ?? err.message}`, err);
    });
    ws.on('open', () => {
      control({
        type: 'start', cmd: req.cmd, ...(req.env ? { env: req.env } : {}), ...(req.cwd ? { cwd: req.cwd } : {}), ...(req.timeout_ms ? { timeout_ms: req.timeout_ms } : {}),
        ...(req.tty ? { tty: true, rows: req.tty.rows, cols: req.tty.cols } : {}),
      });
      const eof = (): void => control({ type: 'stdin_eof' });
      if (io.stdio[0] !== 'pipe') eof();
      else if (io.input !== undefined) {
        const input = Buffer.from(io.input);
        for (let i = 0; i < input.length; i += STDIN_CHUNK) send(frame(STREAM_STDIN, input.subarray(i, i + STDIN_CHUNK)));
        eof();
      } else if (io.onStdin) {
        const stdin = new Writable({
          write(chunk: Buffer, _enc, cb) {
            for (let i = 0; i < chunk.length; i += STDIN_CHUNK) send(frame(STREAM_STDIN, chunk.subarray(i, i + STDIN_CHUNK)));
            cb();
          },
          final(cb) {
            eof();
            cb();
          },
        });
        io.onStdin(stdin);
      } else eof();
      io.onStarted?.({
        stop: () => control({ type: 'signal' }),
        signal: (n) => control({ type: 'signal', signal: signalName(n) }),
        resize: (rows, cols) => control({ type: 'resize', rows, cols }),
      });
    });
    ws.on('message', (data: Buffer, isBinary) => {
      if (isBinary) {
        if (data[0] === STREAM_STDOUT) io.onStdout?.(data.subarray(1));
        else if (data[0] === STREAM_STDERR) io.onStderr?.(data.subarray(1));
        return;
      }
      let msg: { type?: unknown; error?: Record<string, unknown> } & Partial<ExitFrame>;
      try {
        msg = JSON.parse(data.toString()) as typeof msg;
      } catch {
        return;
      }
      if (msg.type === 'exit') exit = msg as ExitFrame;
      else if (msg.type === 'error' && msg.error) failure ??= errorOfFrame(msg.error);
    });
    ws.on('close', () => {
      if (exit) {
        resolve({
          id: sandboxId, exitCode: exit.exit_code, signal: exit.signal, timedOut: exit.timed_out, oomKilled: exit.oom_killed, durationMs: exit.duration_ms,
          peakMemoryBytes: null, limitsHit: exit.limits_hit ?? [], ...(exit.exec_error ? { execError: exit.exec_error } : {}),
          ...(exit.network_denied?.length ? { networkDenied: exit.network_denied.map(({ code: _code, ...d }) => d) } : {}),
        });
      } else reject(failure ?? hostUnavailable(t.host.id, t.host.name, 'went away before the command ended'));
    });
  });
}
