/**
 * The audit log on SQLite: append-only rows in a hash chain (./audit-chain.ts). Each row's hash
 * covers its content and the previous row's hash, so editing, deleting or reordering any row is
 * detected by verify().
 */
import { nextRow, toEvent, verifyChain, type AuditRow } from './audit-chain.js';
import type { Db } from './db.js';
import type { AuditRepository, AuditVerifyResult } from './repositories.js';
import type { AuditEvent, AuditInput } from './types.js';

export { GENESIS, type AuditRow } from './audit-chain.js';
export type { AuditEvent, AuditInput } from './types.js';

export class AuditLog implements AuditRepository {
  private readonly lastStmt;
  private readonly insertStmt;
  private readonly listStmt;
  private readonly allStmt;
  private readonly afterStmt;
  private readonly appendTx;
  private readonly listeners: ((e: AuditEvent) => void)[] = [];

  constructor(db: Db, private readonly now: () => Date = () => new Date()) {
    this.lastStmt = db.prepare('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1');
    this.insertStmt = db.prepare(
      'INSERT INTO audit_events (seq, at, actor, namespace, action, target, outcome, details, prev_hash, hash) VALUES (@seq, @at, @actor, @namespace, @action, @target, @outcome, @details, @prev_hash, @hash)',
    );
    this.listStmt = db.prepare('SELECT * FROM audit_events WHERE at >= ? ORDER BY seq LIMIT ?');
    this.allStmt = db.prepare('SELECT * FROM audit_events ORDER BY seq');
    this.afterStmt = db.prepare('SELECT * FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?');
    this.appendTx = db.transaction((input: AuditInput): AuditEvent => {
      const last = this.lastStmt.get() as { seq: number; hash: string } | undefined;
      const row = nextRow(last, input, this.now());
      this.insertStmt.run(row);
      return toEvent(row);
    });
  }

  append(input: AuditInput): AuditEvent {
    const e = this.appendTx(input);
    for (const fn of this.listeners) fn(e);
    return e;
  }

  /** Call `fn` with every row appended from now on, once it is written (the daemon's event stream). */
  onAppend(fn: (e: AuditEvent) => void): void {
    this.listeners.push(fn);
  }

  list(opts: { since?: Date; limit?: number } = {}): AuditEvent[] {
    const rows = this.listStmt.all(opts.since?.toISOString() ?? '', opts.limit ?? -1) as AuditRow[];
    return rows.map(toEvent);
  }

  /** The rows after `seq`, as stored (hashes included): what a fleet host pushes to Postgres. */
  rowsAfter(seq: number, limit: number): AuditRow[] {
    return this.afterStmt.all(seq, limit) as AuditRow[];
  }

  /** Walk the chain; the first broken link is reported by sequence number. */
  verify(): AuditVerifyResult {
    return verifyChain(this.allStmt.iterate() as IterableIterator<AuditRow>);
  }
}
