/** Admin routes: API keys, the audit log, and the daemon itself. */
import type { ApiKeyView, DaemonInfo } from '../../api/admin.js';
import { BkgError } from '../../api/errors.js';
import { parseDuration } from '../../api/units.js';
import { validate } from '../../api/validate.js';
import type { AuditLog } from '../../store/audit.js';
import type { NamespaceRepo } from '../../store/repos/index.js';
import type { ApiKeyInfo, ApiKeyStore, Principal } from '../auth/api-keys.js';
import type { Action } from '../auth/rights.js';
import type { Router } from '../http/router.js';
import type { Registry } from '../metrics.js';
import { textReply } from '../http/reply.js';

const CreateKeySchema = {
  type: 'object',
  properties: {
    name: { type: 'string', required: true, minLength: 1, maxLength: 128 },
    role: { type: 'enum', values: ['admin', 'namespace', 'readonly'], required: true },
    namespace: { type: 'string', pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/ },
  },
} as const;


export function adminRoutes(
  router: Router<Principal, Action>,
  d: { keys: ApiKeyStore; namespaces: NamespaceRepo; audit: AuditLog; metrics: Registry; info: () => DaemonInfo; shutdown: () => void; health: () => string[] },
): void {
  const keyView = (k: ApiKeyInfo): ApiKeyView => ({
    id: k.id, name: k.name, role: k.role, namespace: k.namespaceId ? (d.namespaces.get(k.namespaceId)?.name ?? k.namespaceId) : null,
    sandbox_id: k.sandboxId, masked: k.masked, created_at: k.createdAt, revoked_at: k.revokedAt, last_used_at: k.lastUsedAt,
  });
  const audited = <T>(p: Principal, action: string, target: string | null, fn: () => T): T => {
    const r = fn();
    d.audit.append({ actor: p.id, namespace: null, action, target, outcome: 'ok' });
    return r;
  };
  router
    .add('POST', '/api/v1/keys', 'key.manage', async (ctx) => {
      const body = validate(CreateKeySchema, await ctx.body());
      if (body.role === 'namespace' && !body.namespace) throw new BkgError('INVALID_ARGUMENT', 'namespace: required for role "namespace"');
      const namespaceId = body.namespace ? d.namespaces.ensure(body.namespace).id : null;
      const created = audited(ctx.principal, 'key.create', body.name, () => d.keys.create({ name: body.name, role: body.role, namespaceId }));
      return { status: 201, body: { key: keyView(created), secret: created.key } };
    })
    .add('GET', '/api/v1/keys', 'key.manage', async () => {
      return { status: 200, body: { keys: d.keys.list().map(keyView) } };
    })
    .add('POST', '/api/v1/keys/:id/revoke', 'key.manage', async (ctx) => {
      return { status: 200, body: keyView(audited(ctx.principal, 'key.revoke', ctx.params.id as string, () => d.keys.revoke(ctx.params.id as string))) };
    })
    .add('POST', '/api/v1/keys/:id/rotate', 'key.manage', async (ctx) => {
      const rotated = audited(ctx.principal, 'key.rotate', ctx.params.id as string, () => d.keys.rotate(ctx.params.id as string));
      return { status: 200, body: { key: keyView(rotated), secret: rotated.key } };
    })
    .add('GET', '/api/v1/audit', 'audit.read', async (ctx) => {
      const since = ctx.query.get('since');
      const limit = ctx.query.get('limit');
      let sinceDate: Date | undefined;
      if (since) {
        sinceDate = /^\d+(\.\d+)?(ms|s|m|h)$/.test(since) ? new Date(Date.now() - parseDuration(since, 'since')) : new Date(since);
        if (Number.isNaN(sinceDate.getTime())) throw new BkgError('INVALID_ARGUMENT', 'since: expected an ISO time or a duration such as 1h');
      }
      if (limit !== null && !/^\d{1,6}$/.test(limit)) throw new BkgError('INVALID_ARGUMENT', 'limit: expected a whole number');
      return { status: 200, body: { events: d.audit.list({ ...(sinceDate ? { since: sinceDate } : {}), ...(limit ? { limit: Number(limit) } : {}) }) } };
    })
    .add('GET', '/api/v1/audit/verify', 'audit.read', async () => {
      return { status: 200, body: d.audit.verify() };
    })
    .add('GET', '/api/v1/daemon', 'daemon.read', async () => ({ status: 200, body: d.info() }))
    .add('POST', '/api/v1/daemon/shutdown', 'daemon.shutdown', async () => {
      setImmediate(d.shutdown);
      return { status: 202, body: { stopping: true } };
    })
    .addPublic('GET', '/healthz', async () => {
      const problems = d.health();
      return { status: problems.length ? 503 : 200, body: problems.length ? { ok: false, problems } : { ok: true } };
    })
    .addPublic('GET', '/metrics', async () => textReply(d.metrics.render(), 'text/plain; version=0.0.4; charset=utf-8'));
}
