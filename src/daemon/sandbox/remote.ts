/**
 * Sandboxes another host of the fleet runs (their rows arrive here by sync): the call is authorised
 * here first, exactly as a local one (the same action, the same Authorizer, refusals audited here),
 * then forwarded to the host that runs the sandbox (src/daemon/fleet/forward.ts), which authorises
 * and audits it again as the same caller. This host audits `sandbox.forward`.
 */
import { BkgError } from '../../api/errors.js';
import type { ExecutionView } from '../../api/admin.js';
import type { CreateSandboxRequest, ExecRequest, ExecResponse, SandboxView } from '../../api/sandboxes.js';
import type { Change } from '../../runtime/changes.js';
import type { ExecResult, RunIO } from '../../runtime/engine.js';
import type { Sandbox } from '../../store/repos/index.js';
import type { Principal } from '../auth/api-keys.js';
import type { Action } from '../auth/rights.js';
import type { SandboxAccess } from './access.js';
import type { PartDeps } from './deps.js';
import type { ExecWithRequest } from './exec.js';
import type { FileEntry } from './files.js';

/** The other hosts' sandboxes, as the service reaches them: each call goes to `host` as the caller `p`, naming the sandbox by id. */
export interface RemoteSandboxes {
  /** This host's id: a sandbox whose row names another host is that host's. */
  readonly selfId: string;
  get(host: string, p: Principal, id: string): Promise<SandboxView>;
  start(host: string, p: Principal, id: string): Promise<SandboxView>;
  stop(host: string, p: Principal, id: string): Promise<SandboxView>;
  remove(host: string, p: Principal, id: string): Promise<void>;
  exec(host: string, p: Principal, id: string, req: ExecRequest): Promise<ExecResponse>;
  execWith(host: string, p: Principal, id: string, req: ExecWithRequest, io: RunIO): Promise<ExecResult>;
  changes(host: string, p: Principal, id: string): Promise<Change[]>;
  apply(host: string, p: Principal, id: string): Promise<Change[]>;
  readFile(host: string, p: Principal, id: string, path: string): Promise<Buffer>;
  writeFile(host: string, p: Principal, id: string, path: string, data: Buffer): Promise<void>;
  listFiles(host: string, p: Principal, id: string, path: string): Promise<FileEntry[]>;
  logs(host: string, p: Principal, id: string): Promise<ExecutionView[]>;
  /** Create a sandbox there (placement), as the caller. */
  create(host: string, p: Principal, req: CreateSandboxRequest): Promise<{ sandbox: SandboxView; apiKey: string }>;
  /** Where a sandbox placed `auto` goes: the live host (with a peer listener, or this one) running the fewest sandboxes. */
  place(): Promise<{ id: string; name: string }>;
}

const DENIED = new Set(['NOT_FOUND', 'FORBIDDEN', 'UNAUTHENTICATED', 'QUOTA_EXCEEDED']);

export class SandboxRemote {
  constructor(private readonly d: Pick<PartDeps, 'sandboxes' | 'authz' | 'audit'>, private readonly access: SandboxAccess, private readonly remote: RemoteSandboxes | undefined) {}

  /**
   * The sandbox the caller names, when another host runs it; null when this host runs it or the
   * caller cannot see it (the local path then refuses it, as always). A pure look-up: nothing audited.
   */
  owner(p: Principal, idOrName: string): Sandbox | null {
    if (!this.remote) return null;
    const s = this.d.sandboxes.getByIdOrName(this.d.authz.scope(p).namespaceId, idOrName);
    return s && this.d.authz.sees(p, s) && s.host !== this.remote.selfId ? s : null;
  }

  /**
   * Authorise `action` on the sandbox here, as for a local call, and return its row; a request
   * that was itself forwarded is never forwarded again (HOST_UNAVAILABLE: the hosts disagree on
   * where the sandbox runs).
   */
  authorize(p: Principal, idOrName: string, action: Action, s: Sandbox): Sandbox {
    const found = this.access.find(p, idOrName, action);
    if (p.via !== undefined) {
      throw new BkgError('HOST_UNAVAILABLE', `sandbox "${s.name}" does not run on this host (its row names host ${s.host}); a forwarded request is not forwarded again`, {
        details: { host: s.host },
      });
    }
    return found;
  }

  /** Run the call on this host, or forward it to the host that runs the sandbox. */
  async or<T>(p: Principal, idOrName: string, action: Action, there: (r: RemoteSandboxes, s: Sandbox) => Promise<T>, here: () => Promise<T>): Promise<T> {
    const owned = this.owner(p, idOrName);
    if (!owned || !this.remote) return here();
    const s = this.authorize(p, idOrName, action, owned);
    return this.forwarded(p, s, action, () => there(this.remote as RemoteSandboxes, s));
  }

  /**
   * A sandbox placed `auto`: created on the host the fleet picks, as the caller (authorised here
   * first, then there with its privileges and quotas); null when that is this host.
   */
  async placed(p: Principal, req: CreateSandboxRequest): Promise<{ sandbox: SandboxView; apiKey: string } | null> {
    if (req.placement !== 'auto' || !this.remote || p.via !== undefined) return null;
    this.d.authz.require(p, 'sandbox.create', req.name);
    const target = await this.remote.place();
    if (target.id === this.remote.selfId) return null;
    const remote = this.remote;
    // audited by the name asked for: the sandbox has no id until the other host makes it
    return this.forwarded(p, { id: req.name, namespaceId: p.namespaceId, host: target.id }, 'sandbox.create', () => remote.create(target.id, p, { ...req, placement: 'local' }));
  }

  /** Forward and audit `sandbox.forward` here (the other host audits the action itself, with `via`). */
  async forwarded<T>(p: Principal, s: { id: string; namespaceId: string | null; host: string }, action: Action, fn: () => Promise<T>): Promise<T> {
    const record = (outcome: 'ok' | 'denied' | 'error', code?: string): void => {
      this.d.audit.append({ actor: p.id, namespace: s.namespaceId, action: 'sandbox.forward', target: s.id, outcome, details: { host: s.host, action, ...(code ? { code } : {}) } });
    };
    try {
      const v = await fn();
      record('ok');
      return v;
    } catch (err) {
      const code = err instanceof BkgError ? err.code : 'INTERNAL';
      record(DENIED.has(code) ? 'denied' : 'error', code);
      throw err;
    }
  }
}
