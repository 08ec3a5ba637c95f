/**
 * Rows of one host's store copied into another's as fleet sync applies them (src/store/sync/apply.ts),
 * without Postgres: each copy is one fleet change, in order.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { openStore } from '../../../src/store/index.js';
import { ChangeApplier } from '../../../src/store/sync/apply.js';

/** A row as the fleet carries it: bytes as {"$hex": ...}. */
function toJson(row: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Buffer.isBuffer(v) ? { $hex: v.toString('hex') } : v]));
}

export function hostIdOf(home: string): string {
  const store = openStore(join(home, 'bkg.db'));
  try {
    return store.hostId;
  } finally {
    store.close();
  }
}

export function rowOf(home: string, tbl: string, id: string): Record<string, unknown> {
  const store = openStore(join(home, 'bkg.db'));
  try {
    const row = store.db.prepare(`SELECT * FROM ${tbl} WHERE id = ?`).get(id) as Record<string, unknown> | undefined;
    if (!row) throw new Error(`no ${tbl} row ${id} in ${home}`);
    return row;
  } finally {
    store.close();
  }
}

/** The fleet of these tests: changes numbered in the order they are made. */
export class TestSync {
  private seq = 0;

  /** Copy the row `id` of `tbl` from one home's store to another's (with `patch` applied: a later change made on the first host). */
  copy(from: string, to: string, tbl: string, id: string, patch: Record<string, unknown> = {}): void {
    const row = toJson({ ...rowOf(from, tbl, id), ...patch });
    const host = hostIdOf(from);
    const store = openStore(join(to, 'bkg.db'));
    try {
      // the applier marks its changes in temp.sync_applying (made with the daemon's outbox triggers); this connection pushes nothing, so it needs only the table
      store.db.exec('CREATE TEMP TABLE IF NOT EXISTS sync_applying (x INTEGER)');
      const r = new ChangeApplier(store.db).apply([{ seq: String(++this.seq), id: randomUUID(), host, tbl, pk: JSON.stringify([id]), op: 'upsert', row }]);
      if (r.applied !== 1) throw new Error(`sync did not apply ${tbl} ${id}: ${JSON.stringify(r.conflicts)}`);
    } finally {
      store.close();
    }
  }
}
