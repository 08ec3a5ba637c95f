/** Snapshots over REST: take one of a sandbox, fork a sandbox, list them, remove one (src/daemon/sandbox/snapshots.ts does the work). */
import { ROUTES } from '../../api/routes.js';
import type { Principal } from '../auth/api-keys.js';
import type { Action } from '../auth/rights.js';
import type { Router } from '../http/router.js';
import type { SandboxService } from '../sandbox/service.js';

export function snapshotRoutes(router: Router<Principal, Action>, svc: SandboxService): void {
  router
    .route(ROUTES.createSnapshot, async ({ principal, input }) => {
      const snap = await svc.snapshots.take(principal, input.params.id, input.body?.tag);
      return { status: 201, body: svc.snapshots.view(snap) };
    })
    .route(ROUTES.forkSandbox, async ({ principal, input }) => {
      const { sandbox, apiKey } = await svc.fork(principal, input.params.id, input.body.name, input.body.tag);
      return { status: 201, body: { ...sandbox, api_key_secret: apiKey } };
    })
    .route(ROUTES.listSnapshots, async ({ principal, input }) => ({
      status: 200, body: { snapshots: svc.snapshots.list(principal, input.query.namespace).map((s) => svc.snapshots.view(s)) },
    }))
    .route(ROUTES.deleteSnapshot, async ({ principal, input }) => {
      const snap = await svc.snapshots.remove(principal, input.params.ref);
      return { status: 204, audit: { target: snap.id, namespace: snap.namespaceId } };
    });
}
