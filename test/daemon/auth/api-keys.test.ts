/** API keys on a real database file: encrypted at rest, found by HMAC, revocable and rotatable. */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiKeyStore } from '../../../src/daemon/auth/api-keys.js';
import { openStore, type SqliteStore } from '../../../src/store/index.js';
import { caught } from '../../helpers/errors.js';

const KEY_RE = /^bkg_[0-9A-Za-z]{43}$/;

let dir: string;
let path: string;
let store: SqliteStore;
let master: Buffer;
let keys: ApiKeyStore;
let nsId: string;
let t: number;
const clock = (): Date => new Date((t += 1000));

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bkg-keys-'));
  path = join(dir, 'bkg.db');
  store = openStore(path);
  master = randomBytes(32);
  t = Date.parse('2026-03-01T00:00:00Z');
  keys = new ApiKeyStore(store, master, clock);
  nsId = store.namespaces.ensure('team').id;
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});


/** Every byte SQLite has written for this database: the main file, the WAL and its index. */
function databaseBytes(): Buffer {
  return Buffer.concat(readdirSync(dir).filter((f) => f.startsWith('bkg.db')).map((f) => readFileSync(join(dir, f))));
}

describe('ApiKeyStore', () => {
  it('creates a key that authenticates as its role and scope, and records the use', () => {
    const created = keys.create({ name: 'ci', role: 'namespace', namespaceId: nsId });
    expect(created.key).toMatch(KEY_RE);
    expect(created).toMatchObject({ name: 'ci', role: 'namespace', namespaceId: nsId, sandboxId: null, revokedAt: null, lastUsedAt: null });
    expect(created.id).toMatch(/^key_/);

    expect(keys.authenticate(created.key)).toEqual({ id: created.id, name: 'ci', role: 'namespace', namespaceId: nsId, sandboxId: null, originHost: store.hostId });
    expect(keys.get(created.id)?.lastUsedAt).toBe('2026-03-01T00:00:02.000Z');

    const admin = keys.create({ name: 'root', role: 'admin' });
    expect(keys.authenticate(admin.key)).toMatchObject({ id: admin.id, role: 'admin', namespaceId: null });
    expect(admin.key).not.toBe(created.key);
  });

  it('refuses unknown, malformed and near-miss keys', () => {
    const { key } = keys.create({ name: 'ci', role: 'readonly' });
    const flipped = key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');
    for (const bad of ['', 'bkg_', key.slice(0, -1), flipped, key + 'x', ` ${key}`, key.toUpperCase(), `bkg_${'a'.repeat(500)}`]) {
      expect(keys.authenticate(bad)).toBeNull();
    }
    expect(keys.authenticate(undefined as unknown as string)).toBeNull();
  });

  it('never writes a secret (or the master key) to the database file', () => {
    const created = [
      keys.create({ name: 'a', role: 'admin' }),
      keys.create({ name: 'b', role: 'namespace', namespaceId: nsId }),
    ];
    const rotated = keys.rotate(created[1]!.id);
    keys.authenticate(rotated.key);
    for (const { key } of [...created, rotated]) {
      const bytes = databaseBytes();
      expect(bytes.includes(Buffer.from(key))).toBe(false);
      expect(bytes.includes(Buffer.from(key.slice(4)))).toBe(false); // nor its random part alone
    }
    store.db.pragma('wal_checkpoint(TRUNCATE)');
    const bytes = databaseBytes();
    for (const { key } of [...created, rotated]) expect(bytes.includes(Buffer.from(key))).toBe(false);
    expect(bytes.includes(master)).toBe(false);
    expect(bytes.includes(Buffer.from(master.toString('hex')))).toBe(false);
  });

  it('masks keys as bkg_ + first 4 + ... + last 4 (ASCII), and lists no secrets', () => {
    const created = keys.create({ name: 'ci', role: 'namespace', namespaceId: nsId });
    expect(created.masked).toBe(`${created.key.slice(0, 8)}...${created.key.slice(-4)}`);
    expect(created.masked).toMatch(/^bkg_[0-9A-Za-z]{4}\.\.\.[0-9A-Za-z]{4}$/);
    keys.create({ name: 'root', role: 'admin' });
    const listed = keys.list();
    expect(listed.map((k) => k.name)).toEqual(['ci', 'root']);
    expect(listed[0]).toEqual({
      id: created.id, name: 'ci', role: 'namespace', namespaceId: nsId, sandboxId: null, masked: created.masked,
      createdAt: created.createdAt, revokedAt: null, lastUsedAt: null,
    });
    expect(JSON.stringify(listed)).not.toContain(created.key);
    expect(keys.list({ namespaceId: nsId }).map((k) => k.name)).toEqual(['ci']);
  });

  it('revokes a key at once', () => {
    const { id, key } = keys.create({ name: 'ci', role: 'namespace', namespaceId: nsId });
    expect(keys.authenticate(key)).not.toBeNull();
    const revoked = keys.revoke(id);
    expect(revoked.revokedAt).not.toBeNull();
    expect(keys.authenticate(key)).toBeNull();
    // Also through a second store on its own connection, as another daemon worker would see it.
    const other = openStore(path);
    try {
      expect(new ApiKeyStore(other, master).authenticate(key)).toBeNull();
    } finally {
      other.close();
    }
    expect(keys.revoke(id).revokedAt).toBe(revoked.revokedAt); // idempotent
    expect(caught(() => keys.rotate(id)).code).toBe('CONFLICT');
    expect(caught(() => keys.reveal(id)).code).toBe('CONFLICT');
    expect(caught(() => keys.revoke('key_missing')).code).toBe('NOT_FOUND');
  });

  it('rotates a key: same id, role and scope, new secret; the old secret is refused at once', () => {
    const old = keys.create({ name: 'ci', role: 'namespace', namespaceId: nsId });
    const rotated = keys.rotate(old.id);
    expect(rotated.key).toMatch(KEY_RE);
    expect(rotated.key).not.toBe(old.key);
    expect(rotated).toMatchObject({ id: old.id, name: 'ci', role: 'namespace', namespaceId: nsId });
    expect(rotated.masked).toBe(`${rotated.key.slice(0, 8)}...${rotated.key.slice(-4)}`);
    expect(keys.authenticate(old.key)).toBeNull();
    expect(keys.authenticate(rotated.key)).toMatchObject({ id: old.id, role: 'namespace' });
    expect(keys.reveal(old.id)).toBe(rotated.key);
    expect(keys.get(old.id)?.masked).toBe(rotated.masked);
    expect(caught(() => keys.rotate('key_missing')).code).toBe('NOT_FOUND');
  });

  it('reveals a sandbox its own key, which dies with the sandbox', () => {
    store.sandboxes.insert({ id: 'sbx1', name: 'web', namespaceId: nsId, runtime: 'python', limits: {}, network: 'none' });
    const own = keys.create({ name: 'sandbox sbx1', role: 'namespace', namespaceId: nsId, sandboxId: 'sbx1' });
    expect(keys.reveal(own.id)).toBe(own.key);
    expect(keys.authenticate(own.key)).toMatchObject({ sandboxId: 'sbx1', namespaceId: nsId });
    // A store opened later with the same master key decrypts it too.
    expect(new ApiKeyStore(store, Buffer.from(master)).reveal(own.id)).toBe(own.key);
    store.sandboxes.delete('sbx1');
    expect(keys.authenticate(own.key)).toBeNull();
    expect(keys.get(own.id)).toBeNull();
  });

  it('fails to reveal a tampered key with a clear error, never returning altered plaintext', () => {
    const { id } = keys.create({ name: 'ci', role: 'namespace', namespaceId: nsId });
    // Flip one bit of the stored ciphertext, from outside bkg.
    const raw = new Database(path);
    const { ciphertext } = raw.prepare('SELECT ciphertext FROM api_keys WHERE id = ?').get(id) as { ciphertext: Buffer };
    const altered = Buffer.from(ciphertext);
    altered[5]! ^= 0x01;
    raw.prepare('UPDATE api_keys SET ciphertext = ? WHERE id = ?').run(altered, id);
    raw.close();
    const err = caught(() => keys.reveal(id));
    expect(err.code).toBe('INTERNAL');
    expect(err.message).toMatch(new RegExp(`API key ${id} cannot be decrypted`));
    expect(err.hint).toMatch(/master key/);
  });

  it('binds each ciphertext to its key id and to the master key', () => {
    const a = keys.create({ name: 'a', role: 'readonly' });
    const b = keys.create({ name: 'b', role: 'readonly' });
    // Swapping encrypted columns between rows is detected (the id is authenticated data).
    store.db.prepare('UPDATE api_keys SET (ciphertext, iv, tag) = (SELECT ciphertext, iv, tag FROM api_keys WHERE id = ?) WHERE id = ?').run(a.id, b.id);
    expect(caught(() => keys.reveal(b.id)).code).toBe('INTERNAL');
    // Another master key neither decrypts nor finds keys.
    const stranger = new ApiKeyStore(store, randomBytes(32));
    expect(caught(() => stranger.reveal(a.id)).code).toBe('INTERNAL');
    expect(stranger.authenticate(a.key)).toBeNull();
    expect(keys.authenticate(a.key)).not.toBeNull();
  });

  it('validates role and scope', () => {
    store.sandboxes.insert({ id: 'sbx1', name: 'web', namespaceId: nsId, runtime: 'python', limits: {}, network: 'none' });
    const other = store.namespaces.ensure('other').id;
    const bad = (input: Parameters<ApiKeyStore['create']>[0]) => caught(() => keys.create(input)).code;
    expect(bad({ name: 'x', role: 'admin', namespaceId: nsId })).toBe('INVALID_ARGUMENT');
    expect(bad({ name: 'x', role: 'namespace' })).toBe('INVALID_ARGUMENT');
    expect(bad({ name: 'x', role: 'root' as never })).toBe('INVALID_ARGUMENT');
    expect(bad({ name: '', role: 'readonly' })).toBe('INVALID_ARGUMENT');
    expect(bad({ name: 'x', role: 'namespace', namespaceId: nsId, sandboxId: 'sbx_missing' })).toBe('NOT_FOUND');
    expect(bad({ name: 'x', role: 'namespace', namespaceId: other, sandboxId: 'sbx1' })).toBe('INVALID_ARGUMENT');
    expect(bad({ name: 'x', role: 'namespace', namespaceId: 'ns_missing' })).toBe('NOT_FOUND');
    expect(keys.create({ name: 'viewer', role: 'readonly', namespaceId: nsId }).namespaceId).toBe(nsId);
    expect(() => new ApiKeyStore(store, randomBytes(16))).toThrow(/32 bytes/);
  });
});
