/**
 * The namespace isolation proof, at the database: connected as bkg_daemon (a raw client, not
 * FleetDb) with `bkg.namespace` set to A, every table of the schema (enumerated from pg_tables, so
 * none can be forgotten) shows A's rows only, nothing of global tables, and B's rows cannot be
 * written; with no namespace, nothing; as bkg_fleet, everything.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { nextRow, type AuditRow } from '../../../src/store/audit-chain.js';
import { ENTITY_TABLES, type FleetDb, type OutgoingChange } from '../../../src/store/pg/index.js';
import { skip, useFleetServer, type Fleet } from './fleet.js';

/** The namespace column of each namespace-scoped table, written out here on purpose (not taken from the code under test). */
const NS_COLUMN: Record<string, string> = {
  namespaces: 'pk', sandboxes: 'namespace_id', api_keys: 'namespace_id', policies: 'namespace_id',
  llm_access_requests: 'namespace_id', llm_access_tokens: 'namespace_id', audit_events: 'namespace', secrets: 'namespace_id',
};

function seedChanges(): OutgoingChange[] {
  const out: OutgoingChange[] = [];
  for (const [tbl, col] of Object.entries(ENTITY_TABLES)) {
    const namespaces = col === null ? [null] : ['A', 'B'];
    for (const ns of namespaces) {
      const pk = tbl === 'namespaces' ? (ns as string) : `${tbl}-${ns ?? 'global'}`;
      out.push({ id: randomUUID(), tbl, pk, op: 'upsert', namespaceId: ns, row: { id: pk, name: `${tbl} of ${ns ?? 'the fleet'}` } });
      if (col !== null && tbl !== 'namespaces') out.push({ id: randomUUID(), tbl, pk: `${pk}-2`, op: 'upsert', namespaceId: ns, row: { id: `${pk}-2` } });
    }
  }
  return out;
}

function seedAudit(): AuditRow[] {
  const rows: AuditRow[] = [];
  for (const namespace of ['A', 'B', null, 'A', 'B']) rows.push(nextRow(rows.at(-1), { actor: 'admin', namespace, action: 'sandbox.create', outcome: 'ok' }, new Date()));
  return rows;
}

async function tx<T>(c: pg.Client, setup: string, fn: () => Promise<T>): Promise<T> {
  await c.query('BEGIN');
  try {
    await c.query(setup);
    return await fn();
  } finally {
    await c.query('ROLLBACK');
  }
}

/** Run one statement under a savepoint: its error's message, or the rows it touched. */
async function attempt(c: pg.Client, sql: string): Promise<{ error: string } | { rowCount: number }> {
  await c.query('SAVEPOINT s');
  try {
    const r = await c.query(sql);
    await c.query('RELEASE SAVEPOINT s');
    return { rowCount: r.rowCount ?? 0 };
  } catch (err) {
    await c.query('ROLLBACK TO SAVEPOINT s');
    return { error: (err as Error).message };
  }
}

