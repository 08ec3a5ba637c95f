/**
 * Where each route of the contract is: its method and path, without zod, so the CLI's client can
 * build requests without loading the schemas (routes.ts adds them, and everything else).
 */
export const PATHS = {
  createSandbox: 'POST /api/v1/sandboxes',
  listSandboxes: 'GET /api/v1/sandboxes',
  getSandbox: 'GET /api/v1/sandboxes/:id',
  startSandbox: 'POST /api/v1/sandboxes/:id/start',
  stopSandbox: 'POST /api/v1/sandboxes/:id/stop',
  deleteSandbox: 'DELETE /api/v1/sandboxes/:id',
  execSandbox: 'POST /api/v1/sandboxes/:id/exec',
  execStream: 'GET /api/v1/sandboxes/:id/exec/ws',
  changes: 'GET /api/v1/sandboxes/:id/changes',
  apply: 'POST /api/v1/sandboxes/:id/apply',
  readFile: 'GET /api/v1/sandboxes/:id/files',
  writeFile: 'PUT /api/v1/sandboxes/:id/files',
  logs: 'GET /api/v1/sandboxes/:id/logs',
  createSnapshot: 'POST /api/v1/sandboxes/:id/snapshots',
  forkSandbox: 'POST /api/v1/sandboxes/:id/fork',
  listSnapshots: 'GET /api/v1/snapshots',
  deleteSnapshot: 'DELETE /api/v1/snapshots/:ref',
  listPolicies: 'GET /api/v1/policies',
  getPolicy: 'GET /api/v1/policies/:namespace',
  setPolicy: 'PATCH /api/v1/policies/:namespace',
  createKey: 'POST /api/v1/keys',
  listKeys: 'GET /api/v1/keys',
  revokeKey: 'POST /api/v1/keys/:id/revoke',
  rotateKey: 'POST /api/v1/keys/:id/rotate',
  secretPublicKey: 'GET /api/v1/secrets/public-key',
  listSecrets: 'GET /api/v1/secrets',
  setSecret: 'PUT /api/v1/secrets/:name',
  deleteSecret: 'DELETE /api/v1/secrets/:name',
  auditEvents: 'GET /api/v1/audit',
  verifyAudit: 'GET /api/v1/audit/verify',
  daemonInfo: 'GET /api/v1/daemon',
  whoami: 'GET /api/v1/whoami',
  events: 'GET /api/v1/events',
  shutdown: 'POST /api/v1/daemon/shutdown',
  daemonConfig: 'GET /api/v1/daemon/config',
  setDaemonConfig: 'PATCH /api/v1/daemon/config',
  health: 'GET /healthz',
  metrics: 'GET /metrics',
  openapi: 'GET /api/v1/openapi.json',
  mcpPost: 'POST /mcp',
  mcpGet: 'GET /mcp',
  mcpDelete: 'DELETE /mcp',
  requestAccess: 'POST /api/v1/llm/requests',
  accessRequests: 'GET /api/v1/admin/llm/requests',
  approve: 'POST /api/v1/admin/llm/requests/:id/approve',
  deny: 'POST /api/v1/admin/llm/requests/:id/deny',
  accessTokens: 'GET /api/v1/admin/llm/tokens',
  revokeModelKey: 'POST /api/v1/admin/llm/models/:id/revoke_key',
  chat: 'POST /api/v1/llm/chat',
  adminChat: 'POST /api/v1/admin/llm/chat',
  openaiChat: 'POST /v1/chat/completions',
  openaiModels: 'GET /v1/models',
  pullModel: 'POST /api/v1/admin/llm/models',
  listModels: 'GET /api/v1/admin/llm/models',
  getModel: 'GET /api/v1/admin/llm/models/:id',
  deleteModel: 'DELETE /api/v1/admin/llm/models/:id',
  redownload: 'POST /api/v1/admin/llm/models/:id/download',
  job: 'GET /api/v1/admin/llm/jobs/:id',
  gc: 'POST /api/v1/admin/llm/gc',
  trust: 'POST /api/v1/admin/llm/trust',
  trustedKeys: 'GET /api/v1/admin/llm/trust',
  untrust: 'DELETE /api/v1/admin/llm/trust/:fingerprint',
  peersInit: 'POST /api/v1/admin/peers/init',
  peersStatus: 'GET /api/v1/admin/peers/status',
  listPeers: 'GET /api/v1/admin/peers',
  addPeer: 'POST /api/v1/admin/peers',
  removePeer: 'DELETE /api/v1/admin/peers/:id',
  peerPull: 'POST /api/v1/admin/peers/pull',
} as const;

export type RouteId = keyof typeof PATHS;

/** Routes whose successful answer is not JSON (bytes, text), as routes.ts declares them. */
export const RAW_ANSWERS: ReadonlySet<RouteId> = new Set<RouteId>(['readFile', 'metrics']);
export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

type MethodOf<S extends string> = S extends `${infer M extends Method} ${string}` ? M : never;
type PathOf<S extends string> = S extends `${Method} ${infer P}` ? P : never;

/** The method and path of a route, as the route table spreads them into its entry. */
export function at<K extends RouteId>(id: K): { method: MethodOf<(typeof PATHS)[K]>; path: PathOf<(typeof PATHS)[K]> } {
  const [method, path] = PATHS[id].split(' ') as [MethodOf<(typeof PATHS)[K]>, PathOf<(typeof PATHS)[K]>];
  return { method, path };
}

/** The path of a route with its parameters filled in (each percent-encoded). */
export function pathOf(id: RouteId, params: Readonly<Record<string, string>> = {}): string {
  return at(id).path.replace(/:([A-Za-z_]\w*)/g, (_, name: string) => {
    const v = params[name];
    if (v === undefined) throw new Error(`route ${id}: no value for :${name}`);
    return encodeURIComponent(v);
  });
}
