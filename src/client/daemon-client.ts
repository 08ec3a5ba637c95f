/**
 * The typed client of the daemon's REST API, over node:http (src/client/http.ts: nothing to load
 * but Node's own modules, so every command starts fast). Requests and answers are typed from the
 * wire contract (`request(routeId, …)`, types in contract.ts; paths from src/api/paths.ts). Every
 * non-2xx answer becomes the BkgError the daemon reported; a daemon that cannot be reached is
 * DAEMON_UNAVAILABLE. When the endpoint is the host's own socket and nothing answers there, the
 * daemon is started once (see ensure-daemon.ts).
 */
import type { Agent } from 'node:http';
import { BkgError } from '../api/errors.js';
import { at, pathOf, RAW_ANSWERS, type Method, type RouteId } from '../api/paths.js';
import type { PolicyPatch, PolicyView } from '../api/policies.js';
import type { ChatRequest } from '../api/schema/llm.js';
import type { CreateSandboxRequest, ExecRequest, ExecResponse, SandboxView } from '../api/sandboxes.js';
import type { SnapshotView } from '../api/schema/snapshots.js';
import type { AnswerOf, RequestOf } from './contract.js';
import { resolveEndpoint, type Endpoint } from './endpoint.js';
import { ensureDaemon, type EnsureDaemonResult } from './ensure-daemon.js';
import { errCode, errorFromResponse, NOT_LISTENING, snippet, unreachable } from './errors.js';
import { keepAliveAgent, openHttp, sendHttp } from './http.js';
import type { Whoami } from '../api/admin.js';
import type { ApiKeyView, AuditEventView, AuditQuery, AuditVerifyResult, Change, CreateKeyRequest, CreateSandboxResult, DaemonInfo, ExecutionView, HealthResult, KeyWithSecret } from './types.js';

export { errorFromResponse } from './errors.js';

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

/** A chat request as the CLI sends it (streamed). */
export type LlmChatRequest = Omit<ChatRequest, 'stream'>;

