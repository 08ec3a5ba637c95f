/**
 * `bkg mcp`: a transparent bridge between an editor speaking MCP over stdio and the daemon's MCP
 * endpoint (Streamable HTTP at /mcp on $BKG_HOME/bkg.sock or BKG_API_URL). Every JSON-RPC message is
 * forwarded unchanged both ways, so requests, results, progress notifications, cancellations and
 * server-initiated requests all pass through; the bridge itself only
 *  - tells the HTTP transport the negotiated protocol version (from the initialize result),
 *  - answers a request it could not deliver with a JSON-RPC error naming the bkg error code,
 *  - opens a new daemon session, replaying the editor's initialize, when the daemon restarted
 *    (unknown session, or nothing listening any more) and then retries the message once.
 * stdout carries only protocol: everything else goes to `log` (stderr).
 */
import type { Readable, Writable } from 'node:stream';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  ErrorCode as RpcErrorCode, isInitializeRequest, isJSONRPCErrorResponse, isJSONRPCNotification, isJSONRPCRequest, isJSONRPCResultResponse,
  type InitializeRequest, type JSONRPCMessage, type JSONRPCRequest, type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { Agent } from 'node:http';
import type { Endpoint } from '../../client/endpoint.js';
import { NOT_LISTENING } from '../../client/errors.js';
import { fetchOver } from '../../client/http.js';
import { causeCode, describeUpstreamError, MCP_PATH } from './upstream-errors.js';

/** After stdin ends, how long requests already forwarded may take to be answered before the bridge closes. */
export const DRAIN_MS = 5_000;
/** How long closing waits for the daemon to end the session (DELETE /mcp). */
const TERMINATE_MS = 1_000;
/** How long re-opening a session waits for the daemon's initialize result. */
const REINIT_MS = 15_000;

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface BridgeOptions {
  endpoint: Endpoint;
  /** The editor's side; default process.stdin / process.stdout. */
  stdin?: Readable;
  stdout?: Writable;
  /** Before opening a new session because the daemon went away (the CLI starts the host's daemon again). */
  beforeReconnect?: () => Promise<void>;
  /** Diagnostics (never stdout). */
  log?: (level: LogLevel, message: string) => void;
  /** After stdin ends, the longest wait for answers to requests in flight; default DRAIN_MS. */
  drainMs?: number;
}

/** The daemon's MCP URL for an endpoint: its origin (http://localhost for a unix socket) plus /mcp. */
export function mcpUrl(endpoint: Endpoint): URL {
  return new URL(MCP_PATH, endpoint.origin);
}

/** A fetch for the SDK over bkg's one HTTP transport: through the unix socket when there is one; no timeouts. */
export function daemonFetch(endpoint: Endpoint): { fetch: FetchLike; agent: Agent } {
  const agent = new Agent({ keepAlive: true });
  return { fetch: fetchOver(endpoint, agent) as FetchLike, agent };
}

/** Whether a failed send means the daemon lost (or never had) our session, so that a new one may succeed. */
function sessionLost(err: unknown, hadSession: boolean): boolean {
  if (err instanceof StreamableHTTPError) {
    // The spec answers an unknown session with 404; some servers answer 400 "No valid session ID".
    return hadSession && (err.code === 404 || (err.code === 400 && /session/i.test(err.message)));
  }
  return NOT_LISTENING.has(causeCode(err) ?? '');
}

type InitRequest = JSONRPCRequest & InitializeRequest;

interface Upstream {
  transport: StreamableHTTPClientTransport;
  /** Requests the bridge itself sent on it (re-initialize), by id. */
  own: Map<RequestId, (m: JSONRPCMessage) => void>;
}

export class McpBridge {
  private readonly opts: BridgeOptions;
  private readonly url: URL;
  private readonly http: { fetch: FetchLike; agent: Agent };
  private readonly stdin: Readable;
  private readonly downstream: StdioServerTransport;
  private upstream: Upstream;
  /** The editor's initialize request (replayed for a new session) and whether its session completed it. */
  private initialize: InitRequest | undefined;
  private initializedSent = false;
  /** Ids of the editor's initialize requests awaiting their result (the result sets the protocol version). */
  private readonly pendingInit = new Set<RequestId>();
  /** The editor's requests not yet answered, with the upstream they were sent on (null: not sent yet). */
  private readonly inFlight = new Map<RequestId, Upstream | null>();
  /** Messages wait for this: an initialize or a new session in progress. */
  private ready: Promise<void> = Promise.resolve();
  private reconnecting: Promise<void> | undefined;
  private reinitCount = 0;
  private closing = false;
  private draining = false;
  private onDrained: (() => void) | undefined;
  private resolveClosed!: () => void;
  /** Resolves once both sides are closed. */
  readonly closed: Promise<void>;

  constructor(opts: BridgeOptions) {
    this.opts = opts;
    this.url = mcpUrl(opts.endpoint);
    this.http = daemonFetch(opts.endpoint);
    this.stdin = opts.stdin ?? process.stdin;
    this.downstream = new StdioServerTransport(this.stdin, opts.stdout ?? process.stdout);
    this.upstream = this.newUpstream();
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
  }

