/**
 * Fleet sync: the local SQLite stays the working copy; shared tables travel both ways through
 * Postgres. Local changes leave through the outbox (written by triggers in the writing
 * transaction) and are pushed in order, idempotently; other hosts' changes arrive by LISTEN/NOTIFY
 * and, since a notification can be missed, by a catch-up on the pull cursor every round. This
 * host's audit events go up on their own cursor. While Postgres is away the host keeps serving;
 * the rounds resume when it is back, and nothing is lost or applied twice.
 */
import type { Logger } from '../../log.js';
import type { AuditLog, AuditRow } from '../audit.js';
import type { Db } from '../db.js';
import { ChangeApplier, type FleetChange } from './apply.js';
import { Outbox, type OutboxEntry } from './outbox.js';
import { SyncState } from './state.js';
import { installOutboxTriggers, snapshotIntoOutbox } from './triggers.js';

/** What the syncer needs of the fleet database (src/store/pg). */
export interface FleetLink {
  migrate(): Promise<unknown>;
  push(changes: { id: string; tbl: string; pk: string; op: 'upsert' | 'delete'; namespaceId: string | null; row: Record<string, unknown> | null }[]): Promise<Map<string, string>>;
  pull(afterSeq: string, limit: number): Promise<FleetChange[]>;
  listen(onNotify: (seq: string) => void, onError: (err: unknown) => void): Promise<{ close(): Promise<void> }>;
  /** This host's audit rows (the link knows the host); idempotent. */
  pushAudit(rows: readonly AuditRow[]): Promise<unknown>;
  heartbeat(h: { id: string; name: string; peerUrl: string | null; version: string; startedAt: Date; load: Record<string, unknown> }): Promise<void>;
  close(): Promise<void>;
}

export interface SyncOptions {
  db: Db;
  audit: AuditLog;
  hostId: string;
  hostName: string;
  /** The fleet database's address, for status (its password is never shown). */
  url: string;
  connect: () => Promise<FleetLink>;
  /** A host that has not completed a round for this long refuses keys made elsewhere. */
  maxStalenessMs: number;
  log: Logger;
  version: string;
  peerUrl: string | null;
  load: () => Record<string, unknown>;
  /** Tables other hosts changed (caches over them refresh). */
  onApplied?: (tables: ReadonlySet<string>) => void;
  /** Between catch-ups when no notification comes (default 1000 ms). */
  roundMs?: number;
  now?: () => number;
}

export interface SyncStatus {
  enabled: true;
  url: string;
  host_id: string;
  connected: boolean;
  last_sync_at: string | null;
  stale: boolean;
  max_staleness_s: number;
  outbox: number;
  cursor: string;
  conflicts: number;
  last_error: string | null;
}

const BATCH = 500;
const HEARTBEAT_MS = 2000;
const PERSIST_MS = 5000;

