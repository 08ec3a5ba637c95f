/**
 * WebSocket exec streams (protocol in src/api/exec-stream.ts) on the daemon's HTTP servers; a sandbox
 * another host runs is relayed there (fleet/ws-proxy.ts). The servers' other WebSocket endpoints
 * (the event stream: events/route.ts) are upgraded here too, authenticated and authorised alike.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex, Writable } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { BkgError, toErrorBody } from '../api/errors.js';
import { SIGNALS, STREAM_STDERR, STREAM_STDIN, STREAM_STDOUT } from '../api/exec-stream.js';
import { parse } from '../api/parse.js';
import { ROUTES, type RouteSpec } from '../api/routes.js';
import { ClientControlFrame, StartFrame } from '../api/schema/exec-stream.js';
import type { ExecControl } from '../runtime/io.js';
import type { Logger } from '../log.js';
import { answerSubprotocol } from './auth/authenticate.js';
import type { Principal } from './auth/api-keys.js';
import type { Action } from './auth/rights.js';
import type { Transport } from './http/context.js';
import { execSummary, type SandboxService } from './sandbox/service.js';

const PATH = /^\/api\/v1\/sandboxes\/([A-Za-z0-9_.-]{1,64})\/exec\/ws$/;

function refuse(socket: Duplex, err: unknown): void {
  const { status, body } = toErrorBody(err);
  const json = JSON.stringify(body);
  socket.end(`HTTP/1.1 ${status} Error\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`);
}

function frame(stream: number, chunk: Buffer): Buffer {
  return Buffer.concat([Buffer.from([stream]), chunk]);
}

async function session(ws: WebSocket, principal: Principal, id: string, svc: SandboxService, log: Logger): Promise<void> {
  // One handler from the first moment: frames that arrive with the start frame must not be lost.
  let started!: (frame: RawData | null) => void;
  const first = new Promise<RawData | null>((resolve) => {
    started = resolve;
  });
  let stdin: Writable | null = null;
  let haveStart = false;
  let eof = false;
  let ctl: ExecControl | null = null;
  const pending: Buffer[] = [];
  ws.on('message', (data: RawData, isBinary) => {
    const buf = Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer);
    if (!haveStart) {
      haveStart = true;
      started(isBinary ? null : buf);
      return;
    }
    if (isBinary) {
      if (buf[0] !== STREAM_STDIN) return;
      if (stdin) stdin.write(buf.subarray(1));
      else pending.push(buf.subarray(1));
      return;
    }
    let msg: ReturnType<typeof ClientControlFrame.parse>;
    try {
      msg = ClientControlFrame.parse(JSON.parse(buf.toString()));
    } catch {
      return; /* a malformed or unknown control frame changes nothing */
    }
    if (msg.type === 'stdin_eof') {
      eof = true;
      stdin?.end();
    } else if (msg.type === 'resize') ctl?.resize(msg.rows, msg.cols);
    else if (msg.signal === undefined || msg.signal === 'KILL') ctl?.stop();
    else ctl?.signal(SIGNALS[msg.signal]);
  });
  ws.on('close', () => {
    started(null);
    ctl?.stop();
  });
  const frame0 = await first;
  if (frame0 === null) throw new BkgError('INVALID_ARGUMENT', 'the first frame must be a JSON "start" message');
  let parsed: unknown;
  try {
    parsed = JSON.parse(frame0.toString());
  } catch {
    throw new BkgError('INVALID_ARGUMENT', 'the "start" frame is not valid JSON');
  }
  const start = parse(StartFrame, parsed, 'the "start" frame');
  const r = await svc.execWith(principal, id, {
    cmd: start.cmd, ...(start.env ? { env: start.env } : {}), ...(start.cwd ? { cwd: start.cwd } : {}), ...(start.timeout_ms ? { timeout_ms: start.timeout_ms } : {}),
    ...(start.tty ? { tty: { rows: start.rows ?? 24, cols: start.cols ?? 80 } } : {}),
  }, {
    stdio: ['pipe', 'pipe', 'pipe'],
    onStdin: (w) => {
      stdin = w;
      for (const c of pending.splice(0)) w.write(c);
      if (eof) w.end();
    },
    onStdout: (c) => ws.send(frame(STREAM_STDOUT, c)),
    onStderr: (c) => ws.send(frame(STREAM_STDERR, c)),
    onStarted: (c) => {
      ctl = c;
    },
  });
  log.debug({ id, exit: r.exitCode }, 'ws exec done');
  ws.send(JSON.stringify({ type: 'exit', ...execSummary(r) }));
  ws.close(1000);
}

/** Another WebSocket endpoint served on the same servers: authenticated the same way, its route's action authorised first. */
export interface UpgradeEndpoint {
  /** Its route (a path without parameters). */
  readonly spec: RouteSpec;
  /** Upgrade the connection (a throw before it refuses it with the error's status). */
  take(principal: Principal, req: IncomingMessage, socket: Duplex, head: Buffer): void;
}

/** Takes over the upgrade of a sandbox another host runs (true), after authorising it here. */
export interface ExecProxy {
  take(p: Principal, id: string, req: IncomingMessage, socket: Duplex, head: Buffer, wss: WebSocketServer): boolean;
}

/**
 * Serve exec streams on each server; authentication is the same as for REST on that transport, and
 * the action is authorised before the upgrade (the sandbox itself by the service, as for REST).
 */
export function attachExecWebSocket(
  servers: { server: Server | HttpsServer; transport: Transport; authenticate: (req: IncomingMessage, t: Transport) => Principal | Promise<Principal> }[],
  svc: SandboxService,
  authorize: (p: Principal, action: Action, route: string) => void,
  log: Logger,
  proxy?: ExecProxy,
  others: readonly UpgradeEndpoint[] = [],
): WebSocketServer {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024, handleProtocols: answerSubprotocol });
  for (const { server, transport, authenticate } of servers) {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => {});
      void (async () => {
        const pathname = new URL(req.url ?? '/', 'http://bkg').pathname;
        const other = others.find((o) => o.spec.path === pathname);
        if (other) {
          const principal = await authenticate(req, transport);
          authorize(principal, other.spec.access as Action, `${other.spec.method} ${other.spec.path}`);
          other.take(principal, req, socket, head);
          return;
        }
        const m = PATH.exec(pathname);
        if (!m?.[1]) throw new BkgError('NOT_FOUND', 'no WebSocket endpoint here');
        const principal = await authenticate(req, transport);
        authorize(principal, ROUTES.execStream.access, `${ROUTES.execStream.method} ${ROUTES.execStream.path}`);
        const id = m[1];
        if (proxy?.take(principal, id, req, socket, head, wss)) return;
        wss.handleUpgrade(req, socket, head, (ws) => {
          session(ws, principal, id, svc, log).catch((err: unknown) => {
            const { body } = toErrorBody(err);
            if (ws.readyState === ws.OPEN) {
              ws.send(JSON.stringify({ type: 'error', ...body }));
              ws.close(4000);
            }
          });
        });
      })().catch((err: unknown) => refuse(socket, err));
    });
  }
  return wss;
}
