/** /api/v1/sandboxes: handlers over SandboxService, bound to the routes of the contract (src/api/routes.ts). */
import { Readable } from 'node:stream';
import { BkgError } from '../../api/errors.js';
import { FILE_CAP } from '../../api/names.js';
import { ROUTES } from '../../api/routes.js';
import type { Principal } from '../auth/api-keys.js';
import type { Action } from '../auth/rights.js';
import type { RequestContext } from '../http/context.js';
import type { Router } from '../http/router.js';
import { listAllHosts, type FleetListDeps } from '../fleet/list.js';
import type { SandboxService } from '../sandbox/service.js';

async function rawBody(ctx: RequestContext<Principal>, cap: number): Promise<Buffer> {
  const type = ctx.req.headers['content-type'] ?? 'application/octet-stream';
  if (!type.startsWith('application/octet-stream')) throw new BkgError('UNSUPPORTED_MEDIA_TYPE', 'send the file as application/octet-stream');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of ctx.req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > cap) {
      ctx.req.destroy();
      throw new BkgError('PAYLOAD_TOO_LARGE', `the file is larger than ${cap} bytes`);
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/** `fleet`: what every host's listing reads (absent: all_hosts lists this host's, the only ones there are). */
export function sandboxRoutes(router: Router<Principal, Action>, svc: SandboxService, fleet?: Omit<FleetListDeps, 'view'>): void {
  router
    .route(ROUTES.createSandbox, async ({ principal, input }) => {
      const { sandbox, apiKey } = await svc.create(principal, input.body);
      return { status: 201, body: { ...sandbox, api_key_secret: apiKey } };
    })
    .route(ROUTES.listSandboxes, async ({ principal, input }) => {
      const all = input.query.all_hosts === '1' || input.query.all_hosts === 'true';
      const usage = input.query.usage === '1' || input.query.usage === 'true';
      if (!all || !fleet) return { status: 200, body: { sandboxes: svc.list(principal, { usage }) } };
      return { status: 200, body: await listAllHosts(principal, { ...fleet, view: (s) => svc.view(s) }) };
    })
    .route(ROUTES.getSandbox, async ({ principal, input }) => ({ status: 200, body: await svc.get(principal, input.params.id) }))
    .route(ROUTES.startSandbox, async ({ principal, input }) => ({ status: 200, body: await svc.start(principal, input.params.id) }))
    .route(ROUTES.stopSandbox, async ({ principal, input }) => ({ status: 200, body: await svc.stop(principal, input.params.id) }))
    .route(ROUTES.deleteSandbox, async ({ principal, input }) => {
      await svc.remove(principal, input.params.id);
      return { status: 204 };
    })
    .route(ROUTES.execSandbox, async ({ principal, input }) => ({ status: 200, body: await svc.exec(principal, input.params.id, input.body) }))
    .route(ROUTES.changes, async ({ principal, input }) => ({ status: 200, body: { changes: await svc.changes(principal, input.params.id) } }))
    .route(ROUTES.apply, async ({ principal, input }) => ({ status: 200, body: { applied: await svc.apply(principal, input.params.id) } }))
    .route(ROUTES.readFile, async ({ principal, input }) => {
      const data = await svc.readFile(principal, input.params.id, input.query.path);
      return { status: 200, stream: Readable.from([data]), headers: { 'content-type': 'application/octet-stream', 'content-length': data.length } };
    })
    .route(ROUTES.writeFile, async (ctx) => {
      await svc.writeFile(ctx.principal, ctx.input.params.id, ctx.input.query.path, await rawBody(ctx, FILE_CAP));
      return { status: 204 };
    })
    .route(ROUTES.logs, async ({ principal, input }) => ({ status: 200, body: { executions: await svc.executionsOf(principal, input.params.id) } }));
}
