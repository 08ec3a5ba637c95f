/** The fleet database's connections: the pool, transactions under a role or a namespace, errors mapped to BkgError, the fail-closed role check. */
import pg from 'pg';
import { BkgError } from '../../api/errors.js';
import type { Logger } from '../../log.js';
import { ROLES } from './tables.js';

/** Run SQL in the current transaction; answers the rows. */
export type Sql = <R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]) => Promise<R[]>;

/** How a transaction is scoped: as bkg_fleet (every row) or bkg_owner (migrations), or as the login role within one namespace. */
export type Scope = { role: 'fleet' | 'owner' } | { namespace: string };

/**
 * The client settings of every connection: ours is the only schema searched; a session of a host
 * that vanished mid-transaction is ended by the server within about a minute, so the locks it held
 * (the push lock: every host's pushes wait on it) are not held for hours. `name` shows in pg_stat_activity.
 */
const SESSION = ['search_path=public', 'idle_in_transaction_session_timeout=60000', 'tcp_keepalives_idle=30', 'tcp_keepalives_interval=10', 'tcp_keepalives_count=3'];

export function clientConfig(url: string, name = 'bkg'): pg.ClientConfig {
  return {
    connectionString: url, options: SESSION.map((o) => `-c ${o}`).join(' '), application_name: name,
    connectionTimeoutMillis: 10_000, keepAlive: true, keepAliveInitialDelayMillis: 30_000,
  };
}

export function createPool(url: string, name: string, max: number, log: Logger): pg.Pool {
  const pool = new pg.Pool({ ...clientConfig(url, name), max, idleTimeoutMillis: 30_000 });
  // an idle connection that breaks (server restart) is dropped by the pool; without a listener it would crash the process
  pool.on('error', (err) => log.warn({ err: { message: err.message } }, 'fleet database: an idle connection failed'));
  return pool;
}

const NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/**
 * A BkgError for errors of reaching the database: SYNC_UNAVAILABLE when it cannot be reached or
 * went away, INVALID_CONFIG when it refuses us for good (authentication, no such database or
 * role). Anything else (a bug in our SQL, a constraint) is answered as it is.
 */
export function mapError(err: unknown, what: string): unknown {
  if (err instanceof BkgError || !(err instanceof Error)) return err;
  const code = (err as { code?: string }).code ?? '';
  if (code.startsWith('28') || code === '3D000') {
    return new BkgError('INVALID_CONFIG', `the fleet database refused the connection (${what}): ${err.message}`, {
      hint: 'Check the sync URL\'s user, password and database; the fleet\'s roles are made by initFleet (run with a superuser URL).', cause: err,
    });
  }
  if (NETWORK.has(code) || code.startsWith('08') || ['57P01', '57P02', '57P03', '53300'].includes(code) || /Connection terminated|timeout expired|connection timeout/i.test(err.message)) {
    return new BkgError('SYNC_UNAVAILABLE', `the fleet database is unavailable (${what}): ${err.message || code}`, { cause: err });
  }
  return err;
}

/** Run `fn` in one transaction scoped by `scope`; rolled back when it throws. */
export async function inTx<T>(pool: pg.Pool, scope: Scope, what: string, fn: (sql: Sql) => Promise<T>): Promise<T> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw mapError(err, what);
  }
  const sql: Sql = async (text, values) => (await client.query(text, values)).rows;
  let broken: Error | undefined;
  // a checked-out client has no listener of the pool's: a server gone mid-transaction would be an
  // unhandled 'error' (a crash); the query in flight rejects on its own, and the client is discarded
  const onError = (err: Error): void => {
    broken = err;
  };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    if ('role' in scope) await setRole(client, ROLES[scope.role]);
    else await client.query("SELECT set_config('bkg.namespace', $1, true)", [scope.namespace]);
    const out = await fn(sql);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch((e: Error) => { broken = e; });
    throw mapError(err, what);
  } finally {
    client.removeListener('error', onError);
    client.release(broken);
  }
}

async function setRole(client: pg.PoolClient, role: string): Promise<void> {
  try {
    await client.query(`SET LOCAL ROLE ${role}`);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code !== '42704' && code !== '42501') throw err;
    throw new BkgError('INVALID_CONFIG', `the login role may not SET ROLE ${role} in the fleet database (${(err as Error).message})`, {
      hint: `Run initFleet once with a superuser URL (it makes ${ROLES.owner}, ${ROLES.fleet} and ${ROLES.daemon}), and connect daemons as ${ROLES.daemon}.`, cause: err,
    });
  }
}

interface RoleFacts {
  rolname: string;
  rolsuper: boolean;
  rolbypassrls: boolean;
  owned: string[];
  inherits_fleet: boolean;
}

/**
 * Refuse a login role under which row-level security would not hold: a superuser, BYPASSRLS, one
 * with the privileges (itself or inherited) of the owner of any table of ours, or one inheriting
 * bkg_fleet's rights without SET ROLE. Isolation fails closed.
 */
export async function checkRole(pool: pg.Pool): Promise<void> {
  let facts: RoleFacts | undefined;
  try {
    const r = await pool.query<RoleFacts>(`
      SELECT r.rolname, r.rolsuper, r.rolbypassrls,
        ARRAY(SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND pg_has_role(r.oid, c.relowner, 'USAGE') ORDER BY 1) AS owned,
        EXISTS (SELECT 1 FROM pg_roles f WHERE f.rolname = $1 AND pg_has_role(r.oid, f.oid, 'USAGE')) AS inherits_fleet
      FROM pg_roles r WHERE r.rolname = current_user`, [ROLES.fleet]);
    facts = r.rows[0];
  } catch (err) {
    throw mapError(err, 'connecting');
  }
  if (!facts) throw new BkgError('INTERNAL', 'the fleet database does not know the role it was connected as');
  const hint = `Connect daemons as ${ROLES.daemon} (made by initFleet: LOGIN NOINHERIT, no superuser, no BYPASSRLS, owning nothing); keep superuser and owner roles for operators.`;
  const refuse = (why: string) => new BkgError('INVALID_CONFIG', `refusing to sync as role "${facts.rolname}": ${why}, so namespace isolation (row-level security) would not hold`, { hint });
  if (facts.rolsuper) throw refuse('it is a superuser');
  if (facts.rolbypassrls) throw refuse('it has BYPASSRLS');
  if (facts.owned.length) throw refuse(`it owns (or inherits the owner of) table(s) ${facts.owned.join(', ')}`);
  if (facts.inherits_fleet) throw refuse(`it inherits ${ROLES.fleet}'s rights without SET ROLE (make it NOINHERIT)`);
}
