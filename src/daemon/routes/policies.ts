/** /api/v1/policies: namespace policies (privileges and quotas), read by the namespace's keys, set by admins. */
import { realpathSync, statSync } from 'node:fs';
import { BkgError } from '../../api/errors.js';
import { DEFAULT_NAMESPACE_POLICY, PolicyPatchSchema, type NamespacePolicy, type PolicyPatch, type PolicyView } from '../../api/policies.js';
import { NAME_PATTERN } from '../../api/sandboxes.js';
import { validate } from '../../api/validate.js';
import type { AuditLog } from '../../store/audit.js';
import type { Namespace, NamespacePolicyRepo, NamespaceRepo, SandboxRepo } from '../../store/repos/index.js';
import type { Principal } from '../auth/api-keys.js';
import type { Authorizer } from '../auth/authorize.js';
import type { Action } from '../auth/rights.js';
import type { Router } from '../http/router.js';

export interface PolicyDeps {
  authz: Authorizer;
  policies: NamespacePolicyRepo;
  namespaces: NamespaceRepo;
  sandboxes: SandboxRepo;
  audit: AuditLog;
}

const MiB = 1024 * 1024;

/** A workspace root must be an existing directory; it is kept resolved, so a symlink changed later cannot widen it. */
function workspaceRoot(dir: string, i: number): string {
  let real: string;
  try {
    real = realpathSync(dir);
  } catch {
    throw new BkgError('INVALID_ARGUMENT', `workspace_roots[${i}]: ${dir} does not exist`, { details: { field: `workspace_roots[${i}]` } });
  }
  if (real === '/') throw new BkgError('INVALID_ARGUMENT', `workspace_roots[${i}]: / cannot be a workspace root`, { details: { field: `workspace_roots[${i}]` } });
  if (!statSync(real).isDirectory()) throw new BkgError('INVALID_ARGUMENT', `workspace_roots[${i}]: ${dir} is not a directory`, { details: { field: `workspace_roots[${i}]` } });
  return real;
}

/** The policy after a patch: the fields given replace the current ones. */
export function patched(current: NamespacePolicy, patch: Omit<PolicyPatch, 'reset'>): NamespacePolicy {
  const next: NamespacePolicy = { ...current };
  for (const [k, v] of Object.entries(patch)) if (v !== undefined) (next as unknown as Record<string, unknown>)[k] = v;
  if (!next.networks.includes('none')) throw new BkgError('INVALID_ARGUMENT', 'networks: must include "none" (every namespace may run sandboxes without a network)', { details: { field: 'networks' } });
  next.networks = [...new Set(next.networks)];
  next.workspace_roots = [...new Set(next.workspace_roots.map(workspaceRoot))];
  return next;
}

export function policyRoutes(router: Router<Principal, Action>, d: PolicyDeps): void {
  const view = (ns: Namespace): PolicyView => {
    const own = d.policies.get(ns.id);
    const u = d.sandboxes.usage(ns.id);
    return {
      namespace: ns.name, policy: d.authz.policy(ns.id), default: own === null,
      usage: { sandboxes: u.sandboxes, running: u.running, memory_mb: Math.ceil(u.memoryBytes / MiB), pids: u.pids },
      updated_at: own?.updatedAt ?? null, updated_by: own?.updatedBy ?? null,
    };
  };
  /** A namespace the key may read the policy of; others (and unknown ones) are NOT_FOUND. */
  const readable = (p: Principal, name: string): Namespace => {
    const ns = NAME_PATTERN.test(name) ? d.namespaces.getByName(name) : null;
    const scope = d.authz.scope(p).namespaceId;
    if (!ns || (scope !== null && scope !== ns.id)) throw new BkgError('NOT_FOUND', `no namespace "${name}"`);
    return ns;
  };

  router
    .add('GET', '/api/v1/policies', 'policy.read', async (ctx) => {
      const scope = d.authz.scope(ctx.principal).namespaceId;
      const namespaces = d.namespaces.list().filter((ns) => scope === null || ns.id === scope);
      return { status: 200, body: { policies: namespaces.map(view) } };
    })
    .add('GET', '/api/v1/policies/:namespace', 'policy.read', async (ctx) => ({ status: 200, body: view(readable(ctx.principal, ctx.params.namespace as string)) }))
    .add('PATCH', '/api/v1/policies/:namespace', 'policy.write', async (ctx) => {
      const name = ctx.params.namespace as string;
      if (!NAME_PATTERN.test(name)) throw new BkgError('INVALID_ARGUMENT', `namespace: "${name}" must match ${NAME_PATTERN.source}`, { details: { field: 'namespace' } });
      const { reset, ...patch } = validate(PolicyPatchSchema, (await ctx.body()) ?? {});
      const ns = d.namespaces.ensure(name);
      const next = patched(reset ? DEFAULT_NAMESPACE_POLICY : d.authz.policy(ns.id), patch);
      d.policies.set(ns.id, next, ctx.principal.id);
      d.audit.append({ actor: ctx.principal.id, namespace: ns.id, action: 'policy.set', target: ns.name, outcome: 'ok', details: { ...patch, ...(reset ? { reset } : {}) } });
      return { status: 200, body: view(ns) };
    });
}
