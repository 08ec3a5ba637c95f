/**
 * The sandboxes behind the API: the one object REST, MCP and the exec WebSocket call. It knows
 * nothing of HTTP and holds no logic of its own: each call goes to the part that does that job, or,
 * for a sandbox another host of the fleet runs, is authorised here and forwarded there (remote.ts).
 */
import type { ExecutionView } from '../../api/admin.js';
import type { CreateSandboxRequest, ExecRequest, ExecResponse, SandboxView } from '../../api/sandboxes.js';
import type { Change } from '../../runtime/changes.js';
import type { ExecResult, RunIO } from '../../runtime/engine.js';
import { limitsToView } from '../../runtime/from-request.js';
import type { Sandbox } from '../../store/repos/index.js';
import type { Principal } from '../auth/api-keys.js';
import type { Action } from '../auth/rights.js';
import { SandboxAccess } from './access.js';
import { SandboxAudit } from './audit.js';
import type { ServiceDeps } from './deps.js';
import { SandboxExec, type ExecWithRequest } from './exec.js';
import { SandboxFiles, type FileEntry } from './files.js';
import { SandboxHousekeeping } from './housekeeping.js';
import { SandboxLifecycle } from './lifecycle.js';
import { SandboxRemote } from './remote.js';
import { SavedFiles } from './saved-files.js';
import { SandboxSnapshots } from './snapshots.js';
import { SandboxViews } from './views.js';
import { SandboxWorkspace } from './workspace.js';

export { execSummary } from './views.js';
export type { ServiceDeps } from './deps.js';
export type { RemoteSandboxes } from './remote.js';

export class SandboxService {
  private readonly access: SandboxAccess;
  private readonly views: SandboxViews;
  private readonly lifecycle: SandboxLifecycle;
  private readonly execs: SandboxExec;
  private readonly files: SandboxFiles;
  private readonly workspace: SandboxWorkspace;
  private readonly housekeeping: SandboxHousekeeping;
  private readonly remote: SandboxRemote;
  readonly snapshots: SandboxSnapshots;
  private readonly projects: ServiceDeps['projects'];

  constructor(deps: ServiceDeps) {
    const d = { ...deps, now: deps.now ?? (() => new Date()) };
    const audit = new SandboxAudit(d.audit, d.tracing);
    this.projects = d.projects;
    this.access = new SandboxAccess(d);
    this.views = new SandboxViews(d);
    const saved = new SavedFiles(d, this.access);
    this.lifecycle = new SandboxLifecycle(d, this.access, audit, saved, this.views);
    this.execs = new SandboxExec(d, this.access, audit);
    this.files = new SandboxFiles(d, this.access, audit);
    this.workspace = new SandboxWorkspace(d, this.access, audit, saved);
    this.housekeeping = new SandboxHousekeeping(d, this.lifecycle);
    this.remote = new SandboxRemote(d, this.access, d.remote);
    this.snapshots = new SandboxSnapshots(d, this.access, audit, saved);
  }

  find(p: Principal, idOrName: string, action?: Action): Sandbox {
    return this.access.find(p, idOrName, action);
  }

  view(s: Sandbox): SandboxView {
    return this.views.view(s);
  }

  /** One sandbox as the API shows it (from the host that runs it). */
  get(p: Principal, idOrName: string): Promise<SandboxView> {
    return this.remote.or(p, idOrName, 'sandbox.read', (r, s) => r.get(s.host, p, s.id), async () => this.views.view(this.access.find(p, idOrName)));
  }

  /** The sandboxes the caller sees; their usage (a read of each one's cgroups) only when asked for. */
  list(p: Principal, opts: { usage?: boolean } = {}): SandboxView[] {
    return this.views.list(this.access.visible(p), opts);
  }

  /** Create a sandbox here, or (placement auto, in a fleet) on the least-loaded live host. */
  async create(p: Principal, req: CreateSandboxRequest): Promise<{ sandbox: SandboxView; apiKey: string }> {
    if (req.from_snapshot !== undefined) return this.createFrom(p, req, req.from_snapshot); // here: the snapshot's files are here
    return (await this.remote.placed(p, req)) ?? this.lifecycle.create(p, req);
  }

  /** Create a sandbox whose first start restores a snapshot (id or SANDBOX:TAG) of its namespace. */
  private async createFrom(p: Principal, req: CreateSandboxRequest, ref: string): Promise<{ sandbox: SandboxView; apiKey: string }> {
    const seed = this.snapshots.seed(p, ref);
    const { from_snapshot: _ignored, ...rest } = req;
    return this.lifecycle.create(p, rest, (ns, id) => this.snapshots.plant(seed, ns, id));
  }

