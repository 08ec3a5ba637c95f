/** FleetDb: one daemon's connection to the fleet database (Postgres sync mode); every method is one transaction. */
import type pg from 'pg';
import { BkgError } from '../../api/errors.js';
import type { Logger } from '../../log.js';
import type { AuditRow } from '../audit-chain.js';
import * as audit from './audit.js';
import * as changes from './changes.js';
import { checkRole, createPool, inTx, type Sql } from './connection.js';
import * as registry from './hosts.js';
import { listen, type Listener } from './listen.js';
import { migrate } from './migrate.js';
import { PG_MIGRATIONS } from './migrations.js';
import type { AuditPushResult, Change, FleetAuditEvent, FleetAuditVerifyResult, FleetRow, HeartbeatInput, HostRecord, OutgoingChange } from './types.js';

export interface FleetDbOptions {
  log: Logger;
  /** This host's id: stamped on its pushes and audit rows; pull skips its own changes. */
  hostId: string;
  /** Pool size (default 4). */
  max?: number;
}

interface EntityRow {
  pk: string;
  namespace_id: string | null;
  host: string;
  seq: string;
  row: Record<string, unknown>;
}

export class FleetDb {
  private constructor(
    private readonly pool: pg.Pool,
    private readonly url: string,
    readonly hostId: string,
    private readonly log: Logger,
  ) {}

  /**
   * Connect, and refuse (INVALID_CONFIG) a role under which row-level security would not hold:
   * superuser, BYPASSRLS, owning our tables, inheriting bkg_fleet. Unreachable: SYNC_UNAVAILABLE.
   */
  static async connect(url: string, opts: FleetDbOptions): Promise<FleetDb> {
    if (!opts.hostId) throw new BkgError('INVALID_CONFIG', 'the fleet database needs this host\'s id');
    const pool = createPool(url, `bkg ${opts.hostId}`, opts.max ?? 4, opts.log);
    try {
      await checkRole(pool);
    } catch (err) {
      await pool.end().catch(() => {});
      throw err;
    }
    return new FleetDb(pool, url, opts.hostId, opts.log);
  }

  /** Apply pending migrations (once across the fleet); answers the versions applied here. */
  migrate(): Promise<number[]> {
    return migrate(this.pool, PG_MIGRATIONS, this.log);
  }

  /** Push this host's changes, in order, in one transaction; answers each change id's seq. */
  push(list: readonly OutgoingChange[]): Promise<Map<string, string>> {
    return this.fleet('pushing changes', (sql) => changes.push(sql, this.hostId, list));
  }

  /** Other hosts' changes after `afterSeq`, in seq order, at most `limit`. */
  pull(afterSeq: string, limit: number): Promise<Change[]> {
    return this.fleet('pulling changes', (sql) => changes.pull(sql, this.hostId, afterSeq, limit));
  }

  /** The last seq of the log ('0' when empty). */
  head(): Promise<string> {
    return this.fleet('reading the change log', (sql) => changes.head(sql));
  }

  /** Be told the last seq of every push (any host's, this one's too) on a dedicated connection; onError once when it breaks. */
  listen(onNotify: (seq: string) => void, onError: (err: unknown) => void): Promise<Listener> {
    return listen(this.url, `bkg ${this.hostId} listen`, onNotify, onError);
  }

  /** Add this host's audit rows (idempotent by seq). */
  pushAudit(rows: readonly AuditRow[]): Promise<AuditPushResult> {
    return this.fleet('pushing audit events', (sql) => audit.pushAudit(sql, this.hostId, rows));
  }

  /** The last audit seq the fleet holds for this host (0: none). */
  lastAuditSeq(): Promise<number> {
    return this.fleet('reading the fleet audit', (sql) => audit.lastAuditSeq(sql, this.hostId));
  }

  /** Every host's audit events in one namespace (null: all, for admin callers only), oldest first. */
  fleetAudit(namespaceId: string | null, opts: { since?: Date; limit?: number } = {}): Promise<FleetAuditEvent[]> {
    return this.scoped(namespaceId, (sql) => audit.fleetAudit(sql, opts));
  }

  /** Re-hash every host's chain. */
  verifyFleetAudit(): Promise<FleetAuditVerifyResult[]> {
    return this.fleet('verifying the fleet audit', (sql) => audit.verifyFleetAudit(sql));
  }

  heartbeat(h: HeartbeatInput): Promise<void> {
    return this.fleet('heartbeat', (sql) => registry.heartbeat(sql, h));
  }

  /** Every registered host, alive when its last heartbeat is at most `maxAgeMs` old. */
  hosts(maxAgeMs: number): Promise<HostRecord[]> {
    return this.fleet('reading hosts', (sql) => registry.hosts(sql, maxAgeMs));
  }

  /**
   * Run `fn` in a transaction that sees one namespace's rows (`bkg.namespace`, held by row-level
   * security), or every row (null, as bkg_fleet: only for admin-kind callers).
   */
  scoped<T>(namespaceId: string | null, fn: (sql: Sql) => Promise<T>): Promise<T> {
    if (namespaceId === '') throw new BkgError('INVALID_ARGUMENT', 'a namespace-scoped read needs a namespace id');
    return inTx(this.pool, namespaceId === null ? { role: 'fleet' } : { namespace: namespaceId }, 'reading', fn);
  }

  /** The sandboxes of one namespace (null: all) across the fleet, with the host that last wrote each. */
  fleetSandboxes(namespaceId: string | null): Promise<FleetRow[]> {
    return this.scoped(namespaceId, async (sql) => {
      const rows = await sql<EntityRow>('SELECT pk, namespace_id, host, seq::text, row FROM sandboxes ORDER BY pk');
      return rows.map((r) => ({ pk: r.pk, namespaceId: r.namespace_id, host: r.host, seq: r.seq, row: r.row }));
    });
  }

  async close(): Promise<void> {
    await this.pool.end().catch((err: Error) => this.log.warn({ err: { message: err.message } }, 'fleet database: closing the pool failed'));
  }

  private fleet<T>(what: string, fn: (sql: Sql) => Promise<T>): Promise<T> {
    return inTx(this.pool, { role: 'fleet' }, what, fn);
  }
}
