/** Apply the fleet migrations once, as bkg_owner, in one transaction under an advisory lock: daemons starting together migrate once. */
import type pg from 'pg';
import { BkgError } from '../../api/errors.js';
import type { Logger } from '../../log.js';
import { inTx } from './connection.js';
import { secure, type Migration } from './migrations.js';
import { LOCK_CLASS, LOCKS } from './tables.js';

/** schema_migrations, made by the first migrate (the owner and the fleet read and write it; daemons see nothing). */
export const BOOTSTRAP_SQL = `
  CREATE TABLE schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  );${secure('schema_migrations', null, { fleet: 'SELECT', daemon: 'SELECT' })}
  CREATE POLICY schema_migrations_owner ON schema_migrations TO bkg_owner USING (true) WITH CHECK (true);`;

/** Answers the versions it applied (none when another daemon got there first). */
export async function migrate(pool: pg.Pool, migrations: readonly Migration[], log: Logger): Promise<number[]> {
  const ran = await inTx(pool, { role: 'owner' }, 'migrating', async (sql) => {
    await sql('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_CLASS, LOCKS.migrate]);
    // read after the lock: a daemon that waited sees what the first one committed
    const [reg] = await sql<{ t: string | null }>("SELECT to_regclass('public.schema_migrations')::text AS t");
    if (!reg?.t) await sql(BOOTSTRAP_SQL);
    const applied = new Set((await sql<{ version: number }>('SELECT version FROM schema_migrations')).map((r) => r.version));
    const known = new Set(migrations.map((m) => m.version));
    const unknown = [...applied].filter((v) => !known.has(v));
    if (unknown.length) {
      throw new BkgError('INVALID_CONFIG', `the fleet database's schema version ${Math.max(...unknown)} is newer than this bkg knows`, { hint: 'Upgrade bkg on this host to the version the rest of the fleet runs.' });
    }
    const done: number[] = [];
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (applied.has(m.version)) continue;
      await sql(m.sql);
      await sql('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      done.push(m.version);
    }
    return done;
  });
  if (ran.length) log.info({ versions: ran }, 'fleet database migrated');
  return ran;
}
