/**
 * The daemon's HTTP server: one node:http server on the unix socket and one on loopback TCP,
 * sharing a router (with `tls`: node:https with client certificates required, on any address,
 * for the fleet's peer listener). Per request: route → authenticate and authorise the route's action (unless the
 * route is public) → handler → reply; every failure is rendered by `sendError`. Requests are logged (method, route pattern,
 * status, ms — never bodies, query strings or headers) and counted in the metrics registry.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { BkgError, toErrorBody } from '../../api/errors.js';
import type { Logger } from '../../log.js';
import type { Registry } from '../prometheus.js';
import type { Telemetry } from '../telemetry/index.js';
import { readJsonBody } from './body.js';
import { HTTP_METHODS, type RequestContext, type Transport } from './context.js';
import { listenTcp, listenUnix } from './listen.js';
import { sendError, sendReply } from './reply.js';
import type { Router } from './router.js';
import type { UiHandler } from './static-ui.js';

export interface HttpServerOptions<P, A extends string = string> {
  readonly router: Router<P, A>;
  readonly log: Logger;
  /** The caller's principal, or throw BkgError UNAUTHENTICATED. Not called for public routes. */
  readonly authenticate: (req: IncomingMessage, transport: Transport) => P | Promise<P>;
  /** May the principal take the route's action? Throw (FORBIDDEN) if not. Not called for public routes. */
  readonly authorize: (principal: P, access: A, route: string) => void;
  readonly metrics: Registry;
  readonly maxBodyBytes: number;
  /** Traces: a server span per request, its trace id in error answers (absent or off: none). */
  readonly telemetry?: Telemetry;
  /**
   * Serve TCP over TLS, requiring a client certificate signed by `ca` (mutual TLS: the fleet's peer
   * listener, on any address; its transport is 'peer'). Absent: plain HTTP, loopback only.
   */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer; readonly ca: string | Buffer };
  /** The web UI's files at /ui/ on the plain TCP listener (static-ui.ts); absent: none. */
  readonly ui?: UiHandler;
}

export interface ListenOptions {
  /** The unix socket; omitted: no unix listener. */
  readonly socketPath?: string;
  /** > 0: listen on host:port; 0: no TCP listener; 'ephemeral': any free port (tests). */
  readonly port: number | 'ephemeral';
  readonly host: string;
}

export interface BoundAddresses {
  readonly socketPath?: string;
  readonly port?: number;
}

export interface DaemonHttpServer {
  readonly unix: Server;
  readonly tcp: Server | HttpsServer;
  listen(opts: ListenOptions): Promise<BoundAddresses>;
  /** Stop listening and cut open connections. */
  close(): Promise<void>;
}

const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
}

function methodLabel(method: string): string {
  return (HTTP_METHODS as readonly string[]).includes(method) ? method : 'OTHER';
}

