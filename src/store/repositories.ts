/**
 * The repository interfaces: the seam between bkg and its database. The SQLite classes in ./repos
 * and ./audit.ts implement them today; another database plugs in by implementing the same
 * interfaces and a Store. They name no database types; every method is synchronous, and errors are
 * BkgErrors (constraint failures are translated by the implementation: CONFLICT, NOT_FOUND).
 */
import type { NamespacePolicy } from '../api/policies.js';
import type { ModelManifest } from '../api/schema/llm.js';
import type { Role } from '../api/names.js';
import type {
  AccessApproval,
  AccessRequest,
  AccessToken,
  ApiKeyAuthRow,
  ApiKeyCipherRow,
  ApiKeyInfoRow,
  ApiKeyRow,
  AuditEvent,
  AuditInput,
  DownloadJob,
  DownloadJobPatch,
  Execution,
  Namespace,
  NamespaceUsageCounts,
  NewExecution,
  NewSandbox,
  Project,
  RateLimit,
  RuntimeInfo,
  SealedApiKey,
  Snapshot,
  Sandbox,
  SecretInfo,
  StoredSecret,
  SandboxStatus,
  StoredPolicy,
  TrustedKey,
} from './types.js';

export interface ProjectRepository {
  /** The project with this name, created if absent. Safe against concurrent creators. */
  ensure(name: string): Project;
  get(id: string): Project | null;
  getByName(name: string): Project | null;
  list(): Project[];
}

export interface NamespaceRepository {
  /** The namespace with this name, created (in `projectId`, if given) when absent; never moved to another project. */
  ensure(name: string, projectId?: string | null): Namespace;
  get(id: string): Namespace | null;
  getByName(name: string): Namespace | null;
  /** All namespaces, or those of one project; by name. */
  list(projectId?: string): Namespace[];
}

export interface SandboxRepository {
  /**
   * Record a new sandbox (CONFLICT on a name taken in its namespace). `admit` sees the namespace's
   * usage in the same (immediate) transaction as the insert and throws to refuse.
   */
  insert(input: NewSandbox, admit?: (usage: NamespaceUsageCounts) => void): Sandbox;
  get(id: string): Sandbox | null;
  /** By id, else by name, within a namespace (null: all of them; a name shared across namespaces is refused). */
  getByIdOrName(namespaceId: string | null, idOrName: string): Sandbox | null;
  /** Sandboxes of one namespace, or of all for null; oldest first. */
  list(namespaceId: string | null, opts?: { status?: SandboxStatus; allHosts?: boolean }): Sandbox[];
  usage(namespaceId: string): NamespaceUsageCounts;
  /** Running sandboxes whose wall-clock or idle deadline is at or before `now`. */
  listExpired(now: Date): Sandbox[];
  /** The updated sandbox; NOT_FOUND when there is none. */
  updateStatus(id: string, status: SandboxStatus): Sandbox;
  setRuntimeInfo(id: string, info: RuntimeInfo): Sandbox;
  /** Record activity at `at`; also moves the idle deadline when `idleExpiresAt` is given (null clears it). */
  touch(id: string, at?: Date, idleExpiresAt?: Date | null): Sandbox;
  /** Delete a sandbox with its executions and its own API keys. False when there was none. */
  delete(id: string): boolean;
}

export interface ExecutionRepository {
  insert(input: NewExecution): Execution;
  /** In the order they started; with `limit`, only the latest `limit`. */
  listForSandbox(sandboxId: string, opts?: { limit?: number }): Execution[];
}

export interface RateLimitRepository {
  list(): RateLimit[];
  /** Insert or replace the policy of one role (INVALID_CONFIG when it is not valid). */
  set(policy: RateLimit): RateLimit;
  delete(role: Role): boolean;
}

export interface NamespacePolicyRepository {
  get(namespaceId: string): StoredPolicy | null;
  list(): StoredPolicy[];
  set(namespaceId: string, policy: NamespacePolicy, updatedBy: string): StoredPolicy;
  delete(namespaceId: string): boolean;
}

/** secrets rows: ciphertext only (the daemon's SecretVault encrypts and decrypts). */
export interface SecretRepository {
  /** Insert or replace (created_at kept); NOT_FOUND when the namespace does not exist. */
  set(input: { namespaceId: string; name: string; ciphertext: Buffer; updatedBy: string }): { secret: SecretInfo; created: boolean };
  get(namespaceId: string, name: string): StoredSecret | null;
  /** One namespace's, or every namespace's for null; by namespace and name. */
  list(namespaceId: string | null): SecretInfo[];
  delete(namespaceId: string, name: string): boolean;
}

/** snapshots rows (the files are the daemon's: $BKG_HOME/snapshots/<id>). */
export interface SnapshotRepository {
  /** CONFLICT when the origin already has a snapshot with this tag in the namespace. */
  insert(s: Snapshot): Snapshot;
  get(id: string): Snapshot | null;
  /** By origin name and tag, in one namespace. */
  byTag(namespaceId: string, sandboxName: string, tag: string): Snapshot | null;
  /** One namespace's, or every namespace's for null; oldest first. */
  list(namespaceId: string | null): Snapshot[];
  delete(id: string): boolean;
}

export type AuditVerifyResult = { ok: true; count: number } | { ok: false; count: number; seq: number; reason: string };

/** The append-only, hash-chained audit log (the chain itself: ./audit-chain.ts). */
export interface AuditRepository {
  /** Append one event, atomically chained to the last one. */
  append(input: AuditInput): AuditEvent;
  list(opts?: { since?: Date; limit?: number }): AuditEvent[];
  /** Walk the chain; the first broken link is reported by sequence number. */
  verify(): AuditVerifyResult;
}

