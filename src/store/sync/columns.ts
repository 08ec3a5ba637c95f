/** The columns of a replicated table as SQLite declares them, and a row of it as JSON (BLOBs as {"$hex": ...}). */
import type { Db } from '../db.js';
import type { ReplicatedTable } from './tables.js';

export interface Column {
  readonly name: string;
  readonly blob: boolean;
}

/** The columns a table shares with the fleet (its local ones left out), in declaration order. */
export function sharedColumns(db: Db, t: ReplicatedTable): Column[] {
  const info = db.prepare(`SELECT name, type FROM pragma_table_info(?)`).all(t.name) as { name: string; type: string }[];
  if (info.length === 0) throw new Error(`sync: table ${t.name} does not exist`);
  return info.filter((c) => !(t.local ?? []).includes(c.name)).map((c) => ({ name: c.name, blob: c.type.toUpperCase() === 'BLOB' }));
}

/** SQL building the row `alias` as a JSON object. */
export function rowJson(cols: readonly Column[], alias: string): string {
  const value = (c: Column): string => (c.blob ? `CASE WHEN ${alias}.${c.name} IS NULL THEN NULL ELSE json_object('$hex', hex(${alias}.${c.name})) END` : `${alias}.${c.name}`);
  return `json_object(${cols.map((c) => `'${c.name}', ${value(c)}`).join(', ')})`;
}

/** SQL building the key of the row `alias` (a JSON array of its key columns). */
export function pkJson(t: ReplicatedTable, alias: string): string {
  return `json_array(${t.pk.map((c) => `${alias}.${c}`).join(', ')})`;
}

/** SQL giving the namespace id of the row `alias`, or NULL. */
export function namespaceSql(t: ReplicatedTable, alias: string): string {
  return t.namespace === null ? 'NULL' : t.namespace.replaceAll('r.', `${alias}.`);
}

/** A JSON value of a row back to what SQLite stores ({"$hex"} → bytes). */
export function fromJson(v: unknown): unknown {
  if (v !== null && typeof v === 'object' && '$hex' in v && typeof (v as { $hex: unknown }).$hex === 'string') return Buffer.from((v as { $hex: string }).$hex, 'hex');
  if (typeof v === 'boolean') return v ? 1 : 0;
  return v;
}
