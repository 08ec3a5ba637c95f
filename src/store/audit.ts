/**
 * The audit log: append-only rows in a hash chain. Each row's hash covers its content and the
 * previous row's hash, so editing, deleting or reordering any row is detected by verify().
 */
import { createHash } from 'node:crypto';
import type { Db } from './db.js';

export interface AuditInput {
  actor: string;
  namespace?: string | null;
  action: string;
  target?: string | null;
  outcome: 'ok' | 'denied' | 'error';
  details?: Record<string, unknown>;
}

export interface AuditEvent extends Required<Omit<AuditInput, 'details'>> {
  seq: number;
  at: string;
  details: Record<string, unknown> | null;
  prevHash: string;
  hash: string;
}

interface Row {
  seq: number;
  at: string;
  actor: string;
  namespace: string | null;
  action: string;
  target: string | null;
  outcome: AuditInput['outcome'];
  details: string | null;
  prev_hash: string;
  hash: string;
}

export const GENESIS = '0'.repeat(64);

function rowHash(r: Omit<Row, 'hash'>): string {
  const canonical = JSON.stringify([r.seq, r.at, r.actor, r.namespace, r.action, r.target, r.outcome, r.details, r.prev_hash]);
  return createHash('sha256').update(canonical).digest('hex');
}

function toEvent(r: Row): AuditEvent {
  return {
    seq: r.seq, at: r.at, actor: r.actor, namespace: r.namespace, action: r.action, target: r.target, outcome: r.outcome,
    details: r.details === null ? null : (JSON.parse(r.details) as Record<string, unknown>), prevHash: r.prev_hash, hash: r.hash,
  };
}

export class AuditLog {
  constructor(private readonly db: Db, private readonly now: () => Date = () => new Date()) {}

  append(input: AuditInput): AuditEvent {
    return this.db.transaction(() => {
      const last = this.db.prepare('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string } | undefined;
      const row: Omit<Row, 'hash'> = {
        seq: (last?.seq ?? 0) + 1,
        at: this.now().toISOString(),
        actor: input.actor,
        namespace: input.namespace ?? null,
        action: input.action,
        target: input.target ?? null,
        outcome: input.outcome,
        details: input.details === undefined ? null : JSON.stringify(input.details),
        prev_hash: last?.hash ?? GENESIS,
      };
      const full: Row = { ...row, hash: rowHash(row) };
      this.db
        .prepare('INSERT INTO audit_events (seq, at, actor, namespace, action, target, outcome, details, prev_hash, hash) VALUES (@seq, @at, @actor, @namespace, @action, @target, @outcome, @details, @prev_hash, @hash)')
        .run(full);
      return toEvent(full);
    })();
  }

  list(opts: { since?: Date; limit?: number } = {}): AuditEvent[] {
    const rows = this.db
      .prepare('SELECT * FROM audit_events WHERE at >= ? ORDER BY seq LIMIT ?')
      .all(opts.since?.toISOString() ?? '', opts.limit ?? -1) as Row[];
    return rows.map(toEvent);
  }

  /** Walk the chain; the first broken link is reported by sequence number. */
  verify(): { ok: true; count: number } | { ok: false; count: number; seq: number; reason: string } {
    let prev = GENESIS;
    let expectedSeq = 1;
    let count = 0;
    for (const r of this.db.prepare('SELECT * FROM audit_events ORDER BY seq').iterate() as IterableIterator<Row>) {
      if (r.seq !== expectedSeq) return { ok: false, count, seq: expectedSeq, reason: `row ${expectedSeq} is missing` };
      if (r.prev_hash !== prev) return { ok: false, count, seq: r.seq, reason: `row ${r.seq} does not follow row ${r.seq - 1}` };
      const { hash, ...rest } = r;
      if (rowHash(rest) !== hash) return { ok: false, count, seq: r.seq, reason: `row ${r.seq} was modified` };
      prev = hash;
      expectedSeq++;
      count++;
    }
    return { ok: true, count };
  }
}
