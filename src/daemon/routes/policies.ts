/** /api/v1/policies: namespace policies (privileges and quotas), read by the namespace's keys, set by admins. */
import { realpathSync, statSync } from 'node:fs';
import { BkgError } from '../../api/errors.js';
import { DEFAULT_NAMESPACE_POLICY, type NamespacePolicy, type PolicyPatch, type PolicyView } from '../../api/policies.js';
import { ROUTES } from '../../api/routes.js';
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
    const ns = d.namespaces.getByName(name);
    const scope = d.authz.scope(p).namespaceId;
    if (!ns || (scope !== null && scope !== ns.id)) throw new BkgError('NOT_FOUND', `no namespace "${name}"`);
    return ns;
  };

  router
    .route(ROUTES.listPolicies, async ({ principal }) => {
      const scope = d.authz.scope(principal).namespaceId;
      const namespaces = d.namespaces.list().filter((ns) => scope === null || ns.id === scope);
      return { status: 200, body: { policies: namespaces.map(view) } };
    })
    .route(ROUTES.getPolicy, async ({ principal, input }) => ({ status: 200, body: view(readable(principal, input.params.namespace)) }))
    .route(ROUTES.setPolicy, async ({ principal, input }) => {
      const { reset, ...patch } = input.body;
      const ns = d.namespaces.ensure(input.params.namespace);
      const next = patched(reset ? DEFAULT_NAMESPACE_POLICY : d.authz.policy(ns.id), patch);
      d.policies.set(ns.id, next, principal.id);
      return { status: 200, body: view(ns), audit: { target: ns.name, namespace: ns.id, details: { ...patch, ...(reset ? { reset } : {}) } } };
    });
}
