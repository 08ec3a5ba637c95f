/**
 * Every route of the daemon as data: method, path, the action it takes (what the one authorisation
 * function is asked about; `public` routes skip API-key authentication), its request (path params,
 * query, body) and its answers by status. The daemon's router validates requests with it and binds
 * one handler per route; the client is typed from it; the OpenAPI document is generated from it;
 * route tests check every answer they receive against it. Errors (4xx/5xx) are always ErrorBody.
 */
import { ACTIONS } from './actions.js';
import { at, type RouteId } from './paths.js';
import {
  AuditList, AuditQuery, AuditVerifyQuery, AuditVerifyResult, CreateKeyRequest, DaemonInfo, DaemonSettings, DaemonSettingsPatch, Health, KeyList, KeyParams, KeyWithSecret, ApiKeyView, ShutdownResponse, Whoami,
} from './schema/admin.js';
import { z } from './schema/common.js';
import { EventsQuery } from './schema/events.js';
import {
  AccessRequest, AccessRequestCreate, AccessRequestList, AccessTokenList, ApproveRequest, ApproveResponse, ChatCompletion, ChatRequest, ChatResponse,
  DownloadJob, GcRequest, GcResult, ModelList, ModelManifest, ModelManifestList, OpenAiChatRequest, PullRequest, RevokeKeyRequest, RevokeKeyResponse,
  StartedDownload, TrustedKey, TrustedKeyList, TrustRequest,
} from './schema/llm.js';
import { AddPeerRequest, PeerList, PeerParams, PeerPullRequest, PeersInitRequest, PeersInitResponse, PeersStatus, PeerView } from './schema/peers.js';
import { PolicyList, PolicyParams, PolicyPatch, PolicyView } from './schema/policies.js';
import { CreateSnapshotRequest, ForkRequest, SnapshotList, SnapshotParams, SnapshotQuery, SnapshotView } from './schema/snapshots.js';
import { SecretList, SecretParams, SecretPublicKey, SecretQuery, SecretView, SetSecretRequest } from './schema/secrets.js';
import {
  ApplyResponse, ChangesResponse, CreatedSandbox, CreateSandboxRequest, ExecRequest, ExecResponse, FileQuery, LogsResponse, SandboxList, SandboxListQuery, SandboxParams, SandboxView,
} from './schema/sandboxes.js';

export type { Action } from './actions.js';

/** What a route answers with, by status: a JSON schema, or a body of another kind. */
export type Answer = z.ZodType | 'empty' | 'binary' | 'text' | 'sse' | 'upgrade' | 'protocol';

export interface RouteSpec {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** e.g. /api/v1/sandboxes/:id */
  readonly path: string;
  /** The action authorised before the handler runs; `public`: no API key (the handler authenticates what it needs). */
  readonly access: (typeof ACTIONS)[number] | 'public';
  readonly summary: string;
  readonly tag: string;
  readonly params?: z.ZodObject;
  readonly query?: z.ZodObject;
  /** A JSON body; `binary` for raw bytes; absent for none. */
  readonly body?: z.ZodType | 'binary' | 'protocol';
  /** A JSON body that may be left out (an empty object is assumed). */
  readonly bodyOptional?: boolean;
  readonly responses: Readonly<Record<number, Answer>>;
  /** Public routes that take a model-access key and X-Cave-Namespace instead. */
  readonly modelKey?: boolean;
  /** Recorded in the audit log by the router, with the outcome (sandbox actions are audited by the service every door calls). */
  readonly audit?: string;
}

const sandbox = SandboxParams;
const key = KeyParams;
const model = z.object({ id: z.string() }).strict();
const request = z.object({ id: z.string() }).strict();

