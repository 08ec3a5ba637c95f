/**
 * Applying the fleet's changes to the local copy, in the fleet's order (Postgres seq). A change
 * never overwrites a newer one (sync_rows keeps the seq that last wrote each row), nor a row with
 * a local change still in the outbox (that change will be pushed later, so it is the newer one and
 * wins on every host). A change that breaks a local constraint (a sandbox name another host took
 * while the two were apart) is skipped and counted as a conflict. Triggers stay silent meanwhile.
 */
import type { Db, Statement } from '../db.js';
import { fromJson, sharedColumns } from './columns.js';
import { replicatedTable, type ReplicatedTable } from './tables.js';

export interface FleetChange {
  seq: string;
  id: string;
  host: string;
  tbl: string;
  pk: string;
  op: 'upsert' | 'delete';
  row: Record<string, unknown> | null;
}

export interface Applied {
  applied: number;
  skipped: number;
  conflicts: { tbl: string; pk: string; host: string; reason: string }[];
  /** The tables that changed. */
  tables: Set<string>;
}

export class ChangeApplier {
  private readonly statements = new Map<string, Statement>();
  private readonly columns = new Map<string, string[]>();
  private readonly pendingStmt;
  private readonly versionStmt;
  private readonly setVersionStmt;
  private readonly cursorStmt;

  constructor(private readonly db: Db) {
    this.pendingStmt = db.prepare('SELECT 1 FROM sync_outbox WHERE tbl = ? AND pk = ? LIMIT 1');
    this.versionStmt = db.prepare('SELECT seq FROM sync_rows WHERE tbl = ? AND pk = ?');
    this.setVersionStmt = db.prepare('INSERT INTO sync_rows (tbl, pk, seq) VALUES (?, ?, ?) ON CONFLICT (tbl, pk) DO UPDATE SET seq = excluded.seq');
    this.cursorStmt = db.prepare("INSERT INTO sync_state (key, value) VALUES ('pull_cursor', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value");
  }

  /** Apply `changes` (ordered by seq) in one transaction, and move the pull cursor past them. */
  apply(changes: readonly FleetChange[]): Applied {
    const out: Applied = { applied: 0, skipped: 0, conflicts: [], tables: new Set() };
    if (changes.length === 0) return out;
    this.db.transaction(() => {
      this.db.exec('INSERT INTO temp.sync_applying VALUES (1)');
      try {
        for (const c of changes) this.one(c, out);
        this.cursorStmt.run((changes.at(-1) as FleetChange).seq);
      } finally {
        this.db.exec('DELETE FROM temp.sync_applying');
      }
    }).immediate();
    return out;
  }

  private one(c: FleetChange, out: Applied): void {
    const t = replicatedTable(c.tbl);
    const seq = Number(c.seq);
    const known = this.versionStmt.get(c.tbl, c.pk) as { seq: number } | undefined;
    if (!t || (known && known.seq >= seq) || this.pendingStmt.get(c.tbl, c.pk)) {
      out.skipped++;
      return;
    }
    try {
      // a savepoint per change: a refused one leaves the others standing
      this.db.transaction(() => (c.op === 'delete' ? this.remove(t, c) : this.upsert(t, c)))();
      out.applied++;
      out.tables.add(c.tbl);
    } catch (err) {
      out.conflicts.push({ tbl: c.tbl, pk: c.pk, host: c.host, reason: err instanceof Error ? err.message : String(err) });
    }
    this.setVersionStmt.run(c.tbl, c.pk, seq);
  }

  private upsert(t: ReplicatedTable, c: FleetChange): void {
    const row = c.row ?? {};
    let known = this.columns.get(t.name);
    if (!known) this.columns.set(t.name, (known = sharedColumns(this.db, t).map((col) => col.name)));
    const cols = known.filter((name) => Object.hasOwn(row, name));
    const key = `upsert ${t.name} ${cols.join(',')}`;
    let stmt = this.statements.get(key);
    if (!stmt) {
      const updates = cols.filter((name) => !t.pk.includes(name)).map((name) => `${name} = excluded.${name}`);
      stmt = this.db.prepare(
        `INSERT INTO ${t.name} (${cols.join(', ')}) VALUES (${cols.map((name) => `@${name}`).join(', ')})
         ON CONFLICT (${t.pk.join(', ')}) DO ${updates.length ? `UPDATE SET ${updates.join(', ')}` : 'NOTHING'}`,
      );
      this.statements.set(key, stmt);
    }
    stmt.run(Object.fromEntries(cols.map((name) => [name, fromJson(row[name])])));
  }

  private remove(t: ReplicatedTable, c: FleetChange): void {
    const key = `delete ${t.name}`;
    let stmt = this.statements.get(key);
    if (!stmt) {
      stmt = this.db.prepare(`DELETE FROM ${t.name} WHERE ${t.pk.map((name) => `${name} = ?`).join(' AND ')}`);
      this.statements.set(key, stmt);
    }
    stmt.run(...(JSON.parse(c.pk) as unknown[]));
  }
}