  /**
   * Fork: a snapshot of the origin taken now, and a new sandbox with the origin's settings created
   * from it — started when the origin runs. It shares no writable state with the origin.
   */
  async fork(p: Principal, idOrName: string, name: string, tag?: string): Promise<{ sandbox: SandboxView; apiKey: string }> {
    const origin = this.access.find(p, idOrName, 'sandbox.snapshot');
    const snap = await this.snapshots.take(p, origin.id, tag);
    const ns = this.access.namespaceOf(origin);
    const project = origin.projectId ? this.projects.get(origin.projectId)?.name : undefined;
    const created = await this.createFrom(p, {
      name, namespace: ns.name, runtime: origin.runtime as CreateSandboxRequest['runtime'], limits: limitsToView(origin.limits), network: origin.network,
      env: origin.env, workspace: origin.workspace ?? undefined, allow_nested_namespaces: origin.allowNestedNamespaces,
      ...(project ? { project } : {}), ...(origin.secrets.length ? { secrets: origin.secrets } : {}), ...(origin.seccomp ? { seccomp: origin.seccomp } : {}),
    }, snap.id);
    if (origin.status !== 'running') return created;
    return { sandbox: await this.lifecycle.start(p, created.sandbox.id), apiKey: created.apiKey };
  }

  start(p: Principal, idOrName: string): Promise<SandboxView> {
    return this.remote.or(p, idOrName, 'sandbox.start', (r, s) => r.start(s.host, p, s.id), () => this.lifecycle.start(p, idOrName));
  }

  stop(p: Principal, idOrName: string): Promise<SandboxView> {
    return this.remote.or(p, idOrName, 'sandbox.stop', (r, s) => r.stop(s.host, p, s.id), () => this.lifecycle.stop(p, idOrName));
  }

  remove(p: Principal, idOrName: string): Promise<void> {
    return this.remote.or(p, idOrName, 'sandbox.delete', (r, s) => r.remove(s.host, p, s.id), () => this.lifecycle.remove(p, idOrName));
  }

  execWith(p: Principal, idOrName: string, req: ExecWithRequest, io: RunIO): Promise<ExecResult> {
    return this.remote.or(p, idOrName, 'sandbox.exec', (r, s) => r.execWith(s.host, p, s.id, req, io), () => this.execs.execWith(p, idOrName, req, io));
  }

  exec(p: Principal, idOrName: string, req: ExecRequest): Promise<ExecResponse> {
    return this.remote.or(p, idOrName, 'sandbox.exec', (r, s) => r.exec(s.host, p, s.id, req), () => this.execs.exec(p, idOrName, req));
  }

  executionsOf(p: Principal, idOrName: string): Promise<ExecutionView[]> {
    return this.remote.or(p, idOrName, 'sandbox.read', (r, s) => r.logs(s.host, p, s.id), async () => this.execs.executionsOf(p, idOrName));
  }

  changes(p: Principal, idOrName: string): Promise<Change[]> {
    return this.remote.or(p, idOrName, 'sandbox.read', (r, s) => r.changes(s.host, p, s.id), () => this.workspace.changes(p, idOrName));
  }

  apply(p: Principal, idOrName: string): Promise<Change[]> {
    return this.remote.or(p, idOrName, 'sandbox.apply', (r, s) => r.apply(s.host, p, s.id), () => this.workspace.apply(p, idOrName));
  }

  readFile(p: Principal, idOrName: string, path: string): Promise<Buffer> {
    return this.remote.or(p, idOrName, 'sandbox.read', (r, s) => r.readFile(s.host, p, s.id, path), () => this.files.readFile(p, idOrName, path));
  }

  writeFile(p: Principal, idOrName: string, path: string, data: Buffer): Promise<void> {
    return this.remote.or(p, idOrName, 'sandbox.files.write', (r, s) => r.writeFile(s.host, p, s.id, path, data), () => this.files.writeFile(p, idOrName, path, data));
  }

  listFiles(p: Principal, idOrName: string, path: string): Promise<FileEntry[]> {
    return this.remote.or(p, idOrName, 'sandbox.read', (r, s) => r.listFiles(s.host, p, s.id, path), () => this.files.listFiles(p, idOrName, path));
  }

  /**
   * For the exec WebSocket, which relays a remote sandbox's stream itself: the sandbox when another
   * host runs it, authorised for `action` here (null: this host runs it, or the caller cannot see it).
   */
  remoteTarget(p: Principal, idOrName: string, action: Action): Sandbox | null {
    const s = this.remote.owner(p, idOrName);
    return s ? this.remote.authorize(p, idOrName, action, s) : null;
  }

  /** Run a forwarding of `action` on `s`, audited here as `sandbox.forward`. */
  forwarded<T>(p: Principal, s: Sandbox, action: Action, fn: () => Promise<T>): Promise<T> {
    return this.remote.forwarded(p, s, action, fn);
  }

  reconcile(): { adopted: string[]; stopped: string[] } {
    return this.housekeeping.reconcile();
  }

  expire(): Promise<string[]> {
    return this.housekeeping.expire();
  }
}