const PROBE_TIMEOUT_MS = 2000;

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

  // --- sandboxes ---

  async createSandbox(req: CreateSandboxRequest): Promise<CreateSandboxResult> {
    const { api_key_secret, ...sandbox } = await this.request('createSandbox', { body: req });
    return { sandbox, api_key_secret };
  }

  async listSandboxes(): Promise<SandboxView[]> {
    return (await this.request('listSandboxes', {})).sandboxes;
  }

  /** Every host's sandboxes, with the fleet's hosts (to name each sandbox's host). */
  async listAllHosts(): Promise<{ sandboxes: SandboxView[]; hosts: { id: string; name: string; alive: boolean }[] }> {
    const r = await this.request('listSandboxes', { query: { all_hosts: '1' } });
    return { sandboxes: r.sandboxes, hosts: r.hosts ?? [] };
  }

  getSandbox(idOrName: string): Promise<SandboxView> {
    return this.request('getSandbox', { params: { id: idOrName } });
  }

  /** CONFLICT when it is already running. */
  startSandbox(idOrName: string): Promise<SandboxView> {
    return this.request('startSandbox', { params: { id: idOrName } });
  }

  stopSandbox(idOrName: string): Promise<SandboxView> {
    return this.request('stopSandbox', { params: { id: idOrName } });
  }

  async removeSandbox(idOrName: string): Promise<void> {
    await this.request('deleteSandbox', { params: { id: idOrName } });
  }

  // --- snapshots ---

  /** Save a sandbox's writable layer (running or stopped); CONFLICT when the tag is taken. */
  snapshotSandbox(idOrName: string, tag?: string): Promise<SnapshotView> {
    return this.request('createSnapshot', { params: { id: idOrName }, body: tag === undefined ? {} : { tag } });
  }

  /** A new sandbox NAME with the origin's settings, from a snapshot of it taken now (running when the origin runs). */
  async forkSandbox(idOrName: string, name: string, tag?: string): Promise<CreateSandboxResult> {
    const { api_key_secret, ...sandbox } = await this.request('forkSandbox', { params: { id: idOrName }, body: { name, ...(tag === undefined ? {} : { tag }) } });
    return { sandbox, api_key_secret };
  }

  async listSnapshots(namespace?: string): Promise<SnapshotView[]> {
    return (await this.request('listSnapshots', namespace === undefined ? {} : { query: { namespace } })).snapshots;
  }

  /** By id or SANDBOX:TAG. */
  async removeSnapshot(ref: string): Promise<void> {
    await this.request('deleteSnapshot', { params: { ref } });
  }

  /** SANDBOX_NOT_RUNNING when it is not running. Waits as long as the command runs. */
  exec(idOrName: string, req: ExecRequest): Promise<ExecResponse> {
    return this.request('execSandbox', { params: { id: idOrName }, body: req }, { timeoutMs: 0 });
  }

  async changes(idOrName: string): Promise<Change[]> {
    return (await this.request('changes', { params: { id: idOrName } })).changes;
  }

  async apply(idOrName: string): Promise<Change[]> {
    return (await this.request('apply', { params: { id: idOrName } }, { timeoutMs: 0 })).applied;
  }

  /** The bytes of the file at `path` (absolute, inside the sandbox). */
  readFile(idOrName: string, path: string): Promise<Buffer> {
    return this.request('readFile', { params: { id: idOrName }, query: { path } });
  }

  async writeFile(idOrName: string, path: string, data: Uint8Array): Promise<void> {
    await this.request('writeFile', { params: { id: idOrName }, query: { path }, body: data });
  }

  /** The sandbox's executions, as the daemon recorded them. */
  async logs(idOrName: string): Promise<ExecutionView[]> {
    return (await this.request('logs', { params: { id: idOrName } })).executions;
  }

  // --- API keys ---

  createKey(req: CreateKeyRequest): Promise<KeyWithSecret> {
    return this.request('createKey', { body: req });
  }

  async listKeys(): Promise<ApiKeyView[]> {
    return (await this.request('listKeys', {})).keys;
  }

  revokeKey(id: string): Promise<ApiKeyView> {
    return this.request('revokeKey', { params: { id } });
  }

  rotateKey(id: string): Promise<KeyWithSecret> {
    return this.request('rotateKey', { params: { id } });
  }

  // --- namespace policies ---

  async listPolicies(): Promise<PolicyView[]> {
    return (await this.request('listPolicies', {})).policies;
  }

  getPolicy(namespace: string): Promise<PolicyView> {
    return this.request('getPolicy', { params: { namespace } });
  }

  setPolicy(namespace: string, patch: PolicyPatch): Promise<PolicyView> {
    return this.request('setPolicy', { params: { namespace }, body: patch });
  }

  // --- audit log ---

  async auditEvents(q: AuditQuery = {}): Promise<AuditEventView[]> {
    return (await this.request('auditEvents', { query: { ...(q.since ? { since: q.since } : {}), ...(q.limit === undefined ? {} : { limit: String(q.limit) }), ...(q.fleet ? { fleet: '1' } : {}) } })).events;
  }

  verifyAudit(opts: { fleet?: boolean } = {}): Promise<AuditVerifyResult> {
    return this.request('verifyAudit', { query: opts.fleet ? { fleet: '1' } : {} }, { timeoutMs: 0 });
  }

  // --- the daemon ---

  /** The calling key: its kind, namespace and the actions it may take. */
  whoami(): Promise<Whoami> {
    return this.request('whoami', {});
  }

  daemonInfo(): Promise<DaemonInfo> {
    return this.request('daemonInfo', {});
  }

  /** Asks the daemon to stop (202); it closes its listeners shortly after. */
  async shutdownDaemon(): Promise<void> {
    await this.request('shutdown', {});
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

  // --- admin LLM ---

  llmRequestAccess(modelId: string, namespace: string): Promise<AnswerOf<'requestAccess'>> {
    return this.request('requestAccess', { body: { model_id: modelId, cave_namespace: namespace } });
  }

  async llmRequests(): Promise<AnswerOf<'accessRequests'>['requests']> {
    return (await this.request('accessRequests', {})).requests;
  }

  llmApprove(id: string, body: RequestOf<'approve'>['body']): Promise<AnswerOf<'approve'>> {
    return this.request('approve', { params: { id }, body });
  }

  llmDeny(id: string): Promise<AnswerOf<'deny'>> {
    return this.request('deny', { params: { id } });
  }

  async llmTokens(): Promise<AnswerOf<'accessTokens'>['tokens']> {
    return (await this.request('accessTokens', {})).tokens;
  }

  llmRevoke(modelId: string, tokenId: string): Promise<AnswerOf<'revokeModelKey'>> {
    return this.request('revokeModelKey', { params: { id: modelId }, body: { token_id: tokenId } });
  }

  llmPull(body: RequestOf<'pullModel'>['body']): Promise<AnswerOf<'pullModel'>> {
    return this.request('pullModel', { body });
  }

  llmJob(id: string): Promise<AnswerOf<'job'>> {
    return this.request('job', { params: { id } });
  }

  async llmModels(): Promise<AnswerOf<'listModels'>['models']> {
    return (await this.request('listModels', {})).models;
  }

  async llmRemove(id: string): Promise<void> {
    await this.request('deleteModel', { params: { id } });
  }

  llmGc(capBytes?: number): Promise<AnswerOf<'gc'>> {
    return this.request('gc', { body: capBytes === undefined ? {} : { cap_bytes: capBytes } });
  }

  /**
   * Chat with a model, the reply streamed to `onText` as it is generated: with the caller's admin
   * key, or with a model-access key (`key`) for `namespace`. Resolves with the final event (usage).
   */
  async llmChat(req: LlmChatRequest, opts: { onText: (text: string) => void; key?: string; namespace?: string }): Promise<Record<string, unknown>> {
    const path = pathOf(opts.key ? 'chat' : 'adminChat');
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'text/event-stream', ...(opts.key ? { authorization: `Bearer ${opts.key}` } : {}), ...(opts.namespace ? { 'x-cave-namespace': opts.namespace } : {}) };
    const body = JSON.stringify({ ...req, stream: true });
    let res: Awaited<ReturnType<typeof openHttp>>;
    try {
      res = await openHttp(this.endpoint, { method: 'POST', path, headers, body });
    } catch (err) {
      if (!NOT_LISTENING.has(errCode(err) ?? '') || !this.canAutoStart || this.startAttempted) throw unreachable(this.endpoint, err);
      await this.ensureDaemon();
      res = await openHttp(this.endpoint, { method: 'POST', path, headers, body }).catch((e: unknown) => Promise.reject(unreachable(this.endpoint, e)));
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

  llmTrustAdd(name: string, publicKey: string): Promise<AnswerOf<'trust'>> {
    return this.request('trust', { body: { name, public_key: publicKey } });
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

  /** One request; when nothing listens on the host socket, start the daemon once and retry. */
  private async send(method: Method, path: string, opts: SendOptions = {}): Promise<RawResponse> {
    try {
      return await this.sendOnce(method, path, opts);
    } catch (err) {
      if (!NOT_LISTENING.has(errCode(err) ?? '') || !this.canAutoStart || this.startAttempted) throw unreachable(this.endpoint, err);
    }
    await this.ensureDaemon();
    try {
      return await this.sendOnce(method, path, opts);
    } catch (err) {
      throw unreachable(this.endpoint, err);
    }
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