/** The address without its password. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable)';
  }
}

export class Syncer {
  private readonly state: SyncState;
  private readonly outbox: Outbox;
  private readonly applier: ChangeApplier;
  private readonly now: () => number;
  private readonly startedAt: Date;
  private link: FleetLink | null = null;
  private listener: { close(): Promise<void> } | null = null;
  private lastSyncAt: number | null;
  private lastPersisted = 0;
  private lastHeartbeat = 0;
  private lastError: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private closed = false;
  private failures = 0;

  constructor(private readonly o: SyncOptions) {
    this.state = new SyncState(o.db);
    this.outbox = new Outbox(o.db);
    this.applier = new ChangeApplier(o.db);
    this.now = o.now ?? Date.now;
    this.startedAt = new Date(this.now());
    this.lastSyncAt = this.state.lastSyncAt;
    // a change in the outbox starts a round right after its transaction ends (never inside it:
    // what a rolled-back transaction wrote is gone by then, and is never pushed)
    let queued = false;
    o.db.function('bkg_sync_kick', { deterministic: false, varargs: false }, () => {
      if (!queued) {
        queued = true;
        setImmediate(() => {
          queued = false;
          this.kick();
        });
      }
      return null;
    });
    // before the daemon writes anything: every change from now on reaches the outbox
    installOutboxTriggers(o.db);
  }

  /** Start the rounds (the first one connects); returns at once. */
  start(): void {
    this.kick();
  }

  /** Run a round now (a notification arrived, or a local change waits). */
  kick(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.running = this.round().finally(() => {
      this.running = null;
      if (this.closed) return;
      const delay = this.again ? 0 : this.link ? (this.o.roundMs ?? 1000) : Math.min(1000 * 2 ** Math.min(this.failures, 3), 5000);
      this.again = false;
      this.timer = setTimeout(() => this.kick(), delay);
      this.timer.unref();
    });
  }

  private async round(): Promise<void> {
    try {
      const link = this.link ?? (await this.open());
      await this.pushChanges(link);
      await this.pushAudit(link);
      await this.pull(link);
      if (this.now() - this.lastHeartbeat >= HEARTBEAT_MS) {
        await link.heartbeat({ id: this.o.hostId, name: this.o.hostName, peerUrl: this.o.peerUrl, version: this.o.version, startedAt: this.startedAt, load: this.o.load() });
        this.lastHeartbeat = this.now();
      }
      this.synced();
      this.failures = 0;
    } catch (err) {
      this.failures++;
      this.lastError = err instanceof Error ? err.message : String(err);
      if (this.link) this.o.log.warn({ err: this.lastError }, 'fleet sync: lost the fleet database; serving from the local copy and retrying');
      await this.drop();
    }
  }

  private async open(): Promise<FleetLink> {
    const link = await this.o.connect();
    try {
      await link.migrate();
      if (this.state.get('snapshot_for') !== redactUrl(this.o.url)) {
        const n = snapshotIntoOutbox(this.o.db);
        this.state.set('snapshot_for', redactUrl(this.o.url));
        this.o.log.info({ rows: n }, 'fleet sync: first contact with this fleet database; queued every shared row');
      }
      this.listener = await link.listen(() => this.kick(), (err) => {
        this.lastError = err instanceof Error ? err.message : String(err);
        void this.drop().then(() => this.kick());
      });
    } catch (err) {
      await link.close().catch(() => undefined);
      throw err;
    }
    this.link = link;
    this.lastError = null;
    this.o.log.info({ url: redactUrl(this.o.url) }, 'fleet sync: connected');
    return link;
  }

  private async drop(): Promise<void> {
    const [link, listener] = [this.link, this.listener];
    this.link = null;
    this.listener = null;
    await listener?.close().catch(() => undefined);
    await link?.close().catch(() => undefined);
  }

  private async pushChanges(link: FleetLink): Promise<void> {
    for (;;) {
      const batch: OutboxEntry[] = this.outbox.pending(BATCH);
      if (batch.length === 0) return;
      const seqs = await link.push(batch.map((e) => ({ id: e.changeId, tbl: e.tbl, pk: e.pk, op: e.op, namespaceId: e.namespaceId, row: e.row })));
      this.outbox.acknowledge(batch, seqs);
      if (batch.length < BATCH) return;
    }
  }

  private async pushAudit(link: FleetLink): Promise<void> {
    for (;;) {
      const rows = this.o.audit.rowsAfter(this.state.auditPushed, BATCH);
      if (rows.length === 0) return;
      await link.pushAudit(rows);
      this.state.set('audit_pushed', String((rows.at(-1) as AuditRow).seq));
      if (rows.length < BATCH) return;
    }
  }

  private async pull(link: FleetLink): Promise<void> {
    for (;;) {
      const changes = await link.pull(this.state.cursor, BATCH);
      if (changes.length === 0) return;
      const r = this.applier.apply(changes);
      for (const c of r.conflicts) this.o.log.warn(c, 'fleet sync: a change from another host conflicts with this host\'s data; kept this host\'s');
      if (r.conflicts.length) this.state.set('conflicts', String(this.state.conflicts + r.conflicts.length));
      if (r.tables.size) this.o.onApplied?.(r.tables);
      if (changes.length < BATCH) return;
    }
  }

  private synced(): void {
    this.lastSyncAt = this.now();
    if (this.lastSyncAt - this.lastPersisted >= PERSIST_MS) {
      this.state.set('last_sync_at', String(this.lastSyncAt));
      this.lastPersisted = this.lastSyncAt;
    }
  }

  /** Whether this host is past its staleness bound (it then refuses keys made on other hosts). */
  stale(): boolean {
    return this.lastSyncAt === null || this.now() - this.lastSyncAt > this.o.maxStalenessMs;
  }

  status(): SyncStatus {
    return {
      enabled: true,
      url: redactUrl(this.o.url),
      host_id: this.o.hostId,
      connected: this.link !== null,
      last_sync_at: this.lastSyncAt === null ? null : new Date(this.lastSyncAt).toISOString(),
      stale: this.stale(),
      max_staleness_s: this.o.maxStalenessMs / 1000,
      outbox: this.outbox.size(),
      cursor: this.state.cursor,
      conflicts: this.state.conflicts,
      last_error: this.lastError,
    };
  }

  /** Stop the rounds; one last push of what is waiting, if the database is there. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    if (this.link) await this.pushChanges(this.link).then(() => this.pushAudit(this.link as FleetLink)).catch(() => undefined);
    if (this.lastSyncAt !== null) this.state.set('last_sync_at', String(this.lastSyncAt));
    await this.drop();
  }
}
