/**
 * The connection under the typed daemon client (daemon-client.ts): the endpoint, the one typed
 * request over node:http (src/client/http.ts: nothing to load but Node's own modules, so every
 * command starts fast), health probes, and starting the daemon once when the host's own socket does
 * not answer (ensure-daemon.ts). Every non-2xx answer becomes the BkgError the daemon reported; a
 * daemon that cannot be reached is DAEMON_UNAVAILABLE.
 */
import type { Agent, IncomingMessage } from 'node:http';
import { BkgError } from '../api/errors.js';
import { at, pathOf, RAW_ANSWERS, type Method, type RouteId } from '../api/paths.js';
import type { AnswerOf, RequestOf } from './contract.js';
import { resolveEndpoint, type Endpoint } from './endpoint.js';
import { ensureDaemon, type EnsureDaemonResult } from './ensure-daemon.js';
import { errCode, errorFromResponse, NOT_LISTENING, snippet, unreachable } from './errors.js';
import { keepAliveAgent, openHttp, sendHttp } from './http.js';
import type { HealthResult } from './types.js';

export interface DaemonClientOptions {
  /** Default: from BKG_API_URL / BKG_API_KEY / BKG_HOME (resolveEndpoint). */
  endpoint?: Endpoint;
  env?: NodeJS.ProcessEnv;
  /** Start the daemon when the host's own socket does not answer (default true; never for BKG_API_URL). */
  autoStart?: boolean;
  /** Passed to ensureDaemon. */
  startTimeoutMs?: number;
  binPath?: string;
  /** Called once when this client started the daemon (the CLI says so on stderr). */
  onDaemonStarted?: (r: EnsureDaemonResult) => void;
  /** The connection agent (e.g. an https.Agent holding a client certificate); the caller owns it and close() leaves it open. Default: a keep-alive agent of this client. */
  agent?: Agent;
  /** Sent with every request of this client (besides the endpoint's bearer key). */
  headers?: Readonly<Record<string, string>>;
}

interface SendOptions {
  query?: Readonly<Record<string, string | number | undefined>>;
  json?: unknown;
  raw?: Uint8Array;
  /** Give up when the connection is idle this long (ms); 0 or absent: wait as long as it takes. */
  timeoutMs?: number;
  /** Close the connection after this request (probes: never hold a stopping daemon open). */
  reset?: boolean;
}

interface RawResponse {
  status: number;
  /** The answer's content type ('' when none). */
  type: string;
  body: Buffer;
}

const PROBE_TIMEOUT_MS = 2000;

export class DaemonConnection {
  readonly endpoint: Endpoint;
  private readonly opts: DaemonClientOptions;
  private agent: Agent | undefined;
  private startAttempted = false;
  /** Set when this client started the daemon. */
  started: EnsureDaemonResult | undefined;

  constructor(opts: DaemonClientOptions = {}) {
    this.opts = opts;
    this.endpoint = opts.endpoint ?? resolveEndpoint(opts.env);
  }

  /** Whether this client may start the daemon: only the host's own socket, never BKG_API_URL. */
  get canAutoStart(): boolean {
    return this.opts.autoStart !== false && this.endpoint.home !== undefined;
  }

  async close(): Promise<void> {
    if (this.agent !== this.opts.agent) this.agent?.destroy();
    this.agent = undefined;
  }

  /**
   * One request to a route of the contract, typed by it: its path parameters, query and body in,
   * its successful answer out (the bytes, for a binary answer).
   */
  async request<K extends RouteId>(id: K, input: RequestOf<K>, opts: { timeoutMs?: number } = {}): Promise<AnswerOf<K>> {
    const { method } = at(id);
    const { params, query, body } = input as { params?: Record<string, string>; query?: Record<string, string | number | undefined>; body?: unknown };
    const path = pathOf(id, params);
    const r = await this.send(method, path, {
      ...(query ? { query } : {}),
      ...(body instanceof Uint8Array ? { raw: body } : body === undefined ? {} : { json: body }),
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    });
    if (r.status < 200 || r.status >= 300) throw errorFromResponse(r.status, r.body);
    if (RAW_ANSWERS.has(id)) return (r.type.startsWith('text/') ? r.body.toString('utf8') : r.body) as AnswerOf<K>;
    if (r.status === 204 || r.body.length === 0) return undefined as AnswerOf<K>;
    try {
      return JSON.parse(r.body.toString('utf8')) as AnswerOf<K>;
    } catch (err) {
      throw new BkgError('INTERNAL', `the daemon answered ${method} ${path} with HTTP ${r.status} but no valid JSON${snippet(r.body)}`, { cause: err });
    }
  }

