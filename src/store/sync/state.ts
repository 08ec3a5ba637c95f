/** The sync bookkeeping kept in sync_state: the pull cursor, the audit push cursor, the last successful sync, conflicts. */
import type { Db } from '../db.js';

export class SyncState {
  private readonly getStmt;
  private readonly setStmt;

  constructor(db: Db) {
    this.getStmt = db.prepare('SELECT value FROM sync_state WHERE key = ?');
    this.setStmt = db.prepare('INSERT INTO sync_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
  }

  get(key: string): string | null {
    return (this.getStmt.get(key) as { value: string } | undefined)?.value ?? null;
  }

  set(key: string, value: string): void {
    this.setStmt.run(key, value);
  }

  /** The last fleet change (Postgres seq) applied here. */
  get cursor(): string {
    return this.get('pull_cursor') ?? '0';
  }

  /** The last own audit event pushed. */
  get auditPushed(): number {
    return Number(this.get('audit_pushed') ?? '0');
  }

  /** When this host last completed a round with the fleet database (ms since the epoch), or null: never. */
  get lastSyncAt(): number | null {
    const v = this.get('last_sync_at');
    return v === null ? null : Number(v);
  }

  get conflicts(): number {
    return Number(this.get('conflicts') ?? '0');
  }
}
