/**
 * initFleet: the fleet's roles and the database grants that migrations need; run once (idempotent)
 * by an operator with a superuser or CREATEROLE URL of the fleet database.
 *
 * - bkg_owner  NOLOGIN: owns the tables (migrations run as it via SET LOCAL ROLE).
 * - bkg_fleet  NOLOGIN: fleet-wide work (replication, hosts, the fleet audit): its policies see every row.
 * - bkg_daemon LOGIN NOINHERIT: what daemons connect as. A member of both, but NOINHERIT, so it has
 *   their rights only after SET LOCAL ROLE in a transaction; on its own it has the direct grants of
 *   the migrations, held to the namespace policies (row-level security).
 */
import pg from 'pg';
import { BkgError } from '../../api/errors.js';
import { clientConfig, mapError } from './connection.js';
import { ROLES } from './tables.js';

export interface InitFleetOptions {
  /** bkg_daemon's password (unchanged when absent; trust or certificate auth need none). */
  daemonPassword?: string;
}

/** Create the role if missing (new roles are NOSUPERUSER NOBYPASSRLS by default), and set its LOGIN and INHERIT. */
function ensureRole(name: string, attrs: string): string {
  return `
    DO $$ BEGIN
      CREATE ROLE ${name} ${attrs};
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END $$;
    ALTER ROLE ${name} ${attrs};`;
}

export async function initFleet(adminUrl: string, opts: InitFleetOptions = {}): Promise<void> {
  const client = new pg.Client(clientConfig(adminUrl));
  client.on('error', () => {}); // a lost connection fails the query in flight, which is reported
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw mapError(err, 'initFleet');
  }
  try {
    const [me] = (await client.query<{ ok: boolean }>('SELECT rolsuper OR rolcreaterole AS ok FROM pg_roles WHERE rolname = current_user')).rows;
    if (!me?.ok) throw new BkgError('INVALID_CONFIG', 'initFleet needs a superuser or CREATEROLE URL of the fleet database', { hint: 'Run it with the URL of the database\'s administrator; daemons then connect as bkg_daemon.' });
    const [info] = (await client.query<{ db: string; v: number }>("SELECT current_database() AS db, current_setting('server_version_num')::int AS v")).rows;
    const db = client.escapeIdentifier(info?.db ?? '');
    // PostgreSQL 16+ keeps INHERIT per grant: say it there (older ones follow the member's NOINHERIT)
    const noInherit = (info?.v ?? 0) >= 160000 ? ' WITH INHERIT FALSE' : '';
    await client.query('BEGIN');
    await client.query(`
      ${ensureRole(ROLES.owner, 'NOLOGIN')}
      ${ensureRole(ROLES.fleet, 'NOLOGIN')}
      ${ensureRole(ROLES.daemon, 'LOGIN NOINHERIT')}
      GRANT ${ROLES.owner} TO ${ROLES.daemon}${noInherit};
      GRANT ${ROLES.fleet} TO ${ROLES.daemon}${noInherit};
      GRANT CONNECT, TEMPORARY ON DATABASE ${db} TO ${ROLES.daemon};
      -- only the owner creates objects in the schema (PostgreSQL 15+ already revokes it from PUBLIC)
      REVOKE CREATE ON SCHEMA public FROM PUBLIC;
      GRANT USAGE, CREATE ON SCHEMA public TO ${ROLES.owner};
      GRANT USAGE ON SCHEMA public TO ${ROLES.fleet}, ${ROLES.daemon};`);
    if (opts.daemonPassword !== undefined) await client.query(`ALTER ROLE ${ROLES.daemon} PASSWORD ${client.escapeLiteral(opts.daemonPassword)}`);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw mapError(err, 'initFleet');
  } finally {
    await client.end().catch(() => {});
  }
}