describe.skipIf(skip)('row-level security in the fleet database', () => {
  const server = useFleetServer();
  let fleet: Fleet;
  let db: FleetDb;
  let su: pg.Client;
  let daemon: pg.Client;
  let tables: string[];
  const all = new Map<string, number>();
  const ofA = new Map<string, number>();

  beforeAll(async () => {
    fleet = await server.fresh();
    db = await fleet.connect('host-1');
    await db.push(seedChanges());
    await db.pushAudit(seedAudit());
    await db.heartbeat({ id: 'host-1', name: 'one', peerUrl: null, version: '0.1.0', startedAt: new Date(), load: {} });
    su = await fleet.client();
    daemon = await fleet.client('bkg_daemon');
    tables = (await su.query<{ tablename: string }>("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).rows.map((r) => r.tablename);
    for (const t of tables) {
      all.set(t, Number((await su.query(`SELECT count(*) FROM ${t}`)).rows[0].count));
      const col = NS_COLUMN[t];
      if (col) ofA.set(t, Number((await su.query(`SELECT count(*) FROM ${t} WHERE ${col} = 'A'`)).rows[0].count));
    }
  });

  it('has rows in every table, and A\'s and B\'s in every namespace-scoped one (else the proof proves nothing)', () => {
    expect(tables).toEqual(expect.arrayContaining([...Object.keys(ENTITY_TABLES), 'changes', 'audit_events', 'hosts', 'schema_migrations']));
    for (const t of tables) expect(all.get(t), t).toBeGreaterThan(0);
    for (const [t, n] of ofA) {
      expect(n, t).toBeGreaterThan(0);
      expect(all.get(t), t).toBeGreaterThan(n);
    }
    for (const [t, col] of Object.entries(ENTITY_TABLES)) expect(NS_COLUMN[t] ?? null, t).toBe(col);
  });

  it('shows bkg_daemon in namespace A only A\'s rows, in every table', async () => {
    await tx(daemon, "SET LOCAL bkg.namespace = 'A'", async () => {
      for (const t of tables) {
        const rows = (await daemon.query(`SELECT * FROM ${t}`)).rows as Record<string, unknown>[];
        const col = NS_COLUMN[t];
        if (!col) {
          expect(rows, `${t} is global: the daemon sees none of it`).toEqual([]);
          continue;
        }
        expect(rows.length, t).toBe(ofA.get(t));
        for (const r of rows) expect(r[col], t).toBe('A');
      }
    });
  });

  it('shows bkg_daemon nothing without a namespace, or with an empty one', async () => {
    for (const setup of ['SELECT 1', "SET LOCAL bkg.namespace = ''"]) {
      await tx(daemon, setup, async () => {
        for (const t of tables) expect((await daemon.query(`SELECT * FROM ${t}`)).rows, `${t} (${setup})`).toEqual([]);
      });
    }
  });

  it('shows bkg_daemon everything after SET LOCAL ROLE bkg_fleet, and nothing as bkg_owner (RLS is forced on the owner)', async () => {
    await tx(daemon, 'SET LOCAL ROLE bkg_fleet', async () => {
      for (const t of tables) expect((await daemon.query(`SELECT * FROM ${t}`)).rows.length, t).toBe(all.get(t));
    });
    await tx(daemon, 'SET LOCAL ROLE bkg_owner', async () => {
      for (const t of tables.filter((x) => x !== 'schema_migrations')) expect((await daemon.query(`SELECT * FROM ${t}`)).rows, t).toEqual([]);
    });
  });

  it('lets bkg_daemon in namespace A write no row of B, nor move A\'s to B; global tables and the audit log not at all', async () => {
    const rls = /new row violates row-level security policy/;
    const denied = /permission denied for table/;
    await tx(daemon, "SET LOCAL bkg.namespace = 'A'", async () => {
      for (const t of tables) {
        const col = NS_COLUMN[t];
        if (!col || t === 'audit_events') {
          // SELECT only: every write is refused before any row is looked at
          expect(await attempt(daemon, `DELETE FROM ${t}`), t).toEqual({ error: expect.stringMatching(denied) });
          expect(await attempt(daemon, `INSERT INTO ${t} DEFAULT VALUES`), t).toEqual({ error: expect.stringMatching(denied) });
          continue;
        }
        const insert = (ns: string) => `INSERT INTO ${t} (pk, namespace_id, host, seq, row) VALUES ('${t === 'namespaces' ? ns : `new-${ns}`}', '${ns}', 'x', 1, '{}')`;
        // inserting a row of B fails outright; one of A passes the policy (the control: namespace A's own row exists already)
        expect(await attempt(daemon, insert('B')), t).toEqual({ error: expect.stringMatching(rls) });
        expect(await attempt(daemon, insert('A')), t).toEqual(t === 'namespaces' ? { error: expect.stringMatching(/duplicate key/) } : { rowCount: 1 });
        // B's rows are invisible: updating or deleting them touches none
        expect(await attempt(daemon, `UPDATE ${t} SET row = '{"x":1}' WHERE ${col} = 'B'`), t).toEqual({ rowCount: 0 });
        expect(await attempt(daemon, `DELETE FROM ${t} WHERE ${col} = 'B'`), t).toEqual({ rowCount: 0 });
        // moving A's rows into B fails (WITH CHECK)
        expect(await attempt(daemon, `UPDATE ${t} SET ${col} = 'B' WHERE ${col} = 'A'`), t).toEqual({ error: expect.stringMatching(rls) });
      }
    });
    for (const t of tables) expect(Number((await su.query(`SELECT count(*) FROM ${t}`)).rows[0].count), t).toBe(all.get(t));
  });

  it('scopes FleetDb\'s namespace reads the same way', async () => {
    expect((await db.fleetSandboxes('A')).map((s) => s.pk)).toEqual(['sandboxes-A', 'sandboxes-A-2']);
    expect((await db.fleetSandboxes(null)).map((s) => s.namespaceId)).toEqual(['A', 'A', 'B', 'B']);
    expect((await db.fleetSandboxes('C'))).toEqual([]);
    expect((await db.fleetAudit('B')).map((e) => [e.host, e.seq, e.namespace])).toEqual([['host-1', 2, 'B'], ['host-1', 5, 'B']]);
    expect(await db.fleetAudit(null)).toHaveLength(5);
  });
});