export const ROUTES = {
  // --- sandboxes ---
  createSandbox: { ...at('createSandbox'), access: 'sandbox.create', tag: 'sandboxes', summary: 'Create a sandbox (not started). Its own API key comes back once, in api_key_secret.', body: CreateSandboxRequest, responses: { 201: CreatedSandbox } },
  listSandboxes: { ...at('listSandboxes'), access: 'sandbox.list', tag: 'sandboxes', summary: 'The sandboxes the key can see: this host\'s, or with all_hosts=1 every host\'s of the fleet.', query: SandboxListQuery, responses: { 200: SandboxList } },
  getSandbox: { ...at('getSandbox'), access: 'sandbox.read', tag: 'sandboxes', summary: 'One sandbox: limits, status, and while running its usage.', params: sandbox, responses: { 200: SandboxView } },
  startSandbox: { ...at('startSandbox'), access: 'sandbox.start', tag: 'sandboxes', summary: 'Start it, with the files it kept when it stopped.', params: sandbox, responses: { 200: SandboxView } },
  stopSandbox: { ...at('stopSandbox'), access: 'sandbox.stop', tag: 'sandboxes', summary: 'Stop it: its processes end, its files are kept.', params: sandbox, responses: { 200: SandboxView } },
  deleteSandbox: { ...at('deleteSandbox'), access: 'sandbox.delete', tag: 'sandboxes', summary: 'Delete it and its files (stopping it first).', params: sandbox, responses: { 204: 'empty' } },
  execSandbox: { ...at('execSandbox'), access: 'sandbox.exec', tag: 'sandboxes', summary: 'Run a command and answer once it ended (at most 1 MiB per stream; the WebSocket exec streams without a limit).', params: sandbox, body: ExecRequest, responses: { 200: ExecResponse } },
  execStream: { ...at('execStream'), access: 'sandbox.exec', tag: 'sandboxes', summary: 'Run a command over a WebSocket: stdin in, stdout and stderr out as they come, signals, a terminal (frames: schema/exec-stream.ts).', params: sandbox, responses: { 101: 'upgrade' } },
  changes: { ...at('changes'), access: 'sandbox.read', tag: 'sandboxes', summary: 'The workspace changes not yet applied (of a stopped sandbox too).', params: sandbox, responses: { 200: ChangesResponse } },
  apply: { ...at('apply'), access: 'sandbox.apply', tag: 'sandboxes', summary: 'Copy the workspace changes to the host directory (symlink-safe, setuid bits stripped).', params: sandbox, responses: { 200: ApplyResponse } },
  readFile: { ...at('readFile'), access: 'sandbox.read', tag: 'sandboxes', summary: 'A file inside the sandbox (up to 16 MiB), resolved inside its own root.', params: sandbox, query: FileQuery, responses: { 200: 'binary' } },
  writeFile: { ...at('writeFile'), access: 'sandbox.files.write', tag: 'sandboxes', summary: 'Write a file inside the sandbox (up to 16 MiB).', params: sandbox, query: FileQuery, body: 'binary', responses: { 204: 'empty' } },
  logs: { ...at('logs'), access: 'sandbox.read', tag: 'sandboxes', summary: 'The commands run in it (newest 1000).', params: sandbox, responses: { 200: LogsResponse } },
  createSnapshot: { ...at('createSnapshot'), access: 'sandbox.snapshot', tag: 'snapshots', summary: 'Save its writable layer (workspace, /tmp, HOME) as a snapshot: of a running sandbox, held still while copied; of a stopped one, its saved files.', params: sandbox, body: CreateSnapshotRequest, bodyOptional: true, responses: { 201: SnapshotView } },
  forkSandbox: { ...at('forkSandbox'), access: 'sandbox.snapshot', tag: 'snapshots', summary: 'A new sandbox with its settings, from a snapshot of it taken now; started when the origin runs. Nothing writable is shared.', params: sandbox, body: ForkRequest, responses: { 201: CreatedSandbox } },
  listSnapshots: { ...at('listSnapshots'), access: 'sandbox.snapshot', tag: 'snapshots', summary: 'The snapshots of the key\'s namespace (admins: of every namespace, or of ?namespace=).', query: SnapshotQuery, responses: { 200: SnapshotList } },
  deleteSnapshot: { audit: 'snapshot.delete', ...at('deleteSnapshot'), access: 'sandbox.snapshot', tag: 'snapshots', summary: 'Delete a snapshot and its files (sandboxes started from it keep theirs).', params: SnapshotParams, responses: { 204: 'empty' } },

  // --- namespace policies ---
  listPolicies: { ...at('listPolicies'), access: 'policy.read', tag: 'policies', summary: 'The policies of the namespaces the key can see, with what they use.', responses: { 200: PolicyList } },
  getPolicy: { ...at('getPolicy'), access: 'policy.read', tag: 'policies', summary: 'One namespace\'s policy and use.', params: PolicyParams, responses: { 200: PolicyView } },
  setPolicy: { audit: 'policy.set', ...at('setPolicy'), access: 'policy.write', tag: 'policies', summary: 'Change the fields given (null: no cap; reset: start from the defaults).', params: PolicyParams, body: PolicyPatch, bodyOptional: true, responses: { 200: PolicyView } },

  // --- secrets (values go in sealed, and never come out) ---
  secretPublicKey: { ...at('secretPublicKey'), access: 'secret.write', tag: 'secrets', summary: 'The daemon\'s public key: seal a secret\'s value to it (libsodium crypto_box_seal) before sending it.', responses: { 200: SecretPublicKey } },
  listSecrets: { ...at('listSecrets'), access: 'secret.list', tag: 'secrets', summary: 'The secrets of the key\'s namespace (admins: of every namespace, or of ?namespace=): names and times, never values.', query: SecretQuery, responses: { 200: SecretList } },
  setSecret: { audit: 'secret.set', ...at('setSecret'), access: 'secret.write', tag: 'secrets', summary: 'Set a secret from a sealed box (201: new, 200: replaced). It is stored encrypted; no route reads it back.', params: SecretParams, body: SetSecretRequest, responses: { 200: SecretView, 201: SecretView } },
  deleteSecret: { audit: 'secret.delete', ...at('deleteSecret'), access: 'secret.write', tag: 'secrets', summary: 'Remove a secret: a sandbox that asks for it fails to start (NOT_FOUND) until it is set again.', params: SecretParams, query: SecretQuery, responses: { 204: 'empty' } },

  // --- keys, audit, the daemon ---
  createKey: { audit: 'key.create', ...at('createKey'), access: 'key.manage', tag: 'keys', summary: 'Create an API key; its secret comes back only here.', body: CreateKeyRequest, responses: { 201: KeyWithSecret } },
  listKeys: { ...at('listKeys'), access: 'key.manage', tag: 'keys', summary: 'Every key, masked.', responses: { 200: KeyList } },
  revokeKey: { audit: 'key.revoke', ...at('revokeKey'), access: 'key.manage', tag: 'keys', summary: 'Revoke a key: refused from the next request on.', params: key, responses: { 200: ApiKeyView } },
  rotateKey: { audit: 'key.rotate', ...at('rotateKey'), access: 'key.manage', tag: 'keys', summary: 'A new secret for a key (shown only here); the old one is refused at once.', params: key, responses: { 200: KeyWithSecret } },
  auditEvents: { ...at('auditEvents'), access: 'audit.read', tag: 'audit', summary: 'Audit events, oldest first.', query: AuditQuery, responses: { 200: AuditList } },
  verifyAudit: { ...at('verifyAudit'), access: 'audit.read', tag: 'audit', summary: 'Walk the hash chain; name the first row edited, deleted or re-linked (fleet=1: every host\'s chain, from the fleet database).', query: AuditVerifyQuery, responses: { 200: AuditVerifyResult } },
  whoami: { ...at('whoami'), access: 'sandbox.list', tag: 'daemon', summary: 'The calling key: its kind, namespace, sandbox and every action it may take.', responses: { 200: Whoami } },
  daemonInfo: { ...at('daemonInfo'), access: 'daemon.read', tag: 'daemon', summary: 'Pid, version, where it listens.', responses: { 200: DaemonInfo } },
  events: {
    ...at('events'), access: 'sandbox.list', tag: 'events', query: EventsQuery, responses: { 101: 'upgrade', 200: 'sse' },
    summary: 'The live event stream (messages: schema/events.ts), filtered by the key\'s rights: a WebSocket with one JSON text message per event, or server-sent events with `Accept: text/event-stream` (Last-Event-ID honoured). ?since=ID replays the buffered events after ID, or says with stream.gap that it cannot.',
  },
  shutdown: { audit: 'daemon.shutdown', ...at('shutdown'), access: 'daemon.shutdown', tag: 'daemon', summary: 'Stop the daemon (sandboxes keep running).', responses: { 202: ShutdownResponse } },
  daemonConfig: { ...at('daemonConfig'), access: 'daemon.configure', tag: 'daemon', summary: 'The daemon\'s run-time settings (the trace sampling rate).', responses: { 200: DaemonSettings } },
  setDaemonConfig: { audit: 'daemon.configure', ...at('setDaemonConfig'), access: 'daemon.configure', tag: 'daemon', summary: 'Change run-time settings without a restart (audited with the old and new values).', body: DaemonSettingsPatch, responses: { 200: DaemonSettings } },
  health: { ...at('health'), access: 'public', tag: 'daemon', summary: 'Whether the daemon can run sandboxes (503 lists why not).', responses: { 200: Health, 503: Health } },
  metrics: { ...at('metrics'), access: 'public', tag: 'daemon', summary: 'Prometheus metrics.', responses: { 200: 'text' } },
  openapi: { ...at('openapi'), access: 'public', tag: 'daemon', summary: 'This API, as an OpenAPI 3.1 document generated from its contract.', responses: { 200: z.record(z.string(), z.unknown()) } },

  // --- MCP ---
  mcpPost: { ...at('mcpPost'), access: 'mcp.session', tag: 'mcp', summary: 'MCP Streamable HTTP: JSON-RPC messages (a session starts with initialize).', body: 'protocol', responses: { 200: 'protocol', 202: 'protocol' } },
  mcpGet: { ...at('mcpGet'), access: 'mcp.session', tag: 'mcp', summary: 'MCP Streamable HTTP: the session\'s server-sent events.', responses: { 200: 'protocol' } },
  mcpDelete: { ...at('mcpDelete'), access: 'mcp.session', tag: 'mcp', summary: 'MCP Streamable HTTP: end the session.', responses: { 200: 'protocol' } },

  // --- the admin LLM ---
  requestAccess: { audit: 'llm.request', ...at('requestAccess'), access: 'llm.request', tag: 'llm', summary: 'Ask for a model-access key for a namespace (an admin approves).', body: AccessRequestCreate, responses: { 201: AccessRequest } },
  accessRequests: { ...at('accessRequests'), access: 'llm.manage', tag: 'llm', summary: 'Model-access requests.', responses: { 200: AccessRequestList } },
  approve: { audit: 'llm.approve', ...at('approve'), access: 'llm.manage', tag: 'llm', summary: 'Approve a request: a signed model-access key, shown only here.', params: request, body: ApproveRequest, bodyOptional: true, responses: { 200: ApproveResponse } },
  deny: { audit: 'llm.deny', ...at('deny'), access: 'llm.manage', tag: 'llm', summary: 'Deny a request.', params: request, responses: { 200: AccessRequest } },
  accessTokens: { ...at('accessTokens'), access: 'llm.manage', tag: 'llm', summary: 'Model-access keys issued (never the keys themselves).', responses: { 200: AccessTokenList } },
  revokeModelKey: { audit: 'llm.revoke', ...at('revokeModelKey'), access: 'llm.manage', tag: 'llm', summary: 'Revoke a model-access key: its next use is refused.', params: model, body: RevokeKeyRequest, responses: { 200: RevokeKeyResponse } },
  chat: { ...at('chat'), access: 'public', modelKey: true, tag: 'llm', summary: 'Chat with a model, with a model-access key and X-Cave-Namespace (stream: server-sent events).', body: ChatRequest, responses: { 200: ChatResponse } },
  adminChat: { ...at('adminChat'), access: 'llm.manage', tag: 'llm', summary: 'Chat with any model of the registry, as an admin (stream: server-sent events).', body: ChatRequest, responses: { 200: ChatResponse } },
  openaiChat: { ...at('openaiChat'), access: 'public', modelKey: true, tag: 'openai', summary: 'OpenAI-compatible chat completions (streamed or not).', body: OpenAiChatRequest, responses: { 200: ChatCompletion } },
  openaiModels: { ...at('openaiModels'), access: 'public', modelKey: true, tag: 'openai', summary: 'OpenAI-compatible model list: the key\'s own model.', responses: { 200: ModelList } },
  pullModel: { audit: 'llm.model.pull', ...at('pullModel'), access: 'llm.manage', tag: 'models', summary: 'Pull a model: download, verify in a sandbox, add to the cache (a job).', body: PullRequest, responses: { 202: StartedDownload } },
  listModels: { ...at('listModels'), access: 'llm.manage', tag: 'models', summary: 'The models in the registry.', responses: { 200: ModelManifestList } },
  getModel: { ...at('getModel'), access: 'llm.manage', tag: 'models', summary: 'One model.', params: model, responses: { 200: ModelManifest } },
  deleteModel: { audit: 'llm.model.delete', ...at('deleteModel'), access: 'llm.manage', tag: 'models', summary: 'Remove a model (its blob goes at the next gc).', params: model, responses: { 204: 'empty' } },
  redownload: { audit: 'llm.model.pull', ...at('redownload'), access: 'llm.manage', tag: 'models', summary: 'Pull a model again from its source.', params: model, responses: { 202: StartedDownload } },
  job: { ...at('job'), access: 'llm.manage', tag: 'models', summary: 'A download job\'s progress.', params: z.object({ id: z.string() }).strict(), responses: { 200: DownloadJob } },
  gc: { audit: 'llm.model.gc', ...at('gc'), access: 'llm.manage', tag: 'models', summary: 'Remove unreferenced blobs and stale partial downloads; evict models over the cap.', body: GcRequest, bodyOptional: true, responses: { 200: GcResult } },
  trust: { audit: 'llm.trust.add', ...at('trust'), access: 'llm.manage', tag: 'models', summary: 'Trust an Ed25519 key to sign models.', body: TrustRequest, responses: { 201: TrustedKey } },
  trustedKeys: { ...at('trustedKeys'), access: 'llm.manage', tag: 'models', summary: 'The trusted signing keys.', responses: { 200: TrustedKeyList } },
  // --- P2P plugin (admin hosts): this node, its trusted peers, models from peers ---
  peersInit: { audit: 'peer.init', ...at('peersInit'), access: 'peer.manage', tag: 'peers', summary: 'Create this host\'s P2P identity and, if needed, the network key (or take the fleet\'s).', body: PeersInitRequest, bodyOptional: true, responses: { 200: PeersInitResponse } },
  peersStatus: { ...at('peersStatus'), access: 'peer.manage', tag: 'peers', summary: 'This host\'s P2P node: enabled, peer id, addresses, trusted and connected peers.', responses: { 200: PeersStatus } },
  listPeers: { ...at('listPeers'), access: 'peer.manage', tag: 'peers', summary: 'The trusted peers: connected or not, latency, the models they hold.', responses: { 200: PeerList } },
  addPeer: { audit: 'peer.add', ...at('addPeer'), access: 'peer.manage', tag: 'peers', summary: 'Trust a peer (a multiaddr ending in /p2p/ID, or a bare peer id) and connect to it.', body: AddPeerRequest, responses: { 200: PeerView, 201: PeerView } },
  removePeer: { audit: 'peer.remove', ...at('removePeer'), access: 'peer.manage', tag: 'peers', summary: 'Stop trusting a peer; its connections are closed.', params: PeerParams, responses: { 204: 'empty' } },
  peerPull: { audit: 'llm.model.pull', ...at('peerPull'), access: 'peer.manage', tag: 'peers', summary: 'Pull a model from the trusted peers that hold it, in verified chunks, then verify it in a sandbox (a job).', body: PeerPullRequest, responses: { 202: StartedDownload } },
  untrust: { audit: 'llm.trust.remove', ...at('untrust'), access: 'llm.manage', tag: 'models', summary: 'Stop trusting a signing key.', params: z.object({ fingerprint: z.string() }).strict(), responses: { 204: 'empty' } },
} as const satisfies Record<RouteId, RouteSpec>;

export type { RouteId } from './paths.js';

/** Every route, for the router, the OpenAPI generator and the tests. */
export const ALL_ROUTES: readonly RouteSpec[] = Object.values(ROUTES);

