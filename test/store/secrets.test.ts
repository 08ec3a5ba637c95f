/** The secrets table on a real database file: ciphertext in, names and times out, scoped by namespace; and the secrets a sandbox row names. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDb, type Db } from '../../src/store/db.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { NamespaceRepo, SandboxRepo, SecretRepo } from '../../src/store/repos/index.js';
import { REPLICATED } from '../../src/store/sync/tables.js';
import { caught } from '../helpers/errors.js';

let dir: string;
let db: Db;
let t: number;
const clock = (): Date => new Date((t += 1000));

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bkg-secrets-'));
  db = openDb(join(dir, 'bkg.db'));
  t = Date.parse('2026-03-01T00:00:00Z');
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('secrets repository', () => {
  it('sets (created, then replaced with its created_at kept), gets the ciphertext, lists names per namespace, deletes', () => {
    const namespaces = new NamespaceRepo(db, clock);
    const a = namespaces.ensure('a');
    const b = namespaces.ensure('b');
    const repo = new SecretRepo(db, clock);
    const first = repo.set({ namespaceId: a.id, name: 'TOKEN', ciphertext: Buffer.from([1, 2, 3]), updatedBy: 'key_1' });
    expect(first).toEqual({ created: true, secret: { namespaceId: a.id, name: 'TOKEN', createdAt: '2026-03-01T00:00:03.000Z', updatedAt: '2026-03-01T00:00:03.000Z', updatedBy: 'key_1' } });
    const second = repo.set({ namespaceId: a.id, name: 'TOKEN', ciphertext: Buffer.from([4, 5]), updatedBy: 'key_2' });
    expect(second).toEqual({ created: false, secret: { namespaceId: a.id, name: 'TOKEN', createdAt: '2026-03-01T00:00:03.000Z', updatedAt: '2026-03-01T00:00:04.000Z', updatedBy: 'key_2' } });
    expect(repo.get(a.id, 'TOKEN')?.ciphertext).toEqual(Buffer.from([4, 5]));
    repo.set({ namespaceId: b.id, name: 'TOKEN', ciphertext: Buffer.from([9]), updatedBy: 'key_3' });
    repo.set({ namespaceId: a.id, name: 'API', ciphertext: Buffer.from([8]), updatedBy: 'key_1' });

    expect(repo.list(a.id).map((s) => s.name)).toEqual(['API', 'TOKEN']);
    expect(repo.list(null)).toHaveLength(3);
    expect(Object.keys(repo.list(null)[0] ?? {})).not.toContain('ciphertext');
    expect(repo.get(b.id, 'API')).toBeNull();
    expect(repo.delete(a.id, 'TOKEN')).toBe(true);
    expect(repo.delete(a.id, 'TOKEN')).toBe(false);
    expect(repo.get(b.id, 'TOKEN')).not.toBeNull();
  });

  it('refuses a namespace that does not exist as NOT_FOUND', () => {
    expect(caught(() => new SecretRepo(db).set({ namespaceId: 'ns_missing', name: 'X', ciphertext: Buffer.from([1]), updatedBy: 'k' })).code).toBe('NOT_FOUND');
  });

  it('keeps which secrets a sandbox gets (names, never values) in its row; rows without them read as none', () => {
    const ns = new NamespaceRepo(db).ensure('a');
    const sandboxes = new SandboxRepo(db);
    const refs = [{ name: 'A' }, { name: 'A', env: 'B' }, { name: 'C', file: true }];
    sandboxes.insert({ id: 's1', name: 's1', namespaceId: ns.id, runtime: 'shell', limits: {}, network: 'none', secrets: refs });
    sandboxes.insert({ id: 's2', name: 's2', namespaceId: ns.id, runtime: 'shell', limits: {}, network: 'none' });
    expect(sandboxes.get('s1')?.secrets).toEqual(refs);
    expect(sandboxes.get('s2')?.secrets).toEqual([]);
  });

  it('is a numbered migration and a table the fleet replicates, keyed by namespace and name', () => {
    expect(MIGRATIONS.find((m) => m.sql.includes('CREATE TABLE secrets'))?.name).toMatch(/secrets/);
    const cols = (db.prepare("SELECT name, type FROM pragma_table_info('secrets')").all() as { name: string; type: string }[]).map((c) => `${c.name} ${c.type}`);
    expect(cols).toEqual(['namespace_id TEXT', 'name TEXT', 'ciphertext BLOB', 'created_at TEXT', 'updated_at TEXT', 'updated_by TEXT']);
    expect(REPLICATED.find((r) => r.name === 'secrets')).toEqual({ name: 'secrets', pk: ['namespace_id', 'name'], namespace: 'r.namespace_id' });
  });
});
