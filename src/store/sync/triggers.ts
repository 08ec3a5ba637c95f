/**
 * The outbox triggers: every change to a replicated table, in the same transaction, becomes a row
 * of sync_outbox. They are TEMP triggers of the daemon's own connection (installed only in sync
 * mode), and stay silent while the connection applies changes that came from the fleet
 * (temp.sync_applying holds a row then). Each change also calls bkg_sync_kick(), a function the
 * syncer registers on the connection, so a push follows the commit at once.
 */
import type { Db } from '../db.js';
import { namespaceSql, pkJson, rowJson, sharedColumns } from './columns.js';
import { REPLICATED } from './tables.js';

const CHANGE_ID = 'lower(hex(randomblob(16)))';
const NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

export function installOutboxTriggers(db: Db): void {
  db.exec('CREATE TEMP TABLE IF NOT EXISTS sync_applying (x INTEGER)');
  const quiet = 'NOT EXISTS (SELECT 1 FROM temp.sync_applying)';
  for (const t of REPLICATED) {
    const cols = sharedColumns(db, t);
    const watched = cols.filter((c) => !(t.volatile ?? []).includes(c.name)).map((c) => c.name);
    const upsert = (alias: string): string =>
      `INSERT INTO main.sync_outbox (change_id, tbl, pk, op, namespace_id, row, at)
       VALUES (${CHANGE_ID}, '${t.name}', ${pkJson(t, alias)}, 'upsert', ${namespaceSql(t, alias)}, ${rowJson(cols, alias)}, ${NOW});
       SELECT bkg_sync_kick();`;
    db.exec(`
      DROP TRIGGER IF EXISTS temp.sync_${t.name}_ins;
      DROP TRIGGER IF EXISTS temp.sync_${t.name}_upd;
      DROP TRIGGER IF EXISTS temp.sync_${t.name}_del;
      CREATE TEMP TRIGGER sync_${t.name}_ins AFTER INSERT ON main.${t.name} WHEN ${quiet} BEGIN ${upsert('NEW')} END;
      CREATE TEMP TRIGGER sync_${t.name}_upd AFTER UPDATE OF ${watched.join(', ')} ON main.${t.name} WHEN ${quiet} BEGIN ${upsert('NEW')} END;
      CREATE TEMP TRIGGER sync_${t.name}_del AFTER DELETE ON main.${t.name} WHEN ${quiet} BEGIN
        INSERT INTO main.sync_outbox (change_id, tbl, pk, op, namespace_id, row, at)
        VALUES (${CHANGE_ID}, '${t.name}', ${pkJson(t, 'OLD')}, 'delete', ${namespaceSql(t, 'OLD')}, NULL, ${NOW});
        SELECT bkg_sync_kick();
      END;`);
  }
}

/** Every row of every replicated table into the outbox (a host joining a fleet, or a new fleet database). */
export function snapshotIntoOutbox(db: Db): number {
  let n = 0;
  db.transaction(() => {
    for (const t of REPLICATED) {
      const cols = sharedColumns(db, t);
      n += db.prepare(
        `INSERT INTO sync_outbox (change_id, tbl, pk, op, namespace_id, row, at)
         SELECT ${CHANGE_ID}, '${t.name}', ${pkJson(t, 'r')}, 'upsert', ${namespaceSql(t, 'r')}, ${rowJson(cols, 'r')}, ${NOW} FROM main.${t.name} AS r`,
      ).run().changes;
    }
  }).immediate();
  return n;
}
