/**
 * Append-only, numbered schema migrations. Never edit or reorder an entry that has shipped:
 * add a new one. Each runs once, in a transaction, recorded in schema_migrations.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'audit log',
    sql: `
      CREATE TABLE audit_events (
        seq        INTEGER PRIMARY KEY,
        at         TEXT    NOT NULL,
        actor      TEXT    NOT NULL,
        namespace  TEXT,
        action     TEXT    NOT NULL,
        target     TEXT,
        outcome    TEXT    NOT NULL,
        details    TEXT,
        prev_hash  TEXT    NOT NULL,
        hash       TEXT    NOT NULL
      );`,
  },
];
