/** The replication log: idempotent pushes applied to the entity tables, pulls of other hosts' changes in order, notifications. */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { OutgoingChange } from '../../../src/store/pg/index.js';
import { rejection } from '../../helpers/errors.js';
import { skip, useFleetServer } from './fleet.js';

const sandbox = (pk: string, ns: string, row: Record<string, unknown> | null = { id: pk, name: pk }): OutgoingChange =>
  ({ id: randomUUID(), tbl: 'sandboxes', pk, op: row ? 'upsert' : 'delete', namespaceId: ns, row });

describe.skipIf(skip)('the fleet change log', () => {
  const server = useFleetServer();

  it('applies a change id once: pushed again, it keeps its seq and is not applied again', async () => {
    const fleet = await server.fresh();
    const db = await fleet.connect('host-1');
    const first = sandbox('sb-1', 'A', { id: 'sb-1', status: 'created' });
    const seqs = await db.push([first]);
    expect(seqs.get(first.id)).toBe('1');
    const second = sandbox('sb-1', 'A', { id: 'sb-1', status: 'running' });
    // the first change again (a retry after a lost answer) alongside a new one
    const again = await db.push([first, second]);
    expect(Object.fromEntries(again)).toEqual({ [first.id]: '1', [second.id]: '2' });
    expect(await db.push([first])).toEqual(new Map([[first.id, '1']]));
    const [row] = await db.fleetSandboxes(null);
    expect(row).toEqual({ pk: 'sb-1', namespaceId: 'A', host: 'host-1', seq: '2', row: { id: 'sb-1', status: 'running' } });
    const su = await fleet.client();
    expect((await su.query('SELECT count(*)::int AS n FROM changes')).rows[0].n).toBe(2);
    expect(await db.head()).toBe('2');
  });

  it('deletes, and refuses an unknown table or a change without its row', async () => {
    const fleet = await server.fresh();
    const db = await fleet.connect('host-1');
    await db.push([sandbox('sb-1', 'A'), sandbox('sb-2', 'A'), sandbox('sb-1', 'A', null)]);
    expect((await db.fleetSandboxes('A')).map((r) => r.pk)).toEqual(['sb-2']);
    expect((await rejection(db.push([{ ...sandbox('x', 'A'), tbl: 'executions' }]))).message).toMatch(/"executions": it is not a fleet table/);
    expect((await rejection(db.push([{ ...sandbox('x', 'A'), row: null }]))).code).toBe('INVALID_ARGUMENT');
    expect(await db.head()).toBe('3');
  });

  it('pulls only other hosts\' changes, in seq order, from a cursor, at most the limit', async () => {
    const fleet = await server.fresh();
    const [one, two] = await Promise.all([fleet.connect('host-1'), fleet.connect('host-2')]);
    await one.push([sandbox('a', 'A'), sandbox('b', 'A')]);
    await two.push([sandbox('c', 'B')]);
    await one.push([{ id: randomUUID(), tbl: 'projects', pk: 'p', op: 'upsert', namespaceId: null, row: { id: 'p' } }]);
    await two.push([sandbox('c', 'B', null)]);
    const seen = await two.pull('0', 100);
    expect(seen.map((c) => [c.seq, c.host, c.tbl, c.pk, c.op])).toEqual([['1', 'host-1', 'sandboxes', 'a', 'upsert'], ['2', 'host-1', 'sandboxes', 'b', 'upsert'], ['4', 'host-1', 'projects', 'p', 'upsert']]);
    expect(seen[0]).toMatchObject({ namespaceId: 'A', row: { id: 'a', name: 'a' } });
    expect(new Date(seen[0]?.at ?? '').getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect((await two.pull('1', 1)).map((c) => c.seq)).toEqual(['2']);
    expect((await one.pull('0', 100)).map((c) => [c.seq, c.op, c.row])).toEqual([['3', 'upsert', { id: 'c', name: 'c' }], ['5', 'delete', null]]);
    expect(await one.pull('5', 100)).toEqual([]);
    expect((await rejection(one.pull('1; DROP TABLE changes', 1))).code).toBe('INVALID_ARGUMENT');
  });

  it('notifies a listener within a second of another host\'s push, with its last seq', async () => {
    const fleet = await server.fresh();
    const [one, two] = await Promise.all([fleet.connect('host-1'), fleet.connect('host-2')]);
    const heard: string[] = [];
    const errors: unknown[] = [];
    const listener = await one.listen((seq) => heard.push(seq), (err) => errors.push(err));
    try {
      const t0 = Date.now();
      await two.push([sandbox('a', 'A'), sandbox('b', 'A')]);
      await expect.poll(() => heard, { timeout: 1000, interval: 10 }).toEqual(['2']);
      expect(Date.now() - t0).toBeLessThan(1000);
      // a push that changes nothing new notifies nothing
      await two.push([]);
      await new Promise((r) => setTimeout(r, 100));
      expect(heard).toEqual(['2']);
    } finally {
      await listener.close();
    }
    expect(errors).toEqual([]);
  });

  it('keeps seqs visible in order under concurrent pushes from many hosts', async () => {
    const fleet = await server.fresh();
    const hosts = await Promise.all(['h1', 'h2', 'h3'].map((h) => fleet.connect(h)));
    const reader = await fleet.connect('reader');
    let cursor = '0';
    const got: string[] = [];
    const pushes = hosts.flatMap((db, i) => Array.from({ length: 10 }, (_, k) => db.push([sandbox(`s-${i}-${k}`, 'A'), sandbox(`s-${i}-${k}`, 'A', { v: k })])));
    const reading = (async () => {
      for (let round = 0; round < 200 && got.length < 60; round++) {
        for (const c of await reader.pull(cursor, 7)) {
          got.push(c.seq);
          cursor = c.seq;
        }
      }
    })();
    await Promise.all(pushes);
    await reading;
    for (const c of await reader.pull(cursor, 100)) got.push(c.seq);
    // a reader that moves its cursor as it goes misses no change: every seq, each once, in order
    expect(got).toEqual(Array.from({ length: 60 }, (_, i) => String(i + 1)));
  });
});
