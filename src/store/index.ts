/**
 * The store: every table of bkg behind one repository per table group, over one SQLite file.
 *
 *   const store = openStore(join(home, 'bkg.db'));
 *   store.sandboxes.get(id);
 *   store.transaction(() => { ...; store.audit.append(...); });
 *   store.close();
 *
 * All SQL of bkg lives under src/store. Each repository prepares its statements once, when it is
 * built (DownloadJobRepo.update: once per set of columns). The interfaces in ./repositories.ts are
 * the seam for another database; SqliteStore names the SQLite classes so that code typed against
 * them (e.g. `SandboxRepo`) takes its repositories as they are.
 */
import { AuditLog } from './audit.js';
import { openDb, type Db } from './db.js';
import { claimHostId } from './host-id.js';
import { ApiKeyRepo } from './repos/api-keys.js';
import { ExecutionRepo } from './repos/executions.js';
import { LlmAccessRepo } from './repos/llm-access.js';
import { DownloadJobRepo, ModelRepo, TrustedKeyRepo } from './repos/models.js';
import { NamespacePolicyRepo } from './repos/policies.js';
import { NamespaceRepo, ProjectRepo } from './repos/projects.js';
import { ModelSignatureRepo, PeerRepo } from './repos/peers.js';
import { RateLimitRepo } from './repos/rate-limits.js';
import { SandboxRepo } from './repos/sandboxes.js';
import { SecretRepo } from './repos/secrets.js';
import { SnapshotRepo } from './repos/snapshots.js';
import type { Store } from './repositories.js';

export type * from './repositories.js';
export type * from './types.js';
export { JOB_STATUSES, SANDBOX_STATUSES } from './types.js';
export { AuditLog } from './audit.js';
export { ApiKeyRepo } from './repos/api-keys.js';
export { ExecutionRepo } from './repos/executions.js';
export { LlmAccessRepo } from './repos/llm-access.js';
export { DownloadJobRepo, ModelRepo, TrustedKeyRepo } from './repos/models.js';
export { NamespacePolicyRepo } from './repos/policies.js';
export { NamespaceRepo, ProjectRepo } from './repos/projects.js';
export { ModelSignatureRepo, PeerRepo } from './repos/peers.js';
export { RateLimitRepo } from './repos/rate-limits.js';
export { SandboxRepo, sandboxFromRow } from './repos/sandboxes.js';
export { SecretRepo } from './repos/secrets.js';
export { SnapshotRepo } from './repos/snapshots.js';
export type { Db } from './db.js';

export interface StoreOptions {
  /** The clock of every repository that stamps rows itself (created_at, updated_at, audit `at`). */
  now?: () => Date;
}

/** The Store on SQLite: its connection, and each repository as its SQLite class. */
export interface SqliteStore extends Store {
  /** The connection. Outside src/store only for tests (to tamper with rows); code goes through the repositories. */
  readonly db: Db;
  readonly projects: ProjectRepo;
  readonly namespaces: NamespaceRepo;
  readonly sandboxes: SandboxRepo;
  readonly executions: ExecutionRepo;
  readonly apiKeys: ApiKeyRepo;
  readonly rateLimits: RateLimitRepo;
  readonly policies: NamespacePolicyRepo;
  readonly audit: AuditLog;
  readonly models: ModelRepo;
  readonly trustedKeys: TrustedKeyRepo;
  readonly downloadJobs: DownloadJobRepo;
  readonly llmAccess: LlmAccessRepo;
  readonly secrets: SecretRepo;
  readonly snapshots: SnapshotRepo;
  readonly peers: PeerRepo;
  readonly modelSignatures: ModelSignatureRepo;
}

/** Open (creating and migrating as needed) the database file at `path`, and build the store over it. */
export function openStore(path: string, opts: StoreOptions = {}): SqliteStore {
  const db = openDb(path);
  try {
    return createStore(db, opts);
  } catch (err) {
    db.close();
    throw err;
  }
}

/** Build the store over an open, migrated connection; closing the store closes it. */
export function createStore(db: Db, opts: StoreOptions = {}): SqliteStore {
  const now = opts.now ?? (() => new Date());
  const hostId = claimHostId(db);
  return {
    db,
    hostId,
    projects: new ProjectRepo(db, now),
    namespaces: new NamespaceRepo(db, now),
    sandboxes: new SandboxRepo(db, now, hostId),
    executions: new ExecutionRepo(db),
    apiKeys: new ApiKeyRepo(db, hostId),
    rateLimits: new RateLimitRepo(db),
    policies: new NamespacePolicyRepo(db, now),
    audit: new AuditLog(db, now),
    models: new ModelRepo(db),
    trustedKeys: new TrustedKeyRepo(db),
    downloadJobs: new DownloadJobRepo(db, now),
    llmAccess: new LlmAccessRepo(db),
    secrets: new SecretRepo(db, now),
    snapshots: new SnapshotRepo(db),
    peers: new PeerRepo(db, now),
    modelSignatures: new ModelSignatureRepo(db),
    transaction: <T>(fn: () => T): T => db.transaction(fn)(),
    close: () => {
      if (db.open) db.close();
    },
  };
}
