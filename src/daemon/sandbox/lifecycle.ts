/** A sandbox's life for a caller: create, start (files restored), stop (files saved), remove. */
import { resolve } from 'node:path';
import { canonicalNetwork } from '../../api/egress.js';
import { BkgError } from '../../api/errors.js';
import { ENV_NAME_PATTERN, type CreateSandboxRequest, type SandboxView } from '../../api/sandboxes.js';
import { planCgroups } from '../../runtime/cgroups.js';
import { newSandboxId, validateWorkspace } from '../../runtime/definition.js';
import type { SandboxHandle } from '../../runtime/engine.js';
import { limitsFromInput } from '../../runtime/from-request.js';
import { loadRuntime, runtimeCommand } from '../../runtime/runtimes.js';
import { compileSeccomp, parseSeccompProfile } from '../../runtime/seccomp/index.js';
import type { Namespace } from '../../store/repos/index.js';
import type { Principal } from '../auth/api-keys.js';
import { keyKind } from '../auth/rights.js';
import { limitsUnderPolicy } from '../sandbox-limits.js';
import { handleOf, NO_RUNTIME_INFO, privilegesOf, type SandboxAccess } from './access.js';
import type { SandboxAudit } from './audit.js';
import type { PartDeps } from './deps.js';
import type { SavedFiles } from './saved-files.js';
import type { SandboxViews } from './views.js';

export class SandboxLifecycle {
  /** Sandboxes whose start is in flight: a second start is a CONFLICT, not a second helper. */
  private readonly starting = new Set<string>();

  constructor(
    private readonly d: PartDeps,
    private readonly access: SandboxAccess,
    private readonly audit: SandboxAudit,
    private readonly files: SavedFiles,
    private readonly views: SandboxViews,
  ) {}

  /** `plant`: give the new sandbox its first files (a snapshot's) before its row exists; refused when they are not of its namespace. */
  async create(p: Principal, req: CreateSandboxRequest, plant?: (ns: Namespace, id: string) => Promise<void>): Promise<{ sandbox: SandboxView; apiKey: string }> {
    return this.audit.audited(p, 'sandbox.create', req.name, async () => {
      this.d.authz.require(p, 'sandbox.create', req.name);
      for (const k of Object.keys(req.env ?? {})) if (!ENV_NAME_PATTERN.test(k)) throw new BkgError('INVALID_ARGUMENT', `env: "${k}" is not a valid variable name`);
      const runtime = req.runtime ?? 'shell';
      runtimeCommand(loadRuntime(runtime), []); // the interpreter must exist now, not at first exec
      const ns = this.d.authz.namespaceFor(p, 'sandbox.create', req.namespace);
      const limits = keyKind(p) === 'admin' ? limitsFromInput(req.limits) : limitsUnderPolicy(req.limits ?? {}, this.d.authz.policy(ns.id));
      const network = canonicalNetwork(req.network); // an allowlist as one canonical string (src/api/egress.ts)
      const allowNestedNamespaces = req.allow_nested_namespaces === true;
      // privileges first: a key without them learns nothing about host paths or profiles
      this.d.authz.requirePrivileges(p, 'sandbox.create', ns, {
        network, workspace: req.workspace === undefined ? null : resolve(req.workspace), allowNestedNamespaces, customSeccomp: req.seccomp !== undefined, limits,
      }, req.name);
      const workspace = req.workspace === undefined ? null : validateWorkspace(req.workspace);
      if (req.seccomp !== undefined) compileSeccomp(parseSeccompProfile(req.seccomp), { allowNestedNamespaces }); // refuse a bad profile now
      planCgroups(this.d.host.cgroups, 'probe', limits); // refuse unenforceable limits at create time
      if (req.secrets?.length) this.d.authz.require(p, 'secret.use', req.name);
      const secrets = this.d.secrets.forCreate(ns, req); // refused now when one is missing, not at start
      const projectId = req.project ? this.d.projects.ensure(req.project).id : null;
      const id = newSandboxId();
      if (plant) await plant(ns, id);
      let s;
      try {
        s = this.d.quotas.insert(p, ns, {
          id, name: req.name, namespaceId: ns.id, projectId, runtime, limits, network, env: req.env ?? {}, workspace,
          allowNestedNamespaces, seccomp: req.seccomp ?? null, secrets,
        });
      } catch (err) {
        if (plant) await this.files.remove({ id });
        throw err;
      }
      const key = this.d.keys.create({ name: `sandbox ${s.name}`, role: 'namespace', namespaceId: ns.id, sandboxId: s.id });
      this.audit.ok(p, 'sandbox.create', s);
      this.d.events?.sandbox('sandbox.created', s, p.id);
      return { sandbox: this.views.view(s), apiKey: key.key };
    });
  }

