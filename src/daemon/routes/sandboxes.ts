/** /api/v1/sandboxes: thin handlers over SandboxService. */
import { Readable } from 'node:stream';
import { BkgError } from '../../api/errors.js';
import { CreateSandboxSchema, ExecSchema, FILE_CAP } from '../../api/sandboxes.js';
import { validate } from '../../api/validate.js';
import type { Principal } from '../auth/api-keys.js';
import type { Action } from '../auth/rights.js';
import type { RequestContext } from '../http/context.js';
import type { Router } from '../http/router.js';
import type { SandboxService } from '../sandbox-service.js';

const BASE = '/api/v1/sandboxes';

function pathParam(ctx: RequestContext<Principal>): string {
  const path = ctx.query.get('path');
  if (!path) throw new BkgError('INVALID_ARGUMENT', 'path: query parameter is required (an absolute path inside the sandbox)');
  return path;
}

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

export function sandboxRoutes(router: Router<Principal, Action>, svc: SandboxService): void {
  router
    .add('POST', BASE, 'sandbox.create', async (ctx) => {
      const { sandbox, apiKey } = await svc.create(ctx.principal, validate(CreateSandboxSchema, await ctx.body()));
      return { status: 201, body: { ...sandbox, api_key_secret: apiKey } };
    })
    .add('GET', BASE, 'sandbox.list', async (ctx) => ({ status: 200, body: { sandboxes: svc.list(ctx.principal) } }))
    .add('GET', `${BASE}/:id`, 'sandbox.read', async (ctx) => ({ status: 200, body: svc.view(svc.find(ctx.principal, ctx.params.id as string)) }))
    .add('POST', `${BASE}/:id/start`, 'sandbox.start', async (ctx) => ({ status: 200, body: await svc.start(ctx.principal, ctx.params.id as string) }))
    .add('POST', `${BASE}/:id/stop`, 'sandbox.stop', async (ctx) => ({ status: 200, body: await svc.stop(ctx.principal, ctx.params.id as string) }))
    .add('DELETE', `${BASE}/:id`, 'sandbox.delete', async (ctx) => {
      await svc.remove(ctx.principal, ctx.params.id as string);
      return { status: 204 };
    })
    .add('POST', `${BASE}/:id/exec`, 'sandbox.exec', async (ctx) => ({ status: 200, body: await svc.exec(ctx.principal, ctx.params.id as string, validate(ExecSchema, await ctx.body())) }))
    .add('GET', `${BASE}/:id/changes`, 'sandbox.read', async (ctx) => ({ status: 200, body: { changes: await svc.changes(ctx.principal, ctx.params.id as string) } }))
    .add('POST', `${BASE}/:id/apply`, 'sandbox.apply', async (ctx) => ({ status: 200, body: { applied: await svc.apply(ctx.principal, ctx.params.id as string) } }))
    .add('GET', `${BASE}/:id/files`, 'sandbox.read', async (ctx) => {
      const data = await svc.readFile(ctx.principal, ctx.params.id as string, pathParam(ctx));
      return { status: 200, stream: Readable.from([data]), headers: { 'content-type': 'application/octet-stream', 'content-length': data.length } };
    })
    .add('PUT', `${BASE}/:id/files`, 'sandbox.files.write', async (ctx) => {
      const path = pathParam(ctx);
      await svc.writeFile(ctx.principal, ctx.params.id as string, path, await rawBody(ctx, FILE_CAP));
      return { status: 204 };
    })
    .add('GET', `${BASE}/:id/logs`, 'sandbox.read', async (ctx) => ({ status: 200, body: { executions: svc.executionsOf(ctx.principal, ctx.params.id as string) } }));
}
