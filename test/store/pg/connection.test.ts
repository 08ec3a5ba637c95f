/** FleetDb.connect fails closed: roles under which row-level security would not hold are refused; an unreachable database is SYNC_UNAVAILABLE. */
import { describe, expect, it } from 'vitest';
import { FleetDb, initFleet } from '../../../src/store/pg/index.js';
import { rejection } from '../../helpers/errors.js';
import { silent, skip, useFleetServer } from './fleet.js';

describe.skipIf(skip)('connecting to the fleet database', () => {
  const server = useFleetServer();

  async function refusal(url: string): Promise<string> {
    const err = await rejection(FleetDb.connect(url, { log: silent, hostId: 'h' }));
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.hint).toMatch(/bkg_daemon/);
    return err.message;
  }

  it('refuses a superuser', async () => {
    const fleet = await server.fresh();
    expect(await refusal(fleet.superUrl)).toMatch(/role "postgres": it is a superuser/);
  });

  it('refuses a BYPASSRLS role', async () => {
    const fleet = await server.fresh();
    const su = await fleet.client();
    await su.query('DROP ROLE IF EXISTS bypasser; CREATE ROLE bypasser LOGIN BYPASSRLS');
    expect(await refusal(fleet.urlAs('bypasser'))).toMatch(/role "bypasser": it has BYPASSRLS/);
  });

  it('refuses a role holding the tables\' owner\'s rights, or inheriting bkg_fleet\'s', async () => {
    const fleet = await server.fresh();
    const su = await fleet.client();
    await su.query('DROP ROLE IF EXISTS heir; CREATE ROLE heir LOGIN INHERIT; GRANT bkg_owner TO heir');
    expect(await refusal(fleet.urlAs('heir'))).toMatch(/owns \(or inherits the owner of\) table\(s\) api_keys, audit_events/);
    await su.query('DROP ROLE IF EXISTS fleet_heir; CREATE ROLE fleet_heir LOGIN INHERIT; GRANT bkg_fleet TO fleet_heir');
    expect(await refusal(fleet.urlAs('fleet_heir'))).toMatch(/inherits bkg_fleet/);
  });

  it('accepts bkg_daemon; initFleet is idempotent and sets its password', async () => {
    const fleet = await server.fresh();
    await initFleet(fleet.superUrl, { daemonPassword: "it's s3cret" });
    await initFleet(fleet.superUrl);
    const su = await fleet.client();
    expect((await su.query("SELECT rolpassword IS NOT NULL AS set FROM pg_authid WHERE rolname = 'bkg_daemon'")).rows[0]).toEqual({ set: true });
    const db = await fleet.connect('h');
    expect(await db.head()).toBe('0');
    // every session: our schema only, and a vanished host's transaction (and its locks) ended by the server
    const settings = await db.scoped('A', (sql) => sql("SELECT current_setting('search_path') AS path, current_setting('idle_in_transaction_session_timeout') AS idle, current_user AS who"));
    expect(settings).toEqual([{ path: 'public', idle: '1min', who: 'bkg_daemon' }]);
  });

  it('initFleet refuses a URL that may not create roles', async () => {
    const fleet = await server.fresh();
    const err = await rejection(initFleet(fleet.daemonUrl));
    expect(err.code).toBe('INVALID_CONFIG');
  });

  it('answers SYNC_UNAVAILABLE when nothing listens, and when the server crashes; recovers after its restart', async () => {
    const fleet = await server.fresh();
    const nothing = await rejection(FleetDb.connect('postgres://bkg_daemon@127.0.0.1:1/x', { log: silent, hostId: 'h' }));
    expect(nothing.code).toBe('SYNC_UNAVAILABLE');
    const db = await fleet.connect('h');
    const events: unknown[] = [];
    const listener = await db.listen(() => {}, (err) => events.push(err));
    await fleet.server.kill('SIGKILL');
    expect((await rejection(db.head())).code).toBe('SYNC_UNAVAILABLE');
    await expect.poll(() => events.length).toBe(1);
    expect(events[0]).toMatchObject({ code: 'SYNC_UNAVAILABLE' });
    await fleet.server.restart();
    expect(await db.head()).toBe('0');
    await listener.close();
  });
});