  async start(p: Principal, idOrName: string): Promise<SandboxView> {
    return this.audit.audited(p, 'sandbox.start', idOrName, async () => {
      const s = this.access.find(p, idOrName, 'sandbox.start');
      if ((s.status === 'running' && this.access.alive(s)) || this.starting.has(s.id)) throw new BkgError('CONFLICT', `sandbox "${s.name}" is already running`);
      const ns = this.access.namespaceOf(s);
      this.d.authz.requirePrivileges(p, 'sandbox.start', ns, privilegesOf(s), s.name); // the policy may have narrowed since create
      const release = this.d.quotas.reserveStart(p, ns, s);
      this.starting.add(s.id);
      try {
        let started: SandboxHandle;
        try {
          const restoreFrom = this.files.saved(s);
          // the definition (the sandbox key decrypted into its environment) is built here, once: the engine keeps it for every exec
          started = await this.d.engine.start({ ...this.d.definitions.of(s), ...(restoreFrom ? { restoreFrom } : {}) });
        } catch (err) {
          const failed = this.d.sandboxes.updateStatus(s.id, 'failed');
          this.d.events?.sandbox('sandbox.failed', failed, p.id, { reason: err instanceof Error ? err.message : String(err) });
          throw err;
        }
        const now = this.d.now();
        const limits = s.limits;
        this.d.sandboxes.setRuntimeInfo(s.id, {
          pid: started.initPid, helperPid: started.helperPid, helperStartTime: started.helperStartTime, scratchFd: started.scratchFd,
          startedAt: now, expiresAt: limits.timeoutMs ? new Date(now.getTime() + limits.timeoutMs) : null,
        });
        this.d.sandboxes.touch(s.id, now, limits.idleTimeoutMs ? new Date(now.getTime() + limits.idleTimeoutMs) : null);
        const running = this.d.sandboxes.updateStatus(s.id, 'running');
        this.audit.ok(p, 'sandbox.start', running);
        this.d.events?.sandbox('sandbox.started', running, p.id);
        return this.views.view(running);
      } finally {
        this.starting.delete(s.id);
        release();
      }
    });
  }

  /** Stop a sandbox, its files saved first; `action` is 'sandbox.expire' when the daemon ends its lifetime (`reason`: why). */
  async stop(p: Principal, idOrName: string, action = 'sandbox.stop', reason?: string): Promise<SandboxView> {
    return this.audit.audited(p, action, idOrName, async () => {
      const s = this.access.find(p, idOrName, 'sandbox.stop');
      const h = handleOf(s);
      if (h && this.d.engine.isRunning(h)) {
        try {
          await this.files.save(s, h);
        } catch (err) {
          if (action !== 'sandbox.expire') throw err; // a stop that would lose files does not happen; it says why
          this.d.log.error({ err, id: s.id }, 'could not save the files of an expiring sandbox; stopping it anyway');
          this.d.audit.append({ actor: p.id, namespace: s.namespaceId, action: 'sandbox.save', target: s.id, outcome: 'error', details: { message: err instanceof Error ? err.message : String(err) } });
        }
      }
      if (h) await this.d.engine.stop(h);
      this.d.sandboxes.setRuntimeInfo(s.id, NO_RUNTIME_INFO);
      const stopped = this.d.sandboxes.updateStatus(s.id, s.status === 'created' ? 'created' : 'stopped');
      this.audit.ok(p, action, stopped);
      this.d.events?.sandbox(action === 'sandbox.expire' ? 'sandbox.expired' : 'sandbox.stopped', stopped, p.id, reason === undefined ? {} : { reason });
      return this.views.view(stopped);
    });
  }

  async remove(p: Principal, idOrName: string): Promise<void> {
    await this.audit.audited(p, 'sandbox.delete', idOrName, async () => {
      const s = this.access.find(p, idOrName, 'sandbox.delete');
      const h = handleOf(s);
      if (h) await this.d.engine.stop(h);
      this.d.sandboxes.delete(s.id);
      await this.files.remove(s);
      this.audit.ok(p, 'sandbox.delete', s);
      this.d.events?.sandbox('sandbox.deleted', s, p.id, { status: 'deleted' });
    });
  }
}
