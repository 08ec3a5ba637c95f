/**
 * The local half of fleet sync, on real SQLite files: the outbox triggers catch every change to a
 * shared table in the writing transaction (and nothing a rolled-back transaction wrote), skip
 * changes of use counters only, and stay silent while fleet changes are applied; applying keeps
 * the fleet's order (an older change never overwrites a newer one, nor a local change not yet
 * pushed) and counts a change that breaks a local constraint as a conflict.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type SqliteStore } from '../../src/store/index.js';
import { ChangeApplier, type FleetChange } from '../../src/store/sync/apply.js';
import { Outbox } from '../../src/store/sync/outbox.js';
import { installOutboxTriggers, snapshotIntoOutbox } from '../../src/store/sync/triggers.js';

let dir: string;
let store: SqliteStore;
let outbox: Outbox;
let kicks: number;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bkg-sync-'));
  store = openStore(join(dir, 'bkg.db'));
  kicks = 0;
  store.db.function('bkg_sync_kick', () => {
    kicks++;
    return null;
  });
  installOutboxTriggers(store.db);
  outbox = new Outbox(store.db);
});

afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const sandbox = (name: string, namespaceId: string) => ({
  id: `sb_${name}`, name, namespaceId, runtime: 'shell', limits: { memoryBytes: 64 << 20 }, network: 'none' as const,
});

describe('the outbox', () => {
  it('records inserts, updates and deletes of shared tables with their namespace, in order, and kicks the syncer', () => {
    const ns = store.namespaces.ensure('team');
    store.sandboxes.insert(sandbox('web', ns.id));
    store.sandboxes.updateStatus('sb_web', 'stopped');
    store.sandboxes.delete('sb_web');
    const entries = outbox.pending(100);
    expect(entries.map((e) => [e.tbl, e.op])).toEqual([['namespaces', 'upsert'], ['sandboxes', 'upsert'], ['sandboxes', 'upsert'], ['sandboxes', 'delete']]);
    expect(entries[1]).toMatchObject({ pk: '["sb_web"]', namespaceId: ns.id, row: { name: 'web', host: store.hostId, status: 'created' } });
    expect(entries[2]?.row).toMatchObject({ status: 'stopped' });
    expect(entries[3]).toMatchObject({ op: 'delete', row: null, namespaceId: ns.id });
    expect(new Set(entries.map((e) => e.changeId)).size).toBe(4);
    expect(kicks).toBe(4);
  });

  it('carries BLOB columns as hex, and the ids of namespaces are the same on every host', () => {
    const ns = store.namespaces.ensure('ci');
    store.apiKeys.insert({
      id: 'key_1', name: 'k', role: 'namespace', namespace_id: ns.id, sandbox_id: null, created_at: 'now', revoked_at: null, last_used_at: null,
      lookup_hash: 'ab', ciphertext: Buffer.from([0, 1, 255]), iv: Buffer.from([2]), tag: Buffer.from([3]), prefix: 'p', suffix: 's',
    });
    const key = outbox.pending(10).find((e) => e.tbl === 'api_keys');
    expect(key?.row).toMatchObject({ ciphertext: { $hex: '0001FF' }, origin_host: store.hostId });
    const other = openStore(join(dir, 'other.db'));
    try {
      expect(other.namespaces.ensure('ci').id).toBe(ns.id);
    } finally {
      other.close();
    }
  });

  it('leaves out changes of use counters only, and what a rolled-back transaction wrote', () => {
    const ns = store.namespaces.ensure('team');
    store.sandboxes.insert(sandbox('web', ns.id));
    const before = outbox.size();
    store.sandboxes.touch('sb_web', new Date(), new Date(Date.now() + 1000)); // last_activity_at, idle_expires_at
    expect(outbox.size()).toBe(before);
    expect(() => store.transaction(() => {
      store.sandboxes.updateStatus('sb_web', 'running');
      throw new Error('rolled back');
    })).toThrow('rolled back');
    expect(outbox.size()).toBe(before);
  });

  it('snapshots every shared row for a host joining a fleet', () => {
    store.namespaces.ensure('a');
    store.namespaces.ensure('b');
    store.db.exec('DELETE FROM sync_outbox');
    expect(snapshotIntoOutbox(store.db)).toBeGreaterThanOrEqual(2);
    expect(outbox.pending(100).filter((e) => e.tbl === 'namespaces').length).toBeGreaterThanOrEqual(2);
  });

  it('acknowledged changes leave, and their rows remember the fleet\'s seq', () => {
    store.namespaces.ensure('team');
    const pending = outbox.pending(10);
    outbox.acknowledge(pending, new Map(pending.map((e, i) => [e.changeId, String(100 + i)])));
    expect(outbox.size()).toBe(0);
    expect(store.db.prepare('SELECT seq FROM sync_rows WHERE tbl = ?').get('namespaces')).toEqual({ seq: 100 });
  });
});

describe('applying the fleet\'s changes', () => {
  const nsChange = (seq: number, name: string, host = 'host_other'): FleetChange => ({
    seq: String(seq), id: `c${seq}`, host, tbl: 'namespaces', pk: JSON.stringify([`ns_${name}`]), op: 'upsert',
    row: { id: `ns_${name}`, name, project_id: null, created_at: '2026-01-01T00:00:00Z' },
  });

  it('applies in order, silently (nothing goes back to the outbox), and moves the cursor', () => {
    const r = new ChangeApplier(store.db).apply([nsChange(5, 'x'), nsChange(6, 'y')]);
    expect(r).toMatchObject({ applied: 2, skipped: 0, conflicts: [] });
    expect(store.namespaces.getByName('y')?.id).toBe('ns_y');
    expect(outbox.size()).toBe(0);
    expect(kicks).toBe(0);
    expect(store.db.prepare("SELECT value FROM sync_state WHERE key = 'pull_cursor'").get()).toEqual({ value: '6' });
  });

  it('never lets an older change overwrite a newer one, nor a local change still waiting to be pushed', () => {
    const applier = new ChangeApplier(store.db);
    applier.apply([{ ...nsChange(10, 'x'), row: { id: 'ns_x', name: 'x', project_id: null, created_at: 'newer' } }]);
    const r = applier.apply([{ ...nsChange(9, 'x'), row: { id: 'ns_x', name: 'x', project_id: null, created_at: 'older' } }]);
    expect(r.skipped).toBe(1);
    expect(store.namespaces.get('ns_x')?.createdAt).toBe('newer');
    const mine = store.namespaces.ensure('mine'); // in the outbox, not pushed yet
    const theirs = applier.apply([{ ...nsChange(11, 'mine'), pk: JSON.stringify([mine.id]), row: { id: mine.id, name: 'mine', project_id: null, created_at: 'theirs' } }]);
    expect(theirs.skipped).toBe(1);
    expect(store.namespaces.get(mine.id)?.createdAt).not.toBe('theirs');
  });

  it('counts a change that breaks a local constraint as a conflict and goes on with the rest', () => {
    const ns = store.namespaces.ensure('team');
    store.sandboxes.insert(sandbox('web', ns.id));
    const clash: FleetChange = {
      seq: '20', id: 'c20', host: 'host_other', tbl: 'sandboxes', pk: '["sb_theirs"]', op: 'upsert',
      row: { id: 'sb_theirs', name: 'web', namespace_id: ns.id, runtime: 'shell', limits_json: '{}', network: 'none', env_json: '{}', status: 'created', created_at: 'x', host: 'host_other' },
    };
    const r = new ChangeApplier(store.db).apply([clash, nsChange(21, 'after')]);
    expect(r.applied).toBe(1);
    expect(r.conflicts).toHaveLength(1);
    expect(r.conflicts[0]).toMatchObject({ tbl: 'sandboxes', pk: '["sb_theirs"]', host: 'host_other' });
    expect(store.namespaces.getByName('after')).not.toBeNull();
    expect(store.sandboxes.get('sb_theirs')).toBeNull();
  });

  it('deletes, and keeps another host\'s sandbox out of this host\'s own list', () => {
    const ns = store.namespaces.ensure('team');
    const row = { id: 'sb_r', name: 'remote', namespace_id: ns.id, runtime: 'shell', limits_json: '{}', network: 'none', env_json: '{}', status: 'running', created_at: 'x', host: 'host_other' };
    const applier = new ChangeApplier(store.db);
    applier.apply([{ seq: '30', id: 'c30', host: 'host_other', tbl: 'sandboxes', pk: '["sb_r"]', op: 'upsert', row }]);
    expect(store.sandboxes.list(null).map((s) => s.id)).toEqual([]);
    expect(store.sandboxes.list(null, { allHosts: true }).map((s) => s.id)).toEqual(['sb_r']);
    expect(store.sandboxes.listExpired(new Date(8.64e15))).toEqual([]);
    applier.apply([{ seq: '31', id: 'c31', host: 'host_other', tbl: 'sandboxes', pk: '["sb_r"]', op: 'delete', row: null }]);
    expect(store.sandboxes.get('sb_r')).toBeNull();
  });
});
