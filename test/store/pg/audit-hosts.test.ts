/** Every host's audit chain in the fleet database, and the host registry. */
import { describe, expect, it } from 'vitest';
import { nextRow, type AuditRow } from '../../../src/store/audit-chain.js';
import { skip, useFleetServer } from './fleet.js';

function chain(n: number, namespace: string | null = 'A'): AuditRow[] {
  const rows: AuditRow[] = [];
  for (let i = 0; i < n; i++) rows.push(nextRow(rows.at(-1), { actor: 'key:k1', namespace, action: 'sandbox.exec', target: `sb-${i}`, outcome: 'ok', details: { i } }, new Date(Date.UTC(2026, 0, 1, 0, 0, i))));
  return rows;
}

describe.skipIf(skip)('the fleet audit', () => {
  const server = useFleetServer();

  it('takes a host\'s rows once, answers its last seq, and reports a row held with another hash', async () => {
    const fleet = await server.fresh();
    const db = await fleet.connect('host-1');
    expect(await db.lastAuditSeq()).toBe(0);
    const rows = chain(5);
    expect(await db.pushAudit(rows.slice(0, 3))).toEqual({ inserted: 3, mismatched: [] });
    expect(await db.pushAudit(rows)).toEqual({ inserted: 2, mismatched: [] });
    expect(await db.pushAudit(rows)).toEqual({ inserted: 0, mismatched: [] });
    expect(await db.lastAuditSeq()).toBe(5);
    expect(await (await fleet.connect('host-2')).lastAuditSeq()).toBe(0);
    // a host whose local log was reset pushes a different row 1: kept as it was, and said
    expect(await db.pushAudit(chain(1, 'B'))).toEqual({ inserted: 0, mismatched: [1] });
    const events = await db.fleetAudit(null);
    expect(events.map((e) => [e.host, e.seq, e.target])).toEqual(rows.map((r) => ['host-1', r.seq, r.target]));
    expect(events[0]).toMatchObject({ details: { i: 0 }, prevHash: rows[0]?.prev_hash, hash: rows[0]?.hash });
    expect((await db.fleetAudit(null, { since: new Date(Date.UTC(2026, 0, 1, 0, 0, 3)), limit: 1 })).map((e) => e.seq)).toEqual([4]);
  });

  it('verifies each host\'s chain, and names the host and seq of a row edited in the database', async () => {
    const fleet = await server.fresh();
    const [one, two] = await Promise.all([fleet.connect('host-1'), fleet.connect('host-2')]);
    await one.pushAudit(chain(4));
    await two.pushAudit(chain(3, 'B'));
    expect(await one.verifyFleetAudit()).toEqual([{ host: 'host-1', ok: true, count: 4 }, { host: 'host-2', ok: true, count: 3 }]);
    const su = await fleet.client();
    await su.query("UPDATE audit_events SET outcome = 'denied' WHERE host = 'host-2' AND seq = 2");
    expect(await two.verifyFleetAudit()).toEqual([
      { host: 'host-1', ok: true, count: 4 },
      { host: 'host-2', ok: false, count: 1, seq: 2, reason: 'row 2 was modified' },
    ]);
    await su.query("DELETE FROM audit_events WHERE host = 'host-1' AND seq = 3");
    expect((await one.verifyFleetAudit())[0]).toEqual({ host: 'host-1', ok: false, count: 2, seq: 3, reason: 'row 3 is missing' });
  });
});

describe.skipIf(skip)('the host registry', () => {
  const server = useFleetServer();

  it('records heartbeats and tells the living from the silent by the database\'s clock', async () => {
    const fleet = await server.fresh();
    const db = await fleet.connect('host-1');
    const startedAt = new Date(Date.now() - 5000);
    await db.heartbeat({ id: 'host-1', name: 'alpha', peerUrl: 'https://alpha:7070', version: '0.1.0', startedAt, load: { sandboxes: 1 } });
    await db.heartbeat({ id: 'host-2', name: 'beta', peerUrl: null, version: '0.1.0', startedAt, load: {} });
    const su = await fleet.client();
    await su.query("UPDATE hosts SET heartbeat_at = now() - interval '2 minutes' WHERE id = 'host-2'");
    await db.heartbeat({ id: 'host-1', name: 'alpha', peerUrl: 'https://alpha:7070', version: '0.2.0', startedAt, load: { sandboxes: 3 } });
    const hosts = await db.hosts(60_000);
    expect(hosts.map((h) => [h.id, h.name, h.peerUrl, h.version, h.load, h.alive])).toEqual([
      ['host-1', 'alpha', 'https://alpha:7070', '0.2.0', { sandboxes: 3 }, true],
      ['host-2', 'beta', null, '0.1.0', {}, false],
    ]);
    expect(hosts[0]?.startedAt).toBe(startedAt.toISOString());
    expect(Date.parse(hosts[0]?.heartbeatAt ?? '')).toBeGreaterThan(Date.now() - 10_000);
    expect((await db.hosts(10 * 60_000)).map((h) => h.alive)).toEqual([true, true]);
  });
});
