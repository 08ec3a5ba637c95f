/** Keys, the audit log, the daemon itself, health, metrics and the API's own description. */
import type { ApiKeyView, DaemonInfo } from '../../api/admin.js';
import { BkgError } from '../../api/errors.js';
import { ROUTES } from '../../api/routes.js';
import { parseDuration } from '../../api/units.js';
import type { AuditEvent, AuditLog } from '../../store/audit.js';
import type { FleetDb } from '../../store/pg/index.js';
import type { NamespaceRepo } from '../../store/repos/index.js';
import type { ApiKeyInfo, ApiKeyStore, Principal } from '../auth/api-keys.js';
import { ACTIONS } from '../../api/actions.js';
import { allowed, keyKind, type Action } from '../auth/rights.js';
import type { Router } from '../http/router.js';
import type { Registry } from '../prometheus.js';
import { textReply } from '../http/reply.js';
import type { Telemetry } from '../telemetry/index.js';

export interface AdminDeps {
  keys: ApiKeyStore;
  namespaces: NamespaceRepo;
  audit: AuditLog;
  metrics: Registry;
  info: () => DaemonInfo;
  shutdown: () => void;
  health: () => string[];
  /** The OpenAPI document (built once, on first request). */
  openapi: () => Record<string, unknown>;
  /** The fleet database while it answers (null: on its own, or it is away). */
  fleetDb: () => FleetDb | null;
  /** Traces: the sampling rate, changeable at run time. */
  telemetry: Pick<Telemetry, 'enabled' | 'samplingRate' | 'setSamplingRate'>;
}

/** The fleet database, or SYNC_UNAVAILABLE saying why a fleet-wide read cannot be answered. */
function fleetDbOf(d: AdminDeps): FleetDb {
  const db = d.fleetDb();
  if (!db) throw new BkgError('SYNC_UNAVAILABLE', 'this host is not connected to a fleet database (started without --sync, or the database is away)');
  return db;
}

const on = (flag: string | undefined): boolean => flag === '1' || flag === 'true';

/** `since` as an ISO time or a duration back from now (1h). */
function sinceOf(since: string | undefined): Date | undefined {
  if (!since) return undefined;
  const at = /^\d+(\.\d+)?(ms|s|m|h)$/.test(since) ? new Date(Date.now() - parseDuration(since, 'since')) : new Date(since);
  if (Number.isNaN(at.getTime())) throw new BkgError('INVALID_ARGUMENT', 'since: expected an ISO time or a duration such as 1h', { details: { field: 'since' } });
  return at;
}

/** An audit row as the API shows it (REST and the event stream). */
export const eventView = (e: AuditEvent) => ({
  seq: e.seq, at: e.at, actor: e.actor, namespace: e.namespace, action: e.action, target: e.target, outcome: e.outcome, details: e.details, prev_hash: e.prevHash, hash: e.hash,
});

export function adminRoutes(router: Router<Principal, Action>, d: AdminDeps): void {
  const settings = () => ({ otel_sampling_rate: d.telemetry.samplingRate(), otel_exporting: d.telemetry.enabled });
  const keyView = (k: ApiKeyInfo): ApiKeyView => ({
    id: k.id, name: k.name, role: k.role, namespace: k.namespaceId ? (d.namespaces.get(k.namespaceId)?.name ?? k.namespaceId) : null,
    sandbox_id: k.sandboxId, masked: k.masked, created_at: k.createdAt, revoked_at: k.revokedAt, last_used_at: k.lastUsedAt,
  });
  router
    .route(ROUTES.createKey, async ({ input: { body } }) => {
      if (body.role === 'namespace' && !body.namespace) throw new BkgError('INVALID_ARGUMENT', 'namespace: required for role "namespace"', { details: { field: 'namespace' } });
      const namespaceId = body.namespace ? d.namespaces.ensure(body.namespace).id : null;
      const created = d.keys.create({ name: body.name, role: body.role, namespaceId });
      return { status: 201, body: { key: keyView(created), secret: created.key }, audit: { target: created.id, namespace: namespaceId, details: { name: body.name, role: body.role } } };
    })
    .route(ROUTES.listKeys, async () => ({ status: 200, body: { keys: d.keys.list().map(keyView) } }))
    .route(ROUTES.revokeKey, async ({ input }) => ({ status: 200, body: keyView(d.keys.revoke(input.params.id)) }))
    .route(ROUTES.rotateKey, async ({ input }) => {
      const rotated = d.keys.rotate(input.params.id);
      return { status: 200, body: { key: keyView(rotated), secret: rotated.key } };
    })
    .route(ROUTES.auditEvents, async ({ input: { query } }) => {
      const since = sinceOf(query.since);
      const opts = { ...(since ? { since } : {}), ...(query.limit ? { limit: Number(query.limit) } : {}) };
      if (on(query.fleet)) return { status: 200, body: { events: (await fleetDbOf(d).fleetAudit(null, opts)).map((e) => ({ ...eventView(e), host: e.host })) } };
      return { status: 200, body: { events: d.audit.list(opts).map(eventView) } };
    })
    .route(ROUTES.verifyAudit, async ({ input: { query } }) => {
      if (!on(query.fleet)) return { status: 200, body: d.audit.verify() };
      const hosts = await fleetDbOf(d).verifyFleetAudit();
      return { status: 200, body: { ok: hosts.every((h) => h.ok), fleet: true as const, hosts } };
    })
    .route(ROUTES.whoami, async ({ principal: p }) => {
      const kind = keyKind(p);
      return {
        status: 200,
        body: {
          id: p.id, name: p.name, kind, namespace: p.namespaceId ? (d.namespaces.get(p.namespaceId)?.name ?? p.namespaceId) : null, sandbox_id: p.sandboxId,
          actions: ACTIONS.filter((a) => allowed(kind, a)),
        },
      };
    })
    .route(ROUTES.daemonInfo, async () => ({ status: 200, body: d.info() }))
    .route(ROUTES.shutdown, async () => {
      setImmediate(d.shutdown);
      return { status: 202, body: { stopping: true } };
    })
    .route(ROUTES.daemonConfig, async () => ({ status: 200, body: settings() }))
    .route(ROUTES.setDaemonConfig, async ({ input: { body } }) => {
      const before = settings();
      if (body.otel_sampling_rate !== undefined) d.telemetry.setSamplingRate(body.otel_sampling_rate);
      const after = settings();
      return { status: 200, body: after, audit: { target: 'daemon', details: { otel_sampling_rate: { from: before.otel_sampling_rate, to: after.otel_sampling_rate } } } };
    })
    .route(ROUTES.health, async () => {
      const problems = d.health();
      return { status: problems.length ? 503 : 200, body: problems.length ? { ok: false, problems } : { ok: true } };
    })
    .route(ROUTES.metrics, async () => textReply(d.metrics.render(), 'text/plain; version=0.0.4; charset=utf-8'))
    .route(ROUTES.openapi, async () => ({ status: 200, body: d.openapi() }));
}
