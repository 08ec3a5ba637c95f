/**
 * The tables a fleet shares through Postgres, and how each is keyed. Everything else (executions,
 * download jobs, schema bookkeeping) stays on its host; the audit log travels on its own cursor.
 */
export interface ReplicatedTable {
  readonly name: string;
  /** The columns that identify a row on every host. */
  readonly pk: readonly string[];
  /** SQL over the row `r` giving its namespace id (Postgres row-level security keys on it); null: not namespace-scoped. */
  readonly namespace: string | null;
  /** Columns that change on every use (last_used_at, ...): a change to only these is not replicated. */
  readonly volatile?: readonly string[];
  /** Columns that are local (a host's own surrogate key): never sent, never overwritten. */
  readonly local?: readonly string[];
}

/** In dependency order: a row's references come before it (the bootstrap snapshot goes in this order). */
export const REPLICATED: readonly ReplicatedTable[] = [
  { name: 'projects', pk: ['id'], namespace: null },
  { name: 'namespaces', pk: ['id'], namespace: 'r.id' },
  { name: 'sandboxes', pk: ['id'], namespace: 'r.namespace_id', volatile: ['last_activity_at', 'idle_expires_at'] },
  { name: 'api_keys', pk: ['id'], namespace: 'r.namespace_id', volatile: ['last_used_at'] },
  { name: 'policies', pk: ['namespace_id'], namespace: 'r.namespace_id' },
  // ciphertext under the master key, which every host of a fleet shares: any host can give a sandbox its secrets
  { name: 'secrets', pk: ['namespace_id', 'name'], namespace: 'r.namespace_id' },
  { name: 'rate_limits', pk: ['role'], namespace: null, local: ['id'] },
  { name: 'models', pk: ['id'], namespace: null, volatile: ['last_used_at'] },
  { name: 'trusted_keys', pk: ['fingerprint'], namespace: null },
  { name: 'llm_access_requests', pk: ['id'], namespace: '(SELECT id FROM namespaces WHERE name = r.cave_namespace)' },
  { name: 'llm_access_tokens', pk: ['jti'], namespace: '(SELECT id FROM namespaces WHERE name = r.cave_ns)' },
];

export function replicatedTable(name: string): ReplicatedTable | undefined {
  return REPLICATED.find((t) => t.name === name);
}
