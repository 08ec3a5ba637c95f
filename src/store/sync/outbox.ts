/** The outbox: local changes waiting to be pushed, oldest first; acknowledged ones leave with the seq the fleet gave them. */
import type { Db } from '../db.js';

export interface OutboxEntry {
  /** Local order. */
  id: number;
  /** The change id the fleet de-duplicates on. */
  changeId: string;
  tbl: string;
  pk: string;
  op: 'upsert' | 'delete';
  namespaceId: string | null;
  row: Record<string, unknown> | null;
}

interface Row {
  id: number;
  change_id: string;
  tbl: string;
  pk: string;
  op: 'upsert' | 'delete';
  namespace_id: string | null;
  row: string | null;
}

export class Outbox {
  private readonly pendingStmt;
  private readonly sizeStmt;
  private readonly deleteStmt;
  private readonly versionStmt;
  private readonly ack;

  constructor(db: Db) {
    this.pendingStmt = db.prepare('SELECT id, change_id, tbl, pk, op, namespace_id, row FROM sync_outbox ORDER BY id LIMIT ?');
    this.sizeStmt = db.prepare('SELECT count(*) AS n FROM sync_outbox');
    this.deleteStmt = db.prepare('DELETE FROM sync_outbox WHERE id = ?');
    this.versionStmt = db.prepare('INSERT INTO sync_rows (tbl, pk, seq) VALUES (?, ?, ?) ON CONFLICT (tbl, pk) DO UPDATE SET seq = max(seq, excluded.seq)');
    this.ack = db.transaction((entries: OutboxEntry[], seqs: ReadonlyMap<string, string>) => {
      for (const e of entries) {
        const seq = seqs.get(e.changeId);
        if (seq === undefined) continue;
        this.versionStmt.run(e.tbl, e.pk, Number(seq));
        this.deleteStmt.run(e.id);
      }
    });
  }

  pending(limit: number): OutboxEntry[] {
    return (this.pendingStmt.all(limit) as Row[]).map((r) => ({
      id: r.id, changeId: r.change_id, tbl: r.tbl, pk: r.pk, op: r.op, namespaceId: r.namespace_id, row: r.row === null ? null : (JSON.parse(r.row) as Record<string, unknown>),
    }));
  }

  size(): number {
    return (this.sizeStmt.get() as { n: number }).n;
  }

  /** The fleet took these changes (seq by change id): they leave the outbox, and their rows know their version. */
  acknowledge(entries: OutboxEntry[], seqs: ReadonlyMap<string, string>): void {
    this.ack.immediate(entries, seqs);
  }
}