/** api_keys rows. The secret is sealed (and checked) by the daemon's ApiKeyStore; this only stores it. */
export interface ApiKeyRepository {
  /** NOT_FOUND when the namespace does not exist. */
  insert(row: Omit<ApiKeyRow, 'origin_host'>): void;
  findByLookupHash(lookupHash: string): ApiKeyAuthRow | null;
  markUsed(id: string, at: string): void;
  get(id: string): ApiKeyInfoRow | null;
  /** Oldest first; all keys, or those scoped to one namespace. */
  list(opts?: { namespaceId?: string }): ApiKeyInfoRow[];
  /** A namespace's live (unrevoked) sandbox keys, oldest first: only what a sandbox list shows of them, as [sandbox id, prefix, suffix]. */
  sandboxKeys(namespaceId: string): [sandboxId: string, prefix: string, suffix: string][];
  /** Set revoked_at unless already revoked. */
  revoke(id: string, at: string): void;
  /** Replace the sealed secret of a key. */
  setSecret(id: string, sealed: SealedApiKey): void;
  getCipher(id: string): ApiKeyCipherRow | null;
}

export interface ModelRepository {
  get(id: string): ModelManifest | null;
  bySha256(sha256: string): ModelManifest | null;
  list(): ModelManifest[];
  /** Least recently used first (never used: by creation time). */
  listLru(): ModelManifest[];
  /** CONFLICT when the id or digest is taken. */
  insert(m: ModelManifest): void;
  setSignedBy(id: string, fingerprint: string): void;
  touch(id: string, at: string): boolean;
  delete(id: string): boolean;
  shaSet(): Set<string>;
}

export interface TrustedKeyRepository {
  get(fingerprint: string): TrustedKey | null;
  list(): TrustedKey[];
  /** Insert, or return the existing row for the same key (CONFLICT: another key has the fingerprint). */
  ensure(k: TrustedKey): TrustedKey;
  delete(fingerprint: string): boolean;
}

export interface DownloadJobRepository {
  create(input: { source: string; modelId: string | null }): DownloadJob;
  get(id: string): DownloadJob | null;
  /** Change some columns (others in the patch are ignored); updated_at moves. */
  update(id: string, patch: DownloadJobPatch): void;
  /** Jobs left unfinished by a previous daemon: marked failed. Returns how many. */
  failUnfinished(reason: string): number;
}

/** llm_access_requests and llm_access_tokens. Signing and checking the keys is ModelAccess's part. */
export interface LlmAccessRepository {
  insertRequest(r: AccessRequest): void;
  /** All requests, oldest first. */
  listRequests(): AccessRequest[];
  getRequest(id: string): AccessRequest | null;
  /** Record the token and mark the request approved, in one transaction. */
  approve(a: AccessApproval): void;
  deny(id: string, by: string, at: string): void;
  /** All tokens, oldest first. */
  listTokens(): AccessToken[];
  /** False when `modelId` has no token `jti`. */
  revokeToken(modelId: string, jti: string, at: string): boolean;
  /** The ids of every revoked token. */
  revokedTokenIds(): string[];
}

/** A peer this host's P2P node trusts (README "P2P plugin"). */
export interface PeerRow {
  peerId: string;
  /** Multiaddrs it was added with (without /p2p/ID). */
  addrs: string[];
  name: string | null;
  addedAt: string;
  addedBy: string;
  /** Bad chunks it sent (each one discarded and fetched elsewhere). */
  penalties: number;
  lastSeenAt: string | null;
}

export interface SealedP2pIdentity {
  peerId: string;
  /** The private key, encrypted under the master key: iv || tag || data. */
  ciphertext: Buffer;
}

export interface P2pIdentityRow extends SealedP2pIdentity {
  createdAt: string;
}

export interface PeerRepository {
  get(peerId: string): PeerRow | null;
  list(): PeerRow[];
  upsert(peerId: string, addrs: string[], name: string | null, by: string): { peer: PeerRow; created: boolean };
  delete(peerId: string): boolean;
  penalise(peerId: string): void;
  seen(peerId: string, at: string): void;
  identity(): P2pIdentityRow | null;
  /** CONFLICT when the host has one already. */
  setIdentity(id: SealedP2pIdentity): void;
}

/** The detached signature each signed model was verified with, by its sha256. */
export interface ModelSignatureRepository {
  get(sha256: string): Buffer | null;
  put(sha256: string, signature: Buffer): void;
}

/** Every repository over one database, and the transaction that spans them. */
export interface Store {
  /** This host's id in a fleet (kept in the database; the same across restarts). */
  readonly hostId: string;
  readonly projects: ProjectRepository;
  readonly namespaces: NamespaceRepository;
  readonly sandboxes: SandboxRepository;
  readonly executions: ExecutionRepository;
  readonly apiKeys: ApiKeyRepository;
  readonly rateLimits: RateLimitRepository;
  readonly policies: NamespacePolicyRepository;
  readonly audit: AuditRepository;
  readonly models: ModelRepository;
  readonly trustedKeys: TrustedKeyRepository;
  readonly downloadJobs: DownloadJobRepository;
  readonly llmAccess: LlmAccessRepository;
  readonly secrets: SecretRepository;
  readonly snapshots: SnapshotRepository;
  readonly peers: PeerRepository;
  readonly modelSignatures: ModelSignatureRepository;
  /**
   * Run `fn` in one transaction over all repositories: committed when it returns, rolled back when
   * it throws. Nests (an inner call is a savepoint). `fn` must be synchronous.
   */
  transaction<T>(fn: () => T): T;
  close(): void;
}
