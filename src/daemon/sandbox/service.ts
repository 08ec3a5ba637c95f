/**
 * The sandboxes behind the API: the one object REST, MCP and the exec WebSocket call. It knows
 * nothing of HTTP and holds no logic of its own: each call goes to the part that does that job.
 */
import type { ExecutionView } from '../../api/admin.js';
import type { CreateSandboxRequest, ExecRequest, ExecResponse, SandboxView } from '../../api/sandboxes.js';
import type { Change } from '../../runtime/changes.js';
import type { ExecResult, RunIO } from '../../runtime/engine.js';
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
import { SavedFiles } from './saved-files.js';
import { SandboxViews } from './views.js';
import { SandboxWorkspace } from './workspace.js';

export { execSummary } from './views.js';
export type { ServiceDeps } from './deps.js';

export class SandboxService {
  private readonly access: SandboxAccess;
  private readonly views: SandboxViews;
  private readonly lifecycle: SandboxLifecycle;
  private readonly execs: SandboxExec;
  private readonly files: SandboxFiles;
  private readonly workspace: SandboxWorkspace;
  private readonly housekeeping: SandboxHousekeeping;

  constructor(deps: ServiceDeps) {
    const d = { ...deps, now: deps.now ?? (() => new Date()) };
    const audit = new SandboxAudit(d.audit);
    this.access = new SandboxAccess(d);
    this.views = new SandboxViews(d);
    const saved = new SavedFiles(d, this.access);
    this.lifecycle = new SandboxLifecycle(d, this.access, audit, saved, this.views);
    this.execs = new SandboxExec(d, this.access, audit);
    this.files = new SandboxFiles(d, this.access, audit);
    this.workspace = new SandboxWorkspace(d, this.access, audit, saved);
    this.housekeeping = new SandboxHousekeeping(d, this.lifecycle);
  }

  find(p: Principal, idOrName: string, action?: Action): Sandbox {
    return this.access.find(p, idOrName, action);
  }

  view(s: Sandbox): SandboxView {
    return this.views.view(s);
  }

  list(p: Principal): SandboxView[] {
    return this.access.visible(p).map((s) => this.views.view(s));
  }

  create(p: Principal, req: CreateSandboxRequest): Promise<{ sandbox: SandboxView; apiKey: string }> {
    return this.lifecycle.create(p, req);
  }

  start(p: Principal, idOrName: string): Promise<SandboxView> {
    return this.lifecycle.start(p, idOrName);
  }

  stop(p: Principal, idOrName: string): Promise<SandboxView> {
    return this.lifecycle.stop(p, idOrName);
  }

  remove(p: Principal, idOrName: string): Promise<void> {
    return this.lifecycle.remove(p, idOrName);
  }

  execWith(p: Principal, idOrName: string, req: ExecWithRequest, io: RunIO): Promise<ExecResult> {
    return this.execs.execWith(p, idOrName, req, io);
  }

  exec(p: Principal, idOrName: string, req: ExecRequest): Promise<ExecResponse> {
    return this.execs.exec(p, idOrName, req);
  }

  executionsOf(p: Principal, idOrName: string): ExecutionView[] {
    return this.execs.executionsOf(p, idOrName);
  }

  changes(p: Principal, idOrName: string): Promise<Change[]> {
    return this.workspace.changes(p, idOrName);
  }

  apply(p: Principal, idOrName: string): Promise<Change[]> {
    return this.workspace.apply(p, idOrName);
  }

  readFile(p: Principal, idOrName: string, path: string): Promise<Buffer> {
    return this.files.readFile(p, idOrName, path);
  }

  writeFile(p: Principal, idOrName: string, path: string, data: Buffer): Promise<void> {
    return this.files.writeFile(p, idOrName, path, data);
  }

  listFiles(p: Principal, idOrName: string, path: string): Promise<FileEntry[]> {
    return this.files.listFiles(p, idOrName, path);
  }

  reconcile(): { adopted: string[]; stopped: string[] } {
    return this.housekeeping.reconcile();
  }

  expire(): Promise<string[]> {
    return this.housekeeping.expire();
  }
}
