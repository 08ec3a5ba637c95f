/** Loading the daemon master key from BKG_MASTER_KEY or a private key file. */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadMasterKey, parseMasterKey } from '../../../src/daemon/auth/master-key.js';
import { caught } from '../../helpers/errors.js';

let dir: string;
let keyFile: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bkg-mk-'));
  keyFile = join(dir, 'state', 'master.key');
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});


describe('BKG_MASTER_KEY', () => {
  const raw = randomBytes(32);

  it.each([
    ['hex', raw.toString('hex')],
    ['upper-case hex', raw.toString('hex').toUpperCase()],
    ['base64', raw.toString('base64')],
    ['base64 without padding', raw.toString('base64').replace(/=$/, '')],
    ['base64url', raw.toString('base64url')],
    ['base64 with a trailing newline', `${raw.toString('base64')}\n`],
  ])('accepts %s', (_what, value) => {
    const mk = loadMasterKey({ env: { BKG_MASTER_KEY: value }, keyFile });
    expect(mk.source).toBe('env');
    expect(mk.key.equals(raw)).toBe(true);
    expect(() => statSync(keyFile)).toThrow(/ENOENT/); // no key file is made when the env var is set
  });

  it.each([
    ['an empty value', ''],
    ['a 31-byte hex key', randomBytes(31).toString('hex')],
    ['a 33-byte hex key', randomBytes(33).toString('hex')],
    ['a 16-byte base64 key', randomBytes(16).toString('base64')],
    ['a 48-byte base64 key', randomBytes(48).toString('base64')],
    ['non-hex digits', 'g'.repeat(64)],
    ['characters outside base64', `${raw.toString('base64').slice(0, 42)}!=`],
    ['mixed base64 alphabets', `+_${raw.toString('base64').slice(2, 43)}`],
    ['non-canonical base64 (stray low bits in the last character)', `${'A'.repeat(42)}B=`],
    ['a passphrase', 'correct horse battery staple'],
  ])('refuses %s as INVALID_CONFIG without echoing it and without falling back', (_what, value) => {
    writeKeyFile(randomBytes(32).toString('base64'));
    const err = caught(() => loadMasterKey({ env: { BKG_MASTER_KEY: value }, keyFile }));
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message).toContain('BKG_MASTER_KEY');
    if (value.trim().length >= 8) expect(err.message + err.hint).not.toContain(value.trim());
    expect(err.hint).toMatch(/openssl rand/);
  });

  it('wins over an existing key file', () => {
    writeKeyFile(randomBytes(32).toString('base64'));
    expect(loadMasterKey({ env: { BKG_MASTER_KEY: raw.toString('hex') }, keyFile }).key.equals(raw)).toBe(true);
  });
});

function writeKeyFile(content: string, mode = 0o600): void {
  mkdirSync(join(dir, 'state'), { recursive: true });
  writeFileSync(keyFile, content, { mode });
  chmodSync(keyFile, mode);
}

describe('key file', () => {
  it('is created with mode 0600 (whatever the umask), then read back on the next start', () => {
    const old = process.umask(0);
    let created;
    try {
      created = loadMasterKey({ env: {}, keyFile });
    } finally {
      process.umask(old);
    }
    expect(created.source).toBe('created');
    expect(created.path).toBe(keyFile);
    expect(created.key).toHaveLength(32);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'state')).mode & 0o777).toBe(0o700);
    expect(parseMasterKey(readFileSync(keyFile, 'utf8'), 'test').equals(created.key)).toBe(true);
    expect(readdirSync(join(dir, 'state'))).toEqual(['master.key']); // no temporary file left behind

    const again = loadMasterKey({ env: {}, keyFile });
    expect(again.source).toBe('file');
    expect(again.key.equals(created.key)).toBe(true);
  });

  it.each([0o644, 0o640, 0o604, 0o660])('is refused when its mode is %o, with a hint to chmod 600', (mode) => {
    const key = randomBytes(32).toString('base64');
    writeKeyFile(key, mode);
    const err = caught(() => loadMasterKey({ env: {}, keyFile }));
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message).toContain(keyFile);
    expect(err.hint).toContain(`chmod 600 ${keyFile}`);
    expect(readFileSync(keyFile, 'utf8')).toBe(key); // never replaced
  });

  it('is never replaced when its content is invalid', () => {
    writeKeyFile('too short');
    const err = caught(() => loadMasterKey({ env: {}, keyFile }));
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message).toContain(keyFile);
    expect(readFileSync(keyFile, 'utf8')).toBe('too short');
    writeKeyFile('');
    expect(caught(() => loadMasterKey({ env: {}, keyFile })).message).toMatch(/is empty/);
  });

  it('must be a regular file', () => {
    mkdirSync(keyFile, { recursive: true, mode: 0o700 });
    expect(caught(() => loadMasterKey({ env: {}, keyFile })).message).toMatch(/not a regular file/);
  });
});
