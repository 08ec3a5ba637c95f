/**
 * The daemon's sealing keypair for secrets (X25519): clients seal a value to its public key with a
 * libsodium sealed box, so the value leaves the client's process encrypted. The private key is a
 * file under BKG_HOME that bkg creates on first start (mode 0600, created whole or not at all, like
 * the master key); a file other users can read is refused, never replaced. Node's own crypto
 * builds the keys, so starting the daemon loads no libsodium (opening a sealed box does, once).
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { BkgError } from '../../api/errors.js';
import { createKeyFile, readKeyFile } from '../auth/key-file.js';

export interface SealingKey {
  publicKey: Buffer;
  privateKey: Buffer;
  /** The first 16 hex digits of SHA-256 over the public key. */
  fingerprint: string;
}

const KEY_BYTES = 32;
/** PKCS#8 DER of an X25519 private key, up to the 32 raw bytes (RFC 8410). */
const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');

function fromPrivate(privateKey: Buffer): SealingKey {
  const priv = createPrivateKey({ key: Buffer.concat([PKCS8_X25519, privateKey]), format: 'der', type: 'pkcs8' });
  const x = createPublicKey(priv).export({ format: 'jwk' }).x;
  if (typeof x !== 'string') throw new BkgError('INTERNAL', 'could not derive the secrets public key');
  const publicKey = Buffer.from(x, 'base64url');
  return { publicKey, privateKey, fingerprint: createHash('sha256').update(publicKey).digest('hex').slice(0, 16) };
}

const KEY_FILE = {
  label: 'secrets key file',
  hint: 'Remove it only if no secret was ever set on this host (secrets are stored under the master key, so they stay readable; clients fetch the new public key on their next `bkg secret set`).',
};

function readKey(path: string): SealingKey | null {
  const text = readKeyFile(path, KEY_FILE)?.trim();
  if (text === undefined) return null;
  const raw = Buffer.from(text, 'base64');
  if (raw.length !== KEY_BYTES || raw.toString('base64') !== text) throw new BkgError('INVALID_CONFIG', `secrets key file ${path} does not hold a ${KEY_BYTES}-byte key in base64`, { hint: KEY_FILE.hint });
  return fromPrivate(raw);
}

/** The keypair in `path`, created (0600) when there is none; a file created meanwhile by another process wins. */
export function loadSealingKey(path: string): SealingKey {
  const existing = readKey(path);
  if (existing) return existing;
  const d = generateKeyPairSync('x25519').privateKey.export({ format: 'jwk' }).d;
  if (typeof d !== 'string') throw new BkgError('INTERNAL', 'could not generate the secrets keypair');
  const privateKey = Buffer.from(d, 'base64url');
  if (createKeyFile(path, `${privateKey.toString('base64')}\n`)) return fromPrivate(privateKey);
  const theirs = readKey(path);
  if (!theirs) throw new BkgError('INVALID_CONFIG', `secrets key file ${path} appeared and vanished while it was being created`);
  return theirs;
}
