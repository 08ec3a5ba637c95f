/** Admin routes of the model registry: pull (as a background job), list, inspect, delete, gc, trusted keys. */
import { BkgError } from '../../api/errors.js';
import { ROUTES } from '../../api/routes.js';
import type { ModelRegistry } from '../../llm/registry/index.js';
import type { Principal } from '../auth/api-keys.js';
import type { Action } from '../auth/rights.js';
import type { Router } from '../http/router.js';

export function llmModelRoutes(router: Router<Principal, Action>, registry: ModelRegistry): void {
  router
    .route(ROUTES.pullModel, async ({ input: { body } }) => {
      const started = registry.startDownload({
        source: body.source,
        ...(body.name !== undefined ? { name: body.name } : {}),
        ...(body.sha256 !== undefined ? { sha256: body.sha256 } : {}),
        ...(body.sig_base64 !== undefined ? { sig: Buffer.from(body.sig_base64, 'base64') } : {}),
      });
      return { status: 202, body: started, audit: { target: body.name ?? body.source } };
    })
    .route(ROUTES.listModels, async () => ({ status: 200, body: { models: registry.list() } }))
    .route(ROUTES.getModel, async ({ input: { params } }) => {
      const m = registry.get(params.id);
      if (!m) throw new BkgError('NOT_FOUND', `no model ${params.id}`, { details: { id: params.id } });
      return { status: 200, body: m };
    })
    .route(ROUTES.deleteModel, async ({ input: { params } }) => {
      registry.remove(params.id);
      return { status: 204 };
    })
    .route(ROUTES.redownload, async ({ input: { params } }) => ({ status: 202, body: registry.redownload(params.id) }))
    .route(ROUTES.job, async ({ input: { params } }) => {
      const job = registry.job(params.id);
      if (!job) throw new BkgError('NOT_FOUND', `no download job ${params.id}`, { details: { id: params.id } });
      return { status: 200, body: job };
    })
    .route(ROUTES.gc, async ({ input: { body } }) => ({ status: 200, body: registry.gc(body.cap_bytes !== undefined ? { capBytes: body.cap_bytes } : {}) }))
    .route(ROUTES.trust, async ({ input: { body } }) => ({ status: 201, body: registry.trust.add(body.name, body.public_key), audit: { target: body.name } }))
    .route(ROUTES.trustedKeys, async () => ({ status: 200, body: { keys: registry.trust.list() } }))
    .route(ROUTES.untrust, async ({ input: { params } }) => {
      registry.trust.remove(params.fingerprint);
      return { status: 204 };
    });
}
