/**
 * The records the store reads and writes, independent of the database behind it (no SQLite types):
 * what every repository interface (./repositories.ts) takes and returns. Timestamps are ISO-8601
 * strings (UTC) unless a field says otherwise.
 */
import type { NamespacePolicy } from '../api/policies.js';
import type { NetworkMode } from '../runtime/definition.js';
import type { Limits } from '../runtime/limits.js';
import type { Role } from '../api/names.js';
import type { SecretRef } from '../api/secrets.js';

export type { ModelManifest } from '../api/schema/llm.js';
export type { Role } from '../api/names.js';

// ---- projects and namespaces ----

export interface Project {
  id: string;
  name: string;
  createdAt: string;
}

export interface Namespace {
  id: string;
  name: string;
  projectId: string | null;
  createdAt: string;
}

// ---- sandboxes ----

export const SANDBOX_STATUSES = ['created', 'running', 'stopped', 'failed'] as const;
export type SandboxStatus = (typeof SANDBOX_STATUSES)[number];

export interface NewSandbox {
  id: string;
  name: string;
  namespaceId: string;
  projectId?: string | null;
  runtime: string;
  limits: Limits;
  network: NetworkMode;
  env?: Record<string, string>;
  workspace?: string | null;
  allowNestedNamespaces?: boolean;
  /** A custom OCI seccomp profile, as given (null: bkg's default). */
  seccomp?: Record<string, unknown> | null;
  /** The secrets it is given when it starts (names and how; values live in `secrets`). */
  secrets?: SecretRef[];
  status?: SandboxStatus;
  expiresAt?: Date | null;
  idleExpiresAt?: Date | null;
}

/** A sandbox as stored; timestamps are ISO-8601 strings (UTC), null when not (yet) set. */
export interface Sandbox {
  id: string;
  name: string;
  namespaceId: string;
  projectId: string | null;
  runtime: string;
  limits: Limits;
  network: NetworkMode;
  env: Record<string, string>;
  workspace: string | null;
  allowNestedNamespaces: boolean;
  seccomp: Record<string, unknown> | null;
  secrets: SecretRef[];
  status: SandboxStatus;
  pid: number | null;
  helperPid: number | null;
  helperStartTime: string | null;
  scratchFd: number | null;
  startedAt: string | null;
  expiresAt: string | null;
  idleExpiresAt: string | null;
  lastActivityAt: string | null;
  createdAt: string;
  /** The host that runs it (its id); others' sandboxes arrive by fleet sync. */
  host: string;
}

export interface NamespaceUsageCounts {
  sandboxes: number;
  running: number;
  /** Sums of the running sandboxes' memory and pids limits. */
  memoryBytes: number;
  pids: number;
}

export interface RuntimeInfo {
  pid: number | null;
  helperPid: number | null;
  helperStartTime?: string | null;
  scratchFd?: number | null;
  startedAt: Date | null;
  expiresAt: Date | null;
}

// ---- secrets ----

/** A secret as stored: its value only as ciphertext (sealed by the daemon, src/daemon/secrets). */
export interface StoredSecret {
  namespaceId: string;
  name: string;
  ciphertext: Buffer;
  createdAt: string;
  updatedAt: string;
  updatedBy: string;
}

/** A secret as listed: never even its ciphertext. */
export type SecretInfo = Omit<StoredSecret, 'ciphertext'>;

// ---- executions ----

export interface NewExecution {
  /** Generated (`exe_…`) when absent. */
  id?: string;
  sandboxId: string;
  cmd: string[];
  exitCode?: number | null;
  signal?: string | null;
  timedOut?: boolean;
  oomKilled?: boolean;
  durationMs?: number | null;
  startedAt: Date;
  /** Who ran it, e.g. an API key id. */
  actor: string;
}

export interface Execution {
  id: string;
  sandboxId: string;
  cmd: string[];
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  oomKilled: boolean;
  durationMs: number | null;
  startedAt: string;
  actor: string;
}

// ---- rate limits and namespace policies ----

export interface RateLimit {
  role: Role;
  ratePerSec: number;
  burst: number;
}

export interface StoredPolicy {
  namespaceId: string;
  policy: NamespacePolicy;
  updatedAt: string;
  updatedBy: string;
}

// ---- audit log ----

