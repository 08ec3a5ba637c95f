/** Which sandbox a caller may act on (namespace scoping and rights), and whether it is running now. */
import { BkgError } from '../../api/errors.js';
import type { SandboxHandle } from '../../runtime/engine.js';
import type { Namespace, RuntimeInfo, Sandbox } from '../../store/repos/index.js';
import type { Principal } from '../auth/api-keys.js';
import type { SandboxAsk } from '../auth/privileges.js';
import type { Action } from '../auth/rights.js';
import type { PartDeps } from './deps.js';

/** The runtime info of a sandbox that is not running. */
export const NO_RUNTIME_INFO: Readonly<RuntimeInfo> = Object.freeze({ pid: null, helperPid: null, helperStartTime: null, scratchFd: null, startedAt: null, expiresAt: null });

/** The handle recorded for a sandbox, if its runtime info is complete. */
export function handleOf(s: Sandbox): SandboxHandle | null {
  if (s.pid === null || s.helperPid === null || s.helperStartTime === null) return null;
  return { id: s.id, initPid: s.pid, helperPid: s.helperPid, helperStartTime: s.helperStartTime, scratchFd: s.scratchFd };
}

/** The privileges a sandbox holds, as the authorizer checks them. */
export function privilegesOf(s: Sandbox): SandboxAsk {
  return { network: s.network, workspace: s.workspace, allowNestedNamespaces: s.allowNestedNamespaces, customSeccomp: s.seccomp !== null, limits: s.limits };
}

export class SandboxAccess {
  constructor(private readonly d: PartDeps) {}

  /**
   * A sandbox the caller may take `action` on: refused (FORBIDDEN, audited) when its kind of key
   * may not take the action at all; NOT_FOUND, never FORBIDDEN, when the sandbox is outside what
   * the key can see (another namespace's, or another sandbox for a sandbox's own key).
   */
  find(p: Principal, idOrName: string, action: Action = 'sandbox.read'): Sandbox {
    this.d.authz.require(p, action, idOrName);
    const s = this.d.sandboxes.getByIdOrName(this.d.authz.scope(p).namespaceId, idOrName);
    if (!s || !this.d.authz.sees(p, s)) throw new BkgError('NOT_FOUND', `no sandbox "${idOrName}"`);
    return s;
  }

  /** Every sandbox the caller can see. */
  visible(p: Principal): Sandbox[] {
    this.d.authz.require(p, 'sandbox.list');
    return this.d.sandboxes.list(this.d.authz.scope(p).namespaceId).filter((s) => this.d.authz.sees(p, s));
  }

  namespaceOf(s: Sandbox): Namespace {
    const ns = this.d.namespaces.get(s.namespaceId);
    if (!ns) throw new BkgError('INTERNAL', `sandbox ${s.id} belongs to namespace ${s.namespaceId}, which does not exist`);
    return ns;
  }

  /** The handle of a sandbox whose helper is alive (whatever its recorded status), or null. */
  alive(s: Sandbox): SandboxHandle | null {
    const h = handleOf(s);
    return h && this.d.engine.isRunning(h) ? h : null;
  }

  /** The handle of a running sandbox, or SANDBOX_NOT_RUNNING. */
  running(s: Sandbox): SandboxHandle {
    const h = s.status === 'running' ? this.alive(s) : null;
    if (!h) throw new BkgError('SANDBOX_NOT_RUNNING', `sandbox "${s.name}" is not running`);
    return h;
  }
}