  private log(level: LogLevel, message: string): void {
    this.opts.log?.(level, message);
  }

  async start(): Promise<void> {
    this.downstream.onmessage = (m) => this.fromEditor(m);
    this.downstream.onerror = (err) => this.log('warn', `stdin: ${err.message}`);
    this.downstream.onclose = () => void this.close();
    this.stdin.once('end', () => void this.drainThenClose());
    this.stdin.once('close', () => void this.drainThenClose());
    (this.opts.stdout ?? process.stdout).on('error', (err) => {
      this.log('warn', `stdout: ${err.message}`);
      void this.close();
    });
    await this.upstream.transport.start();
    await this.downstream.start();
  }

  private newUpstream(): Upstream {
    const headers: Record<string, string> = this.opts.endpoint.apiKey ? { authorization: `Bearer ${this.opts.endpoint.apiKey}` } : {};
    const transport = new StreamableHTTPClientTransport(this.url, { fetch: this.http.fetch, requestInit: { headers } });
    const up: Upstream = { transport, own: new Map() };
    transport.onmessage = (m) => this.fromDaemon(up, m);
    transport.onerror = (err) => {
      if (!this.closing && this.upstream === up) this.log('debug', `daemon connection: ${err.message}`);
    };
    transport.onclose = () => {
      if (this.upstream === up) void this.close();
    };
    return up;
  }

  // --- editor → daemon ---

  private fromEditor(message: JSONRPCMessage): void {
    if (this.closing) return;
    if (isJSONRPCRequest(message)) this.inFlight.set(message.id, null);
    if (isJSONRPCNotification(message) && message.method === 'notifications/cancelled') {
      const id = (message.params as { requestId?: unknown } | undefined)?.requestId;
      if (typeof id === 'string' || typeof id === 'number') this.settle(id);
    }
    if (isInitializeRequest(message)) {
      // A new initialize always gets a new daemon session; later messages wait until it has its id.
      const init = message as InitRequest;
      const sent = this.ready.then(() => this.beginSession(init));
      this.ready = sent.then(() => undefined, () => undefined);
      void sent.catch((err: unknown) => this.fail(message, err));
      return;
    }
    if (isJSONRPCNotification(message) && message.method === 'notifications/initialized') {
      // Requests after it reach the daemon after it: wait until the daemon accepted it.
      const sent = this.ready.then(() => {
        this.initializedSent = true;
        return this.deliver(message, false);
      });
      this.ready = sent.then(() => undefined, () => undefined);
      return;
    }
    void this.ready.then(() => this.deliver(message, false));
  }

  private async beginSession(init: InitRequest): Promise<void> {
    if (this.upstream.transport.sessionId !== undefined) {
      const old = this.upstream;
      this.upstream = this.newUpstream();
      await this.retire(old, true);
      await this.upstream.transport.start();
    }
    this.initialize = init;
    this.initializedSent = false;
    this.pendingInit.add(init.id);
    this.sentOn(init, this.upstream);
    try {
      await this.upstream.transport.send(init);
    } catch (err) {
      // Nothing listens (the daemon stopped since the bridge started): start it again, once.
      if (this.closing || !sessionLost(err, false) || this.opts.beforeReconnect === undefined) throw err;
      this.log('warn', `the daemon is not answering (${err instanceof Error ? err.message : String(err)}); starting it again`);
      await this.opts.beforeReconnect();
      await this.upstream.transport.send(init);
    }
  }

  private async deliver(message: JSONRPCMessage, retried: boolean): Promise<void> {
    if (this.closing) return;
    const up = this.upstream;
    const hadSession = up.transport.sessionId !== undefined;
    this.sentOn(message, up);
    try {
      await up.transport.send(message);
    } catch (err) {
      if (this.closing) return;
      if (!retried && this.initialize !== undefined && sessionLost(err, hadSession)) {
        this.sentOn(message, null);
        try {
          await this.reconnect(up, err);
        } catch (reErr) {
          this.fail(message, reErr);
          return;
        }
        await this.deliver(message, true);
        return;
      }
      this.fail(message, err);
    }
  }

  private sentOn(message: JSONRPCMessage, up: Upstream | null): void {
    if (isJSONRPCRequest(message) && this.inFlight.has(message.id)) this.inFlight.set(message.id, up);
  }

  /** A request the daemon will never answer gets an error answer; other messages are only logged. */
  private fail(message: JSONRPCMessage, err: unknown): void {
    if (this.closing) return;
    const error = describeUpstreamError(err, this.opts.endpoint, { initialize: isInitializeRequest(message) });
    if (isJSONRPCRequest(message)) {
      this.pendingInit.delete(message.id);
      this.settle(message.id);
      this.log('warn', `${message.method} failed: ${error.message}`);
      this.toEditor({ jsonrpc: '2.0', id: message.id, error });
    } else {
      this.log('warn', `could not forward ${'method' in message ? message.method : 'a response'} to the daemon: ${error.message}`);
    }
  }

  // --- a new daemon session after the daemon restarted ---