  /** GET /healthz: 200 and 503 are both answers (503 lists the problems); starts the daemon like any call. */
  async health(): Promise<HealthResult> {
    return this.healthOf(await this.send('GET', '/healthz'));
  }

  /** GET /healthz without starting anything: null when nothing answers (a socket we may not use is an error). */
  async probe(): Promise<HealthResult | null> {
    try {
      return this.healthOf(await this.sendOnce('GET', '/healthz', { timeoutMs: PROBE_TIMEOUT_MS, reset: true }));
    } catch (err) {
      const code = errCode(err);
      if (code === 'EACCES' || code === 'EPERM') throw unreachable(this.endpoint, err);
      return null;
    }
  }

  /** Start the daemon unless one answers (host socket only). */
  async ensureDaemon(): Promise<EnsureDaemonResult> {
    const home = this.endpoint.home;
    if (home === undefined) {
      throw new BkgError('INVALID_ARGUMENT', `cannot start a daemon for BKG_API_URL=${this.endpoint.url}; only the host's own daemon ($BKG_HOME) is started by bkg`);
    }
    this.startAttempted = true;
    const r = await ensureDaemon({
      home,
      probe: async () => (await this.probe()) !== null,
      ...(this.opts.binPath ? { binPath: this.opts.binPath } : {}),
      ...(this.opts.startTimeoutMs ? { timeoutMs: this.opts.startTimeoutMs } : {}),
      ...(this.opts.env ? { env: this.opts.env } : {}),
    });
    if (r.started) {
      this.started = r;
      this.opts.onDaemonStarted?.(r);
    }
    return r;
  }

  /**
   * `attempt`, and when it fails because nothing listens on the host's own socket, the daemon
   * started once (this client's only start) and `attempt` again. A failure to connect is the
   * endpoint's error (DAEMON_UNAVAILABLE with why, or a permission error).
   */
  async withDaemon<T>(attempt: () => Promise<T>): Promise<T> {
    try {
      return await attempt();
    } catch (err) {
      if (!NOT_LISTENING.has(errCode(err) ?? '') || !this.canAutoStart || this.startAttempted) throw unreachable(this.endpoint, err);
    }
    await this.ensureDaemon();
    return attempt().catch((err: unknown) => Promise.reject(unreachable(this.endpoint, err)));
  }

  /** A POST whose answer is read as it streams (server-sent events); starts the daemon once, like send(). */
  protected openStream(path: string, headers: Record<string, string>, body: string): Promise<IncomingMessage> {
    return this.withDaemon(() => openHttp(this.endpoint, { method: 'POST', path, headers, body }));
  }

  private healthOf(r: RawResponse): HealthResult {
    let body: unknown;
    try {
      body = JSON.parse(r.body.toString('utf8'));
    } catch {
      body = undefined;
    }
    const problems = (body as { problems?: unknown } | undefined)?.problems;
    return { ok: r.status === 200, ...(Array.isArray(problems) ? { problems: problems.map(String) } : {}) };
  }

  /** One request; when nothing listens on the host socket, start the daemon once and retry. */
  private send(method: Method, path: string, opts: SendOptions = {}): Promise<RawResponse> {
    return this.withDaemon(() => this.sendOnce(method, path, opts));
  }

  private async sendOnce(method: Method, path: string, opts: SendOptions): Promise<RawResponse> {
    const headers: Record<string, string> = { ...this.opts.headers, accept: 'application/json' };
    let body: string | Uint8Array | undefined;
    if (opts.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.json);
    } else if (opts.raw !== undefined) {
      headers['content-type'] = 'application/octet-stream';
      body = opts.raw;
    }
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) params.set(k, String(v));
    const qs = params.size > 0 ? `?${params.toString()}` : '';
    const res = await sendHttp(this.endpoint, {
      method, path: path + qs, headers, ...(body === undefined ? {} : { body }), ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
      ...(opts.reset ? {} : { agent: (this.agent ??= this.opts.agent ?? keepAliveAgent()) }),
    });
    return { status: res.status, type: String(res.headers['content-type'] ?? ''), body: res.body };
  }
}
