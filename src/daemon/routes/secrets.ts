/** /api/v1/secrets: the sealing key, and a namespace's secrets by name (values go in sealed and never come out). */
import { BkgError } from '../../api/errors.js';
import { ROUTES } from '../../api/routes.js';
import type { SecretView } from '../../api/secrets.js';
import type { Namespace, NamespaceRepo, SecretInfo } from '../../store/repos/index.js';
import type { Principal } from '../auth/api-keys.js';
import type { Authorizer } from '../auth/authorize.js';
import { keyKind, type Action } from '../auth/rights.js';
import type { Router } from '../http/router.js';
import type { SecretVault } from '../secrets/vault.js';

export interface SecretRouteDeps {
  vault: SecretVault;
  authz: Authorizer;
  namespaces: NamespaceRepo;
}

export function secretRoutes(router: Router<Principal, Action>, d: SecretRouteDeps): void {
  const view = (s: SecretInfo): SecretView => ({
    name: s.name, namespace: d.namespaces.get(s.namespaceId)?.name ?? s.namespaceId, created_at: s.createdAt, updated_at: s.updatedAt, updated_by: s.updatedBy,
  });
  /** The namespace a key names to read or remove in: admins an existing one (default "default"), other keys only their own. */
  const existing = (p: Principal, action: Action, requested: string | undefined): Namespace => {
    if (keyKind(p) !== 'admin') return d.authz.namespaceFor(p, action, requested);
    const ns = d.namespaces.getByName(requested ?? 'default');
    if (!ns) throw new BkgError('NOT_FOUND', `no namespace "${requested ?? 'default'}"`, { hint: '`bkg secret ls` lists every namespace\'s secrets.' });
    return ns;
  };

  router
    .route(ROUTES.secretPublicKey, async () => ({ status: 200, body: d.vault.publicKey() }))
    .route(ROUTES.listSecrets, async ({ principal, input }) => {
      const all = keyKind(principal) === 'admin' && input.query.namespace === undefined;
      const ns = all ? null : existing(principal, 'secret.list', input.query.namespace);
      return { status: 200, body: { secrets: d.vault.list(ns?.id ?? null).map(view) } };
    })
    .route(ROUTES.setSecret, async ({ principal, input }) => {
      const ns = d.authz.namespaceFor(principal, 'secret.write', input.body.namespace);
      const { secret, created } = await d.vault.set(ns, input.params.name, input.body.sealed, principal.id);
      return { status: created ? 201 : 200, body: view(secret), audit: { target: input.params.name, namespace: ns.id, details: { created } } };
    })
    .route(ROUTES.deleteSecret, async ({ principal, input }) => {
      const ns = existing(principal, 'secret.write', input.query.namespace);
      d.vault.remove(ns, input.params.name);
      return { status: 204, audit: { target: input.params.name, namespace: ns.id } };
    });
}