export function createHttpServer<P, A extends string = string>(opts: HttpServerOptions<P, A>): DaemonHttpServer {
  const requests = opts.metrics.counter('bkg_api_requests_total', 'API requests, by route pattern, method and status.', ['route', 'method', 'status']);
  const duration = opts.metrics.histogram('bkg_api_request_duration_seconds', 'API request duration in seconds, by route pattern and method.', ['route', 'method'], DURATION_BUCKETS);
  const log = opts.log.child({ component: 'http' });

  async function handle(req: IncomingMessage, res: ServerResponse, transport: Transport): Promise<void> {
    if (transport === 'tcp' && opts.ui?.(req, res)) return;
    const started = performance.now();
    const method = req.method ?? '';
    const id = randomUUID();
    const match = opts.router.match(method, req.url ?? '');
    const route = match.ok ? match.route.pattern : (match.pattern ?? 'unmatched');
    // traces off (the usual case): no span name, attributes or header read per request
    const span = opts.telemetry?.enabled ? opts.telemetry.request(`${method} ${route}`, { 'http.request.method': method, 'http.route': route, 'bkg.transport': transport, 'bkg.request_id': id }, headerOf(req, 'traceparent')) : null;
    const reqLog = log.child({ req_id: id, transport, method, route });
    res.setHeader('x-request-id', id);
    res.once('close', () => {
      const ms = Math.round((performance.now() - started) * 1000) / 1000;
      const status = res.writableFinished ? res.statusCode : 499; // 499: the client went away first
      requests.inc({ route, method: methodLabel(method), status: String(status) });
      duration.observe({ route, method: methodLabel(method) }, ms / 1000);
      if (!span) return reqLog.info({ status, ms }, 'request');
      span.run(() => reqLog.info({ status, ms }, 'request')); // the line carries the trace (pino's mixin), then the span ends
      span.end(status);
    });
    if (span) return span.run(() => serve(req, res, transport, match, route, reqLog, span.traceId));
    return serve(req, res, transport, match, route, reqLog, null);
  }

  async function serve(req: IncomingMessage, res: ServerResponse, transport: Transport, match: ReturnType<Router<P, A>['match']>, route: string, reqLog: Logger, traceId: string | null): Promise<void> {
    try {
      const matched = match.route;
      // Unauthenticated callers learn nothing about routes: authenticate before reporting 404/405.
      const principal = matched?.public ? undefined : await opts.authenticate(req, transport);
      if (!match.ok) throw match.error;
      if (principal !== undefined && match.route.access !== null) opts.authorize(principal, match.route.access, `${match.route.method} ${route}`);
      let body: Promise<unknown> | undefined;
      const ctx: RequestContext<P | undefined> = {
        req,
        params: match.params,
        query: match.query,
        principal,
        transport,
        log: reqLog,
        body: () => (body ??= readJsonBody(req, opts.maxBodyBytes)),
      };
      await sendReply(req, res, await match.route.handler(ctx));
    } catch (err) {
      sendError(req, res, err, reqLog, traceId);
    }
  }

  function onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    log.debug({ code: err.code }, 'malformed request');
    const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    requests.inc({ route: 'malformed', method: 'OTHER', status: '400' });
    const { status, body } = toErrorBody(new BkgError('INVALID_ARGUMENT', 'malformed HTTP request'));
    const payload = JSON.stringify(body);
    socket.end(
      `HTTP/1.1 ${status} Bad Request\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(payload)}\r\nConnection: close\r\n\r\n${payload}`,
    );
    setTimeout(() => socket.destroy(), 1000).unref();
  }

  function make(transport: Transport): Server {
    const server = createServer((req, res) => void handle(req, res, transport));
    server.on('clientError', onClientError);
    return server;
  }

  /** TLS 1.2+ with a client certificate the CA signed, checked by TLS itself before any request is read. */
  function makeTls(tls: NonNullable<HttpServerOptions<P, A>['tls']>): HttpsServer {
    const server = createHttpsServer(
      { cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' },
      (req, res) => void handle(req, res, 'peer'),
    );
    server.on('clientError', onClientError);
    server.on('tlsClientError', (err: NodeJS.ErrnoException) => log.debug({ code: err.code, reason: err.message }, 'TLS handshake refused'));
    return server;
  }

  const unix = make('unix');
  const tcp = opts.tls ? makeTls(opts.tls) : make('tcp');

  async function close(): Promise<void> {
    await Promise.all(
      [unix, tcp].map(
        (server) =>
          new Promise<void>((resolve) => {
            if (!server.listening) return resolve();
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      ),
    );
  }

  return {
    unix,
    tcp,
    close,
    async listen(lo: ListenOptions): Promise<BoundAddresses> {
      let port: number | undefined;
      if (lo.socketPath !== undefined) await listenUnix(unix, lo.socketPath);
      try {
        if (lo.port !== 0) port = await listenTcp(tcp, lo.host, lo.port === 'ephemeral' ? 0 : lo.port, { anyAddress: opts.tls !== undefined });
      } catch (err) {
        await close();
        throw err;
      }
      log.info({ socket: lo.socketPath, host: lo.host, port }, 'listening');
      return { ...(lo.socketPath !== undefined ? { socketPath: lo.socketPath } : {}), ...(port !== undefined ? { port } : {}) };
    },
  };
}
