/** What the sandbox service and its parts are built from: the daemon's composition root passes it once. */
import type { Logger } from '../../log.js';
import type { SandboxEngine } from '../../runtime/engine.js';
import type { HostInfo } from '../../runtime/host.js';
import type { Tracing } from '../../runtime/tracing.js';
import type { AuditLog } from '../../store/audit.js';
import type { ExecutionRepo, NamespaceRepo, ProjectRepo, SandboxRepo } from '../../store/repos/index.js';
import type { SnapshotRepository } from '../../store/repositories.js';
import type { ApiKeyStore } from '../auth/api-keys.js';
import type { Authorizer } from '../auth/authorize.js';
import type { Quotas } from '../auth/quotas.js';
import type { SandboxEvents } from '../events/publisher.js';
import type { DaemonMetrics } from '../metrics.js';
import type { SecretVault } from '../secrets/vault.js';
import type { SandboxDefinitions } from './definition.js';
import type { RemoteSandboxes } from './remote.js';

export interface ServiceDeps {
  log: Logger;
  host: HostInfo;
  engine: SandboxEngine;
  /** Definitions from store rows; the engine rebuilds from the same ones (see main.ts). */
  definitions: SandboxDefinitions;
  sandboxes: SandboxRepo;
  namespaces: NamespaceRepo;
  projects: ProjectRepo;
  executions: ExecutionRepo;
  /** Run `fn` in one transaction over the store (the repositories above share its database). */
  transaction: <T>(fn: () => T) => T;
  keys: ApiKeyStore;
  audit: AuditLog;
  authz: Authorizer;
  quotas: Quotas;
  /** The namespaces' secrets: checked at create, masked in what is stored about commands. */
  secrets: SecretVault;
  metrics: DaemonMetrics;
  /** Where stopped sandboxes keep their files ($BKG_HOME/sandboxes/ID/files): deleted only with the sandbox. */
  stateDir: string;
  /** Snapshots: their rows, and where their files are ($BKG_HOME/snapshots/ID): deleted only by `snapshot rm`. */
  snapshots: SnapshotRepository;
  snapshotDir: string;
  /** The live event stream: what happens to sandboxes and their commands (absent: nobody listens). */
  events?: SandboxEvents;
  /** The fleet's other hosts: calls on the sandboxes they run are forwarded there (absent: every sandbox is this host's). */
  remote?: RemoteSandboxes;
  now?: () => Date;
  /** Traces: each audited operation is a span (absent: none). */
  tracing?: Tracing;
}

/** The deps as the parts use them: with a clock. */
export type PartDeps = ServiceDeps & { now: () => Date };
