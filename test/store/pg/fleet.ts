/** Shared by the fleet database tests: one Postgres per test file, a fresh database per test (roles are cluster-wide: initFleet is idempotent). */
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { createLogger } from '../../../src/log.js';
import { FleetDb, initFleet } from '../../../src/store/pg/index.js';
import { postgresSkipReason, startPostgres, type TestPostgres } from '../../helpers/postgres.js';

export const skip = postgresSkipReason();
if (skip) console.warn(`skipping the fleet database tests: ${skip}`);

export const silent = createLogger({ level: 'silent' });

export interface Fleet {
  server: TestPostgres;
  /** Superuser URL of the database. */
  superUrl: string;
  /** bkg_daemon's URL of the database. */
  daemonUrl: string;
  /** The URL of the database as `user`. */
  urlAs(user: string): string;
  connect(hostId: string): Promise<FleetDb>;
  /** A raw client (superuser unless `user`); ended with the file's afterAll. */
  client(user?: string): Promise<pg.Client>;
}

/** Call at the top of a describe: starts Postgres once for the file; `fresh()` makes an initialised, migrated database. */
export function useFleetServer(): { fresh(name?: string, opts?: { migrate?: boolean }): Promise<Fleet> } {
  let server: TestPostgres | undefined;
  let n = 0;
  const closers: (() => Promise<unknown>)[] = [];
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
    await server?.stop();
  });
  return {
    async fresh(name = `fleet_${++n}`, opts = {}) {
      if (!server) throw new Error('Postgres did not start');
      const s = server;
      const superUrl = await s.createDatabase(name);
      await initFleet(superUrl);
      const daemonUrl = s.urlOf(name, 'bkg_daemon');
      const fleet: Fleet = {
        server: s,
        superUrl,
        daemonUrl,
        urlAs: (user) => s.urlOf(name, user),
        async connect(hostId) {
          const db = await FleetDb.connect(daemonUrl, { log: silent, hostId });
          closers.push(() => db.close());
          return db;
        },
        async client(user) {
          const c = new pg.Client({ connectionString: user ? s.urlOf(name, user) : superUrl });
          c.on('error', () => {});
          await c.connect();
          closers.push(() => c.end());
          return c;
        },
      };
      if (opts.migrate !== false) await (await fleet.connect('migrator')).migrate();
      return fleet;
    },
  };
}
