/**
 * The typed client of the daemon's REST API, over node:http (src/client/http.ts: nothing to load
 * but Node's own modules, so every command starts fast). Every non-2xx answer becomes the BkgError the
 * daemon reported; a daemon that cannot be reached is DAEMON_UNAVAILABLE. When the endpoint is the
 * host's own socket and nothing answers there, the daemon is started once (see ensure-daemon.ts).
 */
import type { Agent } from 'node:http';
import { BkgError, ERRORS, type ErrorCode } from '../api/errors.js';
import type { PolicyPatch, PolicyView } from '../api/policies.js';
import type { CreateSandboxRequest, ExecRequest, ExecResponse, SandboxView } from '../api/sandboxes.js';
import { resolveEndpoint, type Endpoint } from './endpoint.js';
import { ensureDaemon, type EnsureDaemonResult } from './ensure-daemon.js';
import { keepAliveAgent, openHttp, sendHttp } from './http.js';
import type {
  ApiKeyView, AuditEventView, AuditQuery, AuditVerifyResult, Change, CreateKeyRequest, CreateSandboxResult, DaemonInfo, ExecutionView,
  HealthResult, KeyWithSecret,
} from './types.js';

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
}

interface SendOptions {
  query?: Record<string, string | number | undefined>;
  json?: unknown;
  raw?: Uint8Array;
  /** Give up when the connection is idle this long (ms); 0 or absent: wait as long as it takes. */
  timeoutMs?: number;
  /** Close the connection after this request (probes: never hold a stopping daemon open). */
  reset?: boolean;
}

interface RawResponse {
  status: number;
  body: Buffer;
}

type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface LlmChatRequest {
  model: string;
  messages: { role: 'system' | 'user' | 'assistant'; content: string }[];
  max_tokens?: number;
  temperature?: number;
}

const API = '/api/v1';
const PROBE_TIMEOUT_MS = 2000;
/** Errors that mean nothing listens on the socket or port, so the request was never sent. */
const NOT_LISTENING = new Set(['ECONNREFUSED', 'ENOENT']);

function errCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERRORS, code);
}

function snippet(body: Buffer): string {
  const text = body.toString('utf8', 0, Math.min(body.length, 200)).replace(/\s+/g, ' ').trim();
  return text ? `: ${text}` : '';
}

/** The BkgError for a non-2xx answer: the daemon's own code, message and hint; unknown codes are INTERNAL. */
export function errorFromResponse(status: number, body: Buffer): BkgError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const e = (parsed as { error?: unknown } | undefined)?.error;
  if (typeof e !== 'object' || e === null || typeof (e as { message?: unknown }).message !== 'string') {
    return new BkgError('INTERNAL', `the daemon answered HTTP ${status} without an error body${snippet(body)}`, { details: { status } });
  }
  const { code, message, hint, details } = e as { code?: unknown; message: string; hint?: unknown; details?: unknown };
  const extra = typeof details === 'object' && details !== null && !Array.isArray(details) ? (details as Record<string, unknown>) : undefined;
  const opts = { ...(typeof hint === 'string' ? { hint } : {}) };
  if (isErrorCode(code)) return new BkgError(code, message, { ...opts, ...(extra ? { details: extra } : {}) });
  return new BkgError('INTERNAL', `the daemon reported ${typeof code === 'string' ? code : 'an error'}: ${message}`, {
    ...opts,
    details: { ...extra, status, ...(typeof code === 'string' ? { code } : {}) },
  });
}

function sandboxPath(idOrName: string, action = ''): string {
  return `${API}/sandboxes/${encodeURIComponent(idOrName)}${action}`;
}