  private reconnect(stale: Upstream, why: unknown): Promise<void> {
    if (this.upstream !== stale) return Promise.resolve();
    if (this.reconnecting) return this.reconnecting;
    this.log('warn', `the daemon's MCP session ended (${why instanceof Error ? why.message : String(why)}); opening a new one`);
    const p = this.reopen(stale).finally(() => {
      this.reconnecting = undefined;
    });
    this.reconnecting = p;
    this.ready = p.then(() => undefined, () => undefined);
    return p;
  }

  private async reopen(stale: Upstream): Promise<void> {
    const init = this.initialize;
    if (init === undefined) throw new Error('no session to re-open');
    await this.opts.beforeReconnect?.();
    const up = this.newUpstream();
    await up.transport.start();
    const id = `bkg-mcp-reinit-${++this.reinitCount}`;
    let timer: NodeJS.Timeout | undefined;
    const answer = new Promise<JSONRPCMessage>((resolve, reject) => {
      up.own.set(id, resolve);
      timer = setTimeout(() => reject(new Error(`the daemon did not answer initialize within ${REINIT_MS / 1000} s`)), REINIT_MS);
    });
    answer.catch(() => undefined);
    try {
      await up.transport.send({ ...init, id });
      const res = await answer;
      if (isJSONRPCErrorResponse(res)) throw new Error(`the daemon refused initialize: ${res.error.message}`);
      const version = isJSONRPCResultResponse(res) ? (res.result as { protocolVersion?: unknown }).protocolVersion : undefined;
      if (typeof version === 'string') up.transport.setProtocolVersion(version);
      if (this.initializedSent) await up.transport.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    } catch (err) {
      await this.retire(up, false);
      throw err;
    } finally {
      clearTimeout(timer);
    }
    this.upstream = up;
    await this.retire(stale, false);
    // Requests that ran in the old session will never be answered there.
    for (const [reqId, on] of this.inFlight) {
      if (on !== stale) continue;
      this.settle(reqId);
      const hint = 'Check its effect (sandbox_list, file_list, ...) before retrying it.';
      this.toEditor({ jsonrpc: '2.0', id: reqId, error: { code: RpcErrorCode.InternalError, message: `DAEMON_UNAVAILABLE: the bkg daemon at ${this.opts.endpoint.url} restarted while this request ran; it may or may not have taken effect`, data: { code: 'DAEMON_UNAVAILABLE', hint } } });
    }
    this.log('info', 'opened a new MCP session with the daemon');
  }

  /** Close a transport that is no longer the bridge's upstream (ending its session on the daemon when asked). */
  private async retire(up: Upstream, terminate: boolean): Promise<void> {
    if (terminate && up.transport.sessionId !== undefined) {
      await Promise.race([up.transport.terminateSession().catch(() => undefined), new Promise((r) => setTimeout(r, TERMINATE_MS).unref())]);
    }
    await up.transport.close().catch(() => undefined);
  }

  // --- daemon → editor ---

  private fromDaemon(up: Upstream, message: JSONRPCMessage): void {
    const isAnswer = isJSONRPCResultResponse(message) || isJSONRPCErrorResponse(message);
    if (isAnswer && message.id !== undefined) {
      const own = up.own.get(message.id);
      if (own) {
        up.own.delete(message.id);
        own(message);
        return;
      }
    }
    if (up !== this.upstream) return;
    if (isAnswer && message.id !== undefined) {
      if (this.pendingInit.delete(message.id) && isJSONRPCResultResponse(message)) {
        const version = (message.result as { protocolVersion?: unknown }).protocolVersion;
        if (typeof version === 'string') up.transport.setProtocolVersion(version);
      }
      this.settle(message.id);
    }
    this.toEditor(message);
  }

  private toEditor(message: JSONRPCMessage): void {
    if (this.closing) return;
    this.downstream.send(message).catch((err: unknown) => this.log('warn', `stdout: ${err instanceof Error ? err.message : String(err)}`));
  }

  private settle(id: RequestId): void {
    this.inFlight.delete(id);
    if (this.draining && this.inFlight.size === 0) this.onDrained?.();
  }

  // --- closing ---

  /** stdin ended: let requests already forwarded be answered (at most drainMs), then close. */
  private async drainThenClose(): Promise<void> {
    if (this.draining || this.closing) return;
    this.draining = true;
    if (this.inFlight.size > 0) {
      await new Promise<void>((resolve) => {
        this.onDrained = resolve;
        setTimeout(resolve, this.opts.drainMs ?? DRAIN_MS).unref();
      });
    }
    await this.close();
  }

  /** Close both sides (idempotent): end the daemon session, stop reading stdin, release the connection pool. */
  async close(): Promise<void> {
    if (this.closing) return this.closed;
    this.closing = true;
    try {
      // An initialize or a new session in flight gets its session id (to end it) unless the daemon hangs.
      await Promise.race([this.ready, new Promise((r) => setTimeout(r, TERMINATE_MS).unref())]);
      await this.retire(this.upstream, true);
      await this.downstream.close().catch(() => undefined);
      this.http.agent.destroy();
    } finally {
      this.resolveClosed();
    }
    return this.closed;
  }
}
