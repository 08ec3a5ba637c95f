/** The secrets vault and its sealing key on a real store: sealed in, encrypted at rest and bound to its row, revealed only for a sandbox, masked in records. */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sodium from 'libsodium-wrappers';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadSealingKey } from '../../src/daemon/secrets/keypair.js';
import { SecretVault } from '../../src/daemon/secrets/vault.js';
import { openStore, type SqliteStore } from '../../src/store/index.js';
import type { Sandbox } from '../../src/store/types.js';
import { caught, rejection } from '../helpers/errors.js';

let dir: string;
let store: SqliteStore;
const master = randomBytes(32);

beforeAll(async () => {
  await sodium.ready;
});
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bkg-vault-'));
  store = openStore(join(dir, 'bkg.db'));
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const vaultOf = (key = master) => new SecretVault({ repo: store.secrets, namespaces: store.namespaces, masterKey: key, sealing: loadSealingKey(join(dir, 'secrets.key')) });
const sealFor = (v: SecretVault, value: string | Uint8Array): string => Buffer.from(sodium.crypto_box_seal(value, Buffer.from(v.publicKey().public_key, 'base64'))).toString('base64');
const sandbox = (namespaceId: string, secrets: Sandbox['secrets']): Sandbox => ({ id: 'sb1', name: 'box', namespaceId, secrets } as Sandbox);

describe('the sealing key', () => {
  it('is created once, 0600, and read back the same; a file others can read, or garbage, is refused', () => {
    const path = join(dir, 'keys', 'secrets.key');
    const a = loadSealingKey(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(loadSealingKey(path)).toEqual(a);
    const box = sodium.crypto_box_seal('x', a.publicKey);
    expect(Buffer.from(sodium.crypto_box_seal_open(box, a.publicKey, a.privateKey)).toString()).toBe('x');
    chmodSync(path, 0o644);
    expect(caught(() => loadSealingKey(path))).toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringContaining('accessible to other users') });
    writeFileSync(path, 'not a key\n', { mode: 0o600 });
    chmodSync(path, 0o600);
    expect(caught(() => loadSealingKey(path)).code).toBe('INVALID_CONFIG');
  });
});

describe('the vault', () => {
  it('stores only ciphertext, bound to its namespace and name, and under the master key', async () => {
    const v = vaultOf();
    const ns = store.namespaces.ensure('a');
    const plain = `v-${randomBytes(8).toString('hex')}`;
    expect((await v.set(ns, 'TOKEN', sealFor(v, plain), 'key_1')).created).toBe(true);
    const row = store.secrets.get(ns.id, 'TOKEN');
    expect(row?.ciphertext.includes(plain)).toBe(false);
    expect(v.reveal(sandbox(ns.id, [{ name: 'TOKEN' }]))).toEqual({ env: { TOKEN: plain }, files: [] });
    expect(readFileSync(join(dir, 'bkg.db')).includes(plain)).toBe(false);

    // the same ciphertext under another name does not open: rows cannot be swapped
    store.db.prepare("INSERT INTO secrets (namespace_id, name, ciphertext, created_at, updated_at, updated_by) SELECT namespace_id, 'COPY', ciphertext, created_at, updated_at, updated_by FROM secrets WHERE name = 'TOKEN'").run();
    expect(caught(() => v.reveal(sandbox(ns.id, [{ name: 'COPY' }])))).toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringContaining('cannot be decrypted') });
    // another master key opens nothing
    expect(caught(() => vaultOf(randomBytes(32)).reveal(sandbox(ns.id, [{ name: 'TOKEN' }]))).code).toBe('INVALID_CONFIG');
    // a box sealed to another key is refused
    const other = sodium.crypto_box_keypair();
    const foreign = Buffer.from(sodium.crypto_box_seal('x', other.publicKey)).toString('base64');
    expect((await rejection(v.set(ns, 'X', foreign, 'k'))).code).toBe('INVALID_ARGUMENT');
  });

  it('reveals variables and files as asked, and refuses a value a variable cannot hold', async () => {
    const v = vaultOf();
    const ns = store.namespaces.ensure('a');
    await v.set(ns, 'BIN', sealFor(v, new Uint8Array([0, 1, 2, 255])), 'k');
    await v.set(ns, 'TXT', sealFor(v, 'text'), 'k');
    const r = v.reveal(sandbox(ns.id, [{ name: 'TXT', env: 'OTHER' }, { name: 'BIN', file: true }, { name: 'TXT', file: true }]));
    expect(r.env).toEqual({ OTHER: 'text' });
    expect(r.files).toEqual([{ name: 'BIN', data: Buffer.from([0, 1, 2, 255]) }, { name: 'TXT', data: Buffer.from('text') }]);
    const e = caught(() => v.reveal(sandbox(ns.id, [{ name: 'BIN' }])));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.hint).toContain('--secret BIN:file');
  });

  it('masks the values (4 characters or more) of the sandbox\'s secrets, the longest first', async () => {
    const v = vaultOf();
    const ns = store.namespaces.ensure('a');
    await v.set(ns, 'LONG', sealFor(v, 'abcdef123\n'), 'k');
    await v.set(ns, 'PART', sealFor(v, 'abcd'), 'k');
    await v.set(ns, 'TINY', sealFor(v, 'ab'), 'k');
    const s = sandbox(ns.id, [{ name: 'LONG' }, { name: 'PART', file: true }, { name: 'TINY' }]);
    expect(v.mask(s, ['echo abcdef123', 'x=abcd; y=ab', 'abcdef123\n'])).toEqual(['echo ***', 'x=***; y=ab', '***']);
    expect(v.mask(sandbox(ns.id, []), ['abcdef123'])).toEqual(['abcdef123']);
  });
});