export class DaemonClient {
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
    this.agent?.destroy();
    this.agent = undefined;
  }

  // --- sandboxes ---

  async createSandbox(req: CreateSandboxRequest): Promise<CreateSandboxResult> {
    const body = await this.call<CreateSandboxResult | (SandboxView & { api_key_secret: string })>('POST', `${API}/sandboxes`, { json: req });
    if ('sandbox' in body) return body;
    // The daemon may answer flat ({...sandbox, api_key_secret}): the same information.
    const { api_key_secret, ...sandbox } = body;
    return { sandbox, api_key_secret };
  }

  async listSandboxes(): Promise<SandboxView[]> {
    return (await this.call<{ sandboxes: SandboxView[] }>('GET', `${API}/sandboxes`)).sandboxes;
  }

  getSandbox(idOrName: string): Promise<SandboxView> {
    return this.call('GET', sandboxPath(idOrName));
  }

  /** CONFLICT when it is already running. */
  startSandbox(idOrName: string): Promise<SandboxView> {
    return this.call('POST', sandboxPath(idOrName, '/start'));
  }

  stopSandbox(idOrName: string): Promise<SandboxView> {
    return this.call('POST', sandboxPath(idOrName, '/stop'));
  }

  async removeSandbox(idOrName: string): Promise<void> {
    await this.call('DELETE', sandboxPath(idOrName));
  }

  /** SANDBOX_NOT_RUNNING when it is not running. Waits as long as the command runs. */
  exec(idOrName: string, req: ExecRequest): Promise<ExecResponse> {
    return this.call('POST', sandboxPath(idOrName, '/exec'), { json: req, timeoutMs: 0 });
  }

  async changes(idOrName: string): Promise<Change[]> {
    return (await this.call<{ changes: Change[] }>('GET', sandboxPath(idOrName, '/changes'))).changes;
  }

  async apply(idOrName: string): Promise<Change[]> {
    return (await this.call<{ applied: Change[] }>('POST', sandboxPath(idOrName, '/apply'), { timeoutMs: 0 })).applied;
  }

  /** The bytes of the file at `path` (absolute, inside the sandbox). */
  async readFile(idOrName: string, path: string): Promise<Buffer> {
    const r = await this.send('GET', sandboxPath(idOrName, '/files'), { query: { path } });
    if (r.status < 200 || r.status >= 300) throw errorFromResponse(r.status, r.body);
    return r.body;
  }

  async writeFile(idOrName: string, path: string, data: Uint8Array): Promise<void> {
    await this.call('PUT', sandboxPath(idOrName, '/files'), { query: { path }, raw: data });
  }

  /** The sandbox's executions, as the daemon recorded them. */
  async logs(idOrName: string): Promise<ExecutionView[]> {
    return (await this.call<{ executions: ExecutionView[] }>('GET', sandboxPath(idOrName, '/logs'))).executions;
  }

  // --- API keys ---

  createKey(req: CreateKeyRequest): Promise<KeyWithSecret> {
    return this.call('POST', `${API}/keys`, { json: req });
  }

  async listKeys(): Promise<ApiKeyView[]> {
    return (await this.call<{ keys: ApiKeyView[] }>('GET', `${API}/keys`)).keys;
  }

  revokeKey(id: string): Promise<ApiKeyView> {
    return this.call('POST', `${API}/keys/${encodeURIComponent(id)}/revoke`);
  }

  rotateKey(id: string): Promise<KeyWithSecret> {
    return this.call('POST', `${API}/keys/${encodeURIComponent(id)}/rotate`);
  }

  // --- namespace policies ---

  async listPolicies(): Promise<PolicyView[]> {
    return (await this.call<{ policies: PolicyView[] }>('GET', `${API}/policies`)).policies;
  }

  getPolicy(namespace: string): Promise<PolicyView> {
    return this.call('GET', `${API}/policies/${encodeURIComponent(namespace)}`);
  }

  setPolicy(namespace: string, patch: PolicyPatch): Promise<PolicyView> {
    return this.call('PATCH', `${API}/policies/${encodeURIComponent(namespace)}`, { json: patch });
  }

  // --- audit log ---

  async auditEvents(q: AuditQuery = {}): Promise<AuditEventView[]> {
    return (await this.call<{ events: AuditEventView[] }>('GET', `${API}/audit`, { query: { since: q.since, limit: q.limit } })).events;
  }

  verifyAudit(): Promise<AuditVerifyResult> {
    return this.call('GET', `${API}/audit/verify`, { timeoutMs: 0 });
  }

  // --- the daemon ---

  daemonInfo(): Promise<DaemonInfo> {
    return this.call('GET', `${API}/daemon`);
  }

  /** Asks the daemon to stop (202); it closes its listeners shortly after. */
  async shutdownDaemon(): Promise<void> {
    await this.call('POST', `${API}/daemon/shutdown`);
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
      if (code === 'EACCES' || code === 'EPERM') throw this.unreachable(err);
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

  // --- admin LLM (shapes in src/llm/types.ts and the daemon's llm routes) ---

  llmRequestAccess(modelId: string, caveNamespace: string): Promise<Record<string, unknown>> {
    return this.call('POST', `${API}/llm/requests`, { json: { model_id: modelId, cave_namespace: caveNamespace } });
  }

  async llmRequests(): Promise<Record<string, unknown>[]> {
    return (await this.call<{ requests: Record<string, unknown>[] }>('GET', `${API}/admin/llm/requests`)).requests;
  }

  llmApprove(id: string, opts: { scopes?: string[]; ttl_s?: number; rpm?: number }): Promise<Record<string, unknown>> {
    return this.call('POST', `${API}/admin/llm/requests/${encodeURIComponent(id)}/approve`, { json: opts });
  }

  llmDeny(id: string): Promise<Record<string, unknown>> {
    return this.call('POST', `${API}/admin/llm/requests/${encodeURIComponent(id)}/deny`);
  }

  async llmTokens(): Promise<Record<string, unknown>[]> {
    return (await this.call<{ tokens: Record<string, unknown>[] }>('GET', `${API}/admin/llm/tokens`)).tokens;
  }

  llmRevoke(modelId: string, tokenId: string): Promise<Record<string, unknown>> {
    return this.call('POST', `${API}/admin/llm/models/${encodeURIComponent(modelId)}/revoke_key`, { json: { token_id: tokenId } });
  }

  llmPull(req: { source: string; name?: string; sha256?: string; sig_base64?: string }): Promise<{ job_id: string; model_id?: string }> {
    return this.call('POST', `${API}/admin/llm/models`, { json: req });
  }

  llmJob(id: string): Promise<Record<string, unknown>> {
    return this.call('GET', `${API}/admin/llm/jobs/${encodeURIComponent(id)}`);
  }

  async llmModels(): Promise<Record<string, unknown>[]> {
    return (await this.call<{ models: Record<string, unknown>[] }>('GET', `${API}/admin/llm/models`)).models;
  }

  llmRemove(id: string): Promise<void> {
    return this.call('DELETE', `${API}/admin/llm/models/${encodeURIComponent(id)}`);
  }

  llmGc(capBytes?: number): Promise<Record<string, unknown>> {
    return this.call('POST', `${API}/admin/llm/gc`, capBytes === undefined ? {} : { json: { cap_bytes: capBytes } });
  }

  /**
   * Chat with a model, the reply streamed to `onText` as it is generated: with the caller's admin
   * key, or with a model-access key (`key`) for `namespace`. Resolves with the final event (usage).
   */
  async llmChat(req: LlmChatRequest, opts: { onText: (text: string) => void; key?: string; namespace?: string }): Promise<Record<string, unknown>> {
    const path = opts.key ? `${API}/llm/chat` : `${API}/admin/llm/chat`;
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'text/event-stream', ...(opts.key ? { authorization: `Bearer ${opts.key}` } : {}), ...(opts.namespace ? { 'x-cave-namespace': opts.namespace } : {}) };
    const body = JSON.stringify({ ...req, stream: true });
    let res: Awaited<ReturnType<typeof openHttp>>;
    try {
      res = await openHttp(this.endpoint, { method: 'POST', path, headers, body });
    } catch (err) {
      if (!NOT_LISTENING.has(errCode(err) ?? '') || !this.canAutoStart || this.startAttempted) throw this.unreachable(err);
      await this.ensureDaemon();
      res = await openHttp(this.endpoint, { method: 'POST', path, headers, body }).catch((e: unknown) => Promise.reject(this.unreachable(e)));
    }
    if ((res.statusCode ?? 0) !== 200) {
      const chunks: Buffer[] = [];
      for await (const c of res as AsyncIterable<Buffer>) chunks.push(c);
      throw errorFromResponse(res.statusCode ?? 0, Buffer.concat(chunks));
    }
    let buffered = '';
    let last: Record<string, unknown> = {};
    for await (const chunk of res as AsyncIterable<Buffer>) {
      buffered += chunk.toString('utf8');
      let end: number;
      while ((end = buffered.indexOf('\n\n')) !== -1) {
        const event = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        for (const line of event.split('\n')) {
          if (!line.startsWith('data: ')) continue;
          const data = JSON.parse(line.slice(6)) as Record<string, unknown>;
          if (typeof data.text === 'string') opts.onText(data.text);
          else last = data;
        }
      }
    }
    if (last.error) throw errorFromResponse(500, Buffer.from(JSON.stringify({ error: last.error })));
    if (last.done !== true) throw new BkgError('INTERNAL', 'the model\'s reply ended before it was complete', { hint: 'Check $BKG_HOME/logs/daemon.log for why.' });
    return last;
  }

  llmTrustAdd(name: string, publicKey: string): Promise<Record<string, unknown>> {
    return this.call('POST', `${API}/admin/llm/trust`, { json: { name, public_key: publicKey } });
  }

    // --- transport ---

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

  private async call<T>(method: HttpMethod, path: string, opts: SendOptions = {}): Promise<T> {
    const r = await this.send(method, path, opts);
    if (r.status < 200 || r.status >= 300) throw errorFromResponse(r.status, r.body);
    if (r.status === 204 || r.body.length === 0) return undefined as T;
    try {
      return JSON.parse(r.body.toString('utf8')) as T;
    } catch (err) {
      throw new BkgError('INTERNAL', `the daemon answered ${method} ${path} with HTTP ${r.status} but no valid JSON${snippet(r.body)}`, { cause: err });
    }
  }

  /** One request; when nothing listens on the host socket, start the daemon once and retry. */
  private async send(method: HttpMethod, path: string, opts: SendOptions = {}): Promise<RawResponse> {
    try {
      return await this.sendOnce(method, path, opts);
    } catch (err) {
      if (!NOT_LISTENING.has(errCode(err) ?? '') || !this.canAutoStart || this.startAttempted) throw this.unreachable(err);
    }
    await this.ensureDaemon();
    try {
      return await this.sendOnce(method, path, opts);
    } catch (err) {
      throw this.unreachable(err);
    }
  }

  private async sendOnce(method: HttpMethod, path: string, opts: SendOptions): Promise<RawResponse> {
    const headers: Record<string, string> = { accept: 'application/json' };
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
      ...(opts.reset ? {} : { agent: (this.agent ??= keepAliveAgent()) }),
    });
    return { status: res.status, body: res.body };
  }

  private unreachable(err: unknown): unknown {
    if (err instanceof BkgError) return err;
    const code = errCode(err);
    const where = this.endpoint.url;
    const reason = err instanceof Error ? err.message : String(err);
    if (code === 'EACCES' || code === 'EPERM') {
      return new BkgError('DAEMON_UNAVAILABLE', `cannot connect to the bkg daemon at ${where}: permission denied`, {
        hint: 'The socket belongs to another user: run bkg as that user, set BKG_HOME to your own directory, or use BKG_API_URL with BKG_API_KEY.',
        cause: err,
      });
    }
    const hint = this.endpoint.home === undefined
      ? 'Check BKG_API_URL (and that the daemon runs there); unset it to use the local daemon.'
      : undefined;
    const what = code !== undefined && NOT_LISTENING.has(code) ? 'nothing is listening' : reason;
    return new BkgError('DAEMON_UNAVAILABLE', `cannot reach the bkg daemon at ${where}: ${what}`, { ...(hint ? { hint } : {}), details: { url: where, ...(code ? { cause: code } : {}) }, cause: err });
  }
}
