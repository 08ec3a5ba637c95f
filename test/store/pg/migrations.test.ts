/** The fleet schema: migrations run once under an advisory lock as bkg_owner, and every table is held to row-level security. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FleetDb, PG_MIGRATIONS } from '../../../src/store/pg/index.js';
import { BOOTSTRAP_SQL } from '../../../src/store/pg/migrate.js';
import { rejection } from '../../helpers/errors.js';
import { silent, skip, useFleetServer } from './fleet.js';

describe.skipIf(skip)('fleet database migrations', () => {
  const server = useFleetServer();

  it('run once when two daemons migrate at the same moment, and are recorded', async () => {
    const fleet = await server.fresh('race', { migrate: false });
    const [a, b] = await Promise.all([fleet.connect('host-a'), fleet.connect('host-b')]);
    const ran = await Promise.all([a.migrate(), b.migrate()]);
    expect(ran.map((r) => r.length).sort()).toEqual([0, PG_MIGRATIONS.length]);
    expect(await a.migrate()).toEqual([]);
    const su = await fleet.client();
    const recorded = (await su.query('SELECT version, name FROM schema_migrations ORDER BY version')).rows;
    expect(recorded).toEqual(PG_MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));
  });

  it('leave every table owned by bkg_owner, with row-level security enabled and forced', async () => {
    const fleet = await server.fresh();
    const su = await fleet.client();
    const tables = (await su.query(`
      SELECT c.relname, pg_get_userbyid(c.relowner) AS owner, c.relrowsecurity AS rls, c.relforcerowsecurity AS forced
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1`)).rows;
    expect(tables.length).toBe(15);
    for (const t of tables) expect(t, t.relname).toMatchObject({ owner: 'bkg_owner', rls: true, forced: true });
    const daemon = (await su.query("SELECT rolsuper, rolbypassrls, rolinherit, rolcanlogin FROM pg_roles WHERE rolname = 'bkg_daemon'")).rows[0];
    expect(daemon).toEqual({ rolsuper: false, rolbypassrls: false, rolinherit: false, rolcanlogin: true });
  });

  it('refuse a database migrated by a newer bkg', async () => {
    const fleet = await server.fresh();
    const su = await fleet.client();
    await su.query("INSERT INTO schema_migrations (version, name) VALUES (999, 'future')");
    const err = await rejection((await fleet.connect('h')).migrate());
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message).toMatch(/999 is newer/);
  });

  it('refuse to migrate as a role that may not become bkg_owner, naming initFleet', async () => {
    const fleet = await server.fresh();
    const su = await fleet.client();
    await su.query('DROP ROLE IF EXISTS plain_login; CREATE ROLE plain_login LOGIN');
    const db = await FleetDb.connect(fleet.urlAs('plain_login'), { log: silent, hostId: 'h' });
    try {
      const err = await rejection(db.migrate());
      expect(err.code).toBe('INVALID_CONFIG');
      expect(err.hint).toMatch(/initFleet/);
    } finally {
      await db.close();
    }
  });

  it('never change once shipped (append a new migration instead; pin its digest here)', () => {
    const digest = (sql: string) => createHash('sha256').update(sql).digest('hex').slice(0, 16);
    expect(digest(BOOTSTRAP_SQL)).toBe('edf2ea5b53cf21bc');
    expect(PG_MIGRATIONS.map((m) => [m.version, digest(m.sql)])).toEqual([[1, '82b8130ea1ec63e5'], [2, '9d108c97690b2368']]);
  });
});
