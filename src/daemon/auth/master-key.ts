/**
 * The daemon's 32-byte master key, from which the API-key encryption and lookup subkeys are
 * derived. It comes from BKG_MASTER_KEY (base64 or hex) or from a key file that bkg creates on
 * first start (mode 0600). An invalid key is fatal: bkg never substitutes a fresh or default key,
 * since that would silently make every stored API key unusable.
 */
import { randomBytes } from 'node:crypto';
import { BkgError } from '../../api/errors.js';
import { createKeyFile, readKeyFile } from './key-file.js';

export const MASTER_KEY_BYTES = 32;
export const MASTER_KEY_ENV = 'BKG_MASTER_KEY';

export interface MasterKey {
  key: Buffer;
  /** Where it came from: the environment, an existing key file, or a key file created just now. */
  source: 'env' | 'file' | 'created';
  /** The key file, for 'file' and 'created'. */
  path?: string;
}

export interface LoadMasterKeyOptions {
  /** Defaults to process.env; BKG_MASTER_KEY there wins over the key file. */
  env?: Record<string, string | undefined>;
  /** Path of the key file, created when absent. */
  keyFile: string;
}

const HEX = /^[0-9a-fA-F]{64}$/;
const BASE64 = /^[A-Za-z0-9+/]{43}=?$/;
const BASE64URL = /^[A-Za-z0-9_-]{43}=?$/;

/**
 * Decode a master key written as 64 hex digits or as base64 / base64url (43 characters, optional
 * '=' padding). Anything else is INVALID_CONFIG; `origin` names the source in the message, which
 * never contains the value.
 */
export function parseMasterKey(text: string, origin: string): Buffer {
  const s = text.trim();
  if (HEX.test(s)) return Buffer.from(s, 'hex');
  if (BASE64.test(s) || BASE64URL.test(s)) {
    const key = Buffer.from(s, 'base64');
    // Reject non-canonical encodings (stray bits in the last character): they would hide typos.
    const canonical = key.toString('base64').replace(/=+$/, '');
    const given = s.replace(/=+$/, '').replace(/-/g, '+').replace(/_/g, '/');
    if (key.length === MASTER_KEY_BYTES && canonical === given) return key;
  }
  const what = s.length === 0 ? 'is empty' : `is not a ${MASTER_KEY_BYTES}-byte key in hex (64 digits) or base64 (44 characters)`;
  throw new BkgError('INVALID_CONFIG', `master key from ${origin} ${what}`, {
    hint: `Generate one with \`openssl rand -base64 ${MASTER_KEY_BYTES}\`. Changing the master key makes existing API keys unusable.`,
  });
}

/** Load the master key from the environment or the key file, creating the file if neither exists. */
export function loadMasterKey(opts: LoadMasterKeyOptions): MasterKey {
  const env = opts.env ?? process.env;
  const fromEnv = env[MASTER_KEY_ENV];
  if (fromEnv !== undefined) return { key: parseMasterKey(fromEnv, MASTER_KEY_ENV), source: 'env' };
  const existing = readKey(opts.keyFile);
  if (existing) return { key: existing, source: 'file', path: opts.keyFile };
  return createKey(opts.keyFile);
}

const KEY_FILE = { label: 'master key file', followLinks: true };

/** The key in `path`, or null when there is no such file. */
function readKey(path: string): Buffer | null {
  const text = readKeyFile(path, KEY_FILE);
  return text === null ? null : parseMasterKey(text, `file ${path}`);
}

/** A fresh key in a new key file; a key file created concurrently by another process is used instead. */
function createKey(path: string): MasterKey {
  const key = randomBytes(MASTER_KEY_BYTES);
  if (createKeyFile(path, `${key.toString('base64')}\n`)) return { key, source: 'created', path };
  const theirs = readKey(path);
  if (!theirs) throw new BkgError('INVALID_CONFIG', `master key file ${path} appeared and vanished while it was being created`);
  return { key: theirs, source: 'file', path };
}
