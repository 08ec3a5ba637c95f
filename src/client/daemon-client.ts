/**
 * The typed client of the daemon's REST API: one method per route, each a line over
 * `request(routeId, …)` (typed from the wire contract: contract.ts, paths from src/api/paths.ts).
 * The connection under it — the endpoint, the transport, starting the daemon — is connection.ts.
 */
import { BkgError } from '../api/errors.js';
import { pathOf } from '../api/paths.js';
import type { PolicyPatch, PolicyView } from '../api/policies.js';
import type { ChatRequest } from '../api/schema/llm.js';
import type { CreateSandboxRequest, ExecRequest, ExecResponse, SandboxView } from '../api/sandboxes.js';
import type { SnapshotView } from '../api/schema/snapshots.js';
import type { Whoami } from '../api/admin.js';
import { DaemonConnection } from './connection.js';
import type { AnswerOf, RequestOf } from './contract.js';
import { errorFromResponse } from './errors.js';
import type { ApiKeyView, AuditEventView, AuditQuery, AuditVerifyResult, Change, CreateKeyRequest, CreateSandboxResult, DaemonInfo, ExecutionView, KeyWithSecret } from './types.js';

export { errorFromResponse } from './errors.js';
export type { DaemonClientOptions } from './connection.js';

/** A chat request as the CLI sends it (streamed). */
export type LlmChatRequest = Omit<ChatRequest, 'stream'>;

export class DaemonClient extends DaemonConnection {
  // --- sandboxes ---

  async createSandbox(req: CreateSandboxRequest): Promise<CreateSandboxResult> {
    const { api_key_secret, ...sandbox } = await this.request('createSandbox', { body: req });
    return { sandbox, api_key_secret };
  }

  /** With `usage`, each running sandbox's usage now (the daemon reads its cgroups). */
  async listSandboxes(opts: { usage?: boolean } = {}): Promise<SandboxView[]> {
    return (await this.request('listSandboxes', opts.usage ? { query: { usage: '1' } } : {})).sandboxes;
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

  /** The daemon's run-time settings (admin). */
  daemonConfig(): Promise<AnswerOf<'daemonConfig'>> {
    return this.request('daemonConfig', {});
  }

  /** Change run-time settings without a restart (admin; audited). */
  setDaemonConfig(patch: { otel_sampling_rate?: number }): Promise<AnswerOf<'setDaemonConfig'>> {
    return this.request('setDaemonConfig', { body: patch });
  }

  /** Asks the daemon to stop (202); it closes its listeners shortly after. */
  async shutdownDaemon(): Promise<void> {
    await this.request('shutdown', {});
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

  // ---- P2P plugin ----

  peersInit(networkKey?: string): Promise<AnswerOf<'peersInit'>> {
    return this.request('peersInit', { body: networkKey === undefined ? {} : { network_key: networkKey } });
  }

  peersStatus(): Promise<AnswerOf<'peersStatus'>> {
    return this.request('peersStatus', {});
  }

  async peers(): Promise<AnswerOf<'listPeers'>['peers']> {
    return (await this.request('listPeers', {})).peers;
  }

  addPeer(address: string, name?: string): Promise<AnswerOf<'addPeer'>> {
    return this.request('addPeer', { body: { address, ...(name === undefined ? {} : { name }) } });
  }

  async removePeer(id: string): Promise<void> {
    await this.request('removePeer', { params: { id } });
  }

  pullFromPeers(name: string): Promise<AnswerOf<'peerPull'>> {
    return this.request('peerPull', { body: { name } });
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
    const res = await this.openStream(path, headers, body);
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
}