export interface AuditInput {
  actor: string;
  namespace?: string | null;
  action: string;
  target?: string | null;
  outcome: 'ok' | 'denied' | 'error';
  details?: Record<string, unknown>;
}

export interface AuditEvent extends Required<Omit<AuditInput, 'details'>> {
  seq: number;
  at: string;
  details: Record<string, unknown> | null;
  prevHash: string;
  hash: string;
}

// ---- API keys (rows: the secret is sealed by the daemon's ApiKeyStore, never seen here) ----

/** The sealed secret of a key: its lookup HMAC (hex), AES-GCM ciphertext, iv and tag, and the masked ends. */
export interface SealedApiKey {
  lookup_hash: string;
  ciphertext: Buffer;
  iv: Buffer;
  tag: Buffer;
  prefix: string;
  suffix: string;
}

/** A whole api_keys row. */
export interface ApiKeyRow extends SealedApiKey {
  id: string;
  name: string;
  role: Role;
  namespace_id: string | null;
  sandbox_id: string | null;
  created_at: string;
  revoked_at: string | null;
  last_used_at: string | null;
  /** The host the key was made on (keys arrive from other hosts by fleet sync). */
  origin_host: string;
}

/** What listing shows: everything but the sealed secret (the masked ends are kept). */
export type ApiKeyInfoRow = Pick<ApiKeyRow, 'id' | 'name' | 'role' | 'namespace_id' | 'sandbox_id' | 'prefix' | 'suffix' | 'created_at' | 'revoked_at' | 'last_used_at'>;

/** What authentication needs from the row found by lookup hash. */
export type ApiKeyAuthRow = Pick<ApiKeyRow, 'id' | 'name' | 'role' | 'namespace_id' | 'sandbox_id' | 'lookup_hash' | 'revoked_at' | 'origin_host'>;

/** What decrypting a key needs. */
export type ApiKeyCipherRow = Pick<ApiKeyRow, 'id' | 'ciphertext' | 'iv' | 'tag' | 'revoked_at'>;

// ---- model registry ----

export const JOB_STATUSES = ['queued', 'downloading', 'verifying', 'done', 'failed'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** A download job as stored and as the API shows it. */
export interface DownloadJob {
  id: string;
  model_id: string | null;
  /** The source as given (URL or local path). */
  source: string;
  status: JobStatus;
  bytes_done: number;
  bytes_total: number | null;
  /** "CODE: message" when the job failed. */
  error: string | null;
  created_at: string;
  updated_at: string;
}

/** The columns of a download job that may change after it was created (updated_at moves with them). */
export type DownloadJobPatch = Partial<Pick<DownloadJob, 'model_id' | 'status' | 'bytes_done' | 'bytes_total' | 'error'>>;

export interface TrustedKey {
  fingerprint: string;
  name: string;
  /** Raw 32-byte Ed25519 public key, base64. */
  public_key: string;
  created_at: string;
}

// ---- model access (requests for a model from a namespace, and the keys issued for them) ----

export interface AccessRequest {
  id: string;
  model_id: string;
  cave_namespace: string;
  requested_by: string;
  status: 'pending' | 'approved' | 'denied';
  created_at: string;
  decided_at: string | null;
  decided_by: string | null;
  token_id: string | null;
}

/** An issued model-access key (never the JWT itself, only its id and claims). */
export interface AccessToken {
  jti: string;
  model_id: string;
  cave_ns: string;
  scopes: string[];
  rpm: number;
  expires_at: string;
  revoked_at: string | null;
  created_at: string;
}

/** What approving a request records: the new token, and who decided when. */
export interface AccessApproval {
  requestId: string;
  jti: string;
  modelId: string;
  namespace: string;
  scopes: readonly string[];
  rpm: number;
  expiresAt: string;
  /** When the token was created and the request decided. */
  at: string;
  decidedBy: string;
}

// ---- snapshots ----

/** A sandbox's writable layer saved at one moment (the files: $BKG_HOME/snapshots/<id>). */
export interface Snapshot {
  id: string;
  namespaceId: string;
  /** The origin, by id and by name as it was then (it may have been deleted since). */
  sandboxId: string;
  sandboxName: string;
  tag: string | null;
  sizeBytes: number;
  createdAt: string;
  createdBy: string;
}
