/** Admin routes of the model registry: pull (as a background job), list, inspect, delete, gc, trusted keys. */
import { BkgError } from '../../api/errors.js';
import { validate } from '../../api/validate.js';
import type { ModelRegistry } from '../../llm/registry/index.js';
import type { AuditLog } from '../../store/audit.js';
import type { Principal } from '../auth/api-keys.js';
import type { Action } from '../auth/rights.js';
import type { RequestContext } from '../http/context.js';
import type { Router } from '../http/router.js';

const PREFIX = '/api/v1/admin/llm';

const PullSchema = {
  type: 'object',
  properties: {
    source: { type: 'string', required: true, minLength: 1, maxLength: 4096 },
    name: { type: 'string', minLength: 1, maxLength: 128 },
    sha256: { type: 'string', pattern: /^(sha256:)?[0-9a-fA-F]{64}$/ },
    sig_base64: { type: 'string', minLength: 1, maxLength: 256, pattern: /^[A-Za-z0-9+/]+={0,2}$/ },
  },
} as const;

const TrustSchema = {
  type: 'object',
  properties: {
    name: { type: 'string', required: true, minLength: 1, maxLength: 128 },
    public_key: { type: 'string', required: true, minLength: 1, maxLength: 8192 },
  },
} as const;

const GcSchema = {
  type: 'object',
  properties: { cap_bytes: { type: 'integer', min: 0 } },
} as const;

export function llmModelRoutes(router: Router<Principal, Action>, registry: ModelRegistry, opts: { audit?: AuditLog } = {}): void {
  const audited = <T>(ctx: RequestContext<Principal>, action: string, target: string | null, fn: () => T): T => {
    const r = fn();
    opts.audit?.append({ actor: ctx.principal.id, namespace: null, action, target, outcome: 'ok' });
    return r;
  };
  const param = (ctx: RequestContext<Principal>, name: string): string => ctx.params[name] as string;

  router
    .add('POST', `${PREFIX}/models`, 'llm.manage', async (ctx) => {
      const body = validate(PullSchema, await ctx.body());
      const started = audited(ctx, 'llm.model.pull', body.name ?? body.source, () =>
        registry.startDownload({
          source: body.source,
          ...(body.name !== undefined ? { name: body.name } : {}),
          ...(body.sha256 !== undefined ? { sha256: body.sha256 } : {}),
          ...(body.sig_base64 !== undefined ? { sig: Buffer.from(body.sig_base64, 'base64') } : {}),
        }),
      );
      return { status: 202, body: started };
    })
    .add('GET', `${PREFIX}/models`, 'llm.manage', async () => {
      return { status: 200, body: { models: registry.list() } };
    })
    .add('GET', `${PREFIX}/models/:id`, 'llm.manage', async (ctx) => {
      const m = registry.get(param(ctx, 'id'));
      if (!m) throw new BkgError('NOT_FOUND', `no model ${param(ctx, 'id')}`, { details: { id: param(ctx, 'id') } });
      return { status: 200, body: m };
    })
    .add('DELETE', `${PREFIX}/models/:id`, 'llm.manage', async (ctx) => {
      audited(ctx, 'llm.model.delete', param(ctx, 'id'), () => registry.remove(param(ctx, 'id')));
      return { status: 204 };
    })
    .add('POST', `${PREFIX}/models/:id/download`, 'llm.manage', async (ctx) => {
      return { status: 202, body: audited(ctx, 'llm.model.pull', param(ctx, 'id'), () => registry.redownload(param(ctx, 'id'))) };
    })
    .add('GET', `${PREFIX}/jobs/:id`, 'llm.manage', async (ctx) => {
      const job = registry.job(param(ctx, 'id'));
      if (!job) throw new BkgError('NOT_FOUND', `no download job ${param(ctx, 'id')}`, { details: { id: param(ctx, 'id') } });
      return { status: 200, body: job };
    })
    .add('POST', `${PREFIX}/gc`, 'llm.manage', async (ctx) => {
      const body = validate(GcSchema, (await ctx.body()) ?? {});
      const result = audited(ctx, 'llm.model.gc', null, () => registry.gc(body.cap_bytes !== undefined ? { capBytes: body.cap_bytes } : {}));
      return { status: 200, body: result };
    })
    .add('POST', `${PREFIX}/trust`, 'llm.manage', async (ctx) => {
      const body = validate(TrustSchema, await ctx.body());
      const key = audited(ctx, 'llm.trust.add', body.name, () => registry.trust.add(body.name, body.public_key));
      return { status: 201, body: key };
    })
    .add('GET', `${PREFIX}/trust`, 'llm.manage', async () => {
      return { status: 200, body: { keys: registry.trust.list() } };
    })
    .add('DELETE', `${PREFIX}/trust/:fingerprint`, 'llm.manage', async (ctx) => {
      audited(ctx, 'llm.trust.remove', param(ctx, 'fingerprint'), () => registry.trust.remove(param(ctx, 'fingerprint')));
      return { status: 204 };
    });
}
