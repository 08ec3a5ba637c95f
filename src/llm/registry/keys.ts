/** Ed25519 public keys and detached signatures for signed models. */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { BkgError } from '../../api/errors.js';

/** DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw 32-byte key follows it. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
export const SIGNATURE_BYTES = 64;

function bad(message: string): BkgError {
  return new BkgError('INVALID_ARGUMENT', `public_key: ${message}`, {
    details: { field: 'public_key' },
    hint: 'Pass an Ed25519 public key as PEM (-----BEGIN PUBLIC KEY-----), base64 of the raw 32 bytes or of its DER, or an ssh-ed25519 line.',
  });
}

function rawFromKeyObject(key: KeyObject): Buffer {
  if (key.asymmetricKeyType !== 'ed25519') throw bad(`expected an Ed25519 key, got ${key.asymmetricKeyType ?? 'an unknown key type'}`);
  const x = key.export({ format: 'jwk' }).x;
  if (typeof x !== 'string') throw bad('could not read the key');
  return Buffer.from(x, 'base64url');
}

function fromSsh(line: string): Buffer {
  const b64 = line.trim().split(/\s+/)[1] ?? '';
  const blob = Buffer.from(b64, 'base64');
  let off = 0;
  const next = (): Buffer => {
    if (off + 4 > blob.length) throw bad('truncated ssh-ed25519 key');
    const n = blob.readUInt32BE(off);
    off += 4;
    if (off + n > blob.length) throw bad('truncated ssh-ed25519 key');
    const v = blob.subarray(off, off + n);
    off += n;
    return v;
  };
  if (next().toString('latin1') !== 'ssh-ed25519') throw bad('not an ssh-ed25519 key');
  const raw = next();
  if (raw.length !== 32) throw bad('an ssh-ed25519 key must hold 32 bytes');
  return Buffer.from(raw);
}

/** The raw 32-byte Ed25519 public key from PEM (SPKI), base64 raw/DER, or an OpenSSH line. */
export function parsePublicKey(input: string): Buffer {
  if (typeof input !== 'string' || !input.trim()) throw bad('must be a non-empty string');
  const text = input.trim();
  if (text.startsWith('-----BEGIN')) {
    let key: KeyObject;
    try {
      key = createPublicKey(text);
    } catch (err) {
      throw bad(`not a valid PEM public key (${err instanceof Error ? err.message : String(err)})`);
    }
    return rawFromKeyObject(key);
  }
  if (text.startsWith('ssh-ed25519 ')) return fromSsh(text);
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) throw bad('not PEM, base64 or an ssh-ed25519 line');
  const bytes = Buffer.from(text, /[-_]/.test(text) ? 'base64url' : 'base64');
  if (bytes.length === 32) return bytes;
  if (bytes.length === 44 && bytes.subarray(0, 12).equals(ED25519_SPKI_PREFIX)) return Buffer.from(bytes.subarray(12));
  throw bad(`base64 of ${bytes.length} bytes is neither a raw Ed25519 key (32) nor its DER form (44)`);
}

/** sha256 of the raw key, hex, first 16 characters. */
export function fingerprintOf(raw: Buffer): string {
  return createHash('sha256').update(raw).digest('hex').slice(0, 16);
}

/** A detached signature: raw 64 bytes, or base64 text of them (e.g. the contents of a .sig file). */
export function parseSignature(bytes: Uint8Array, field = 'sig'): Buffer {
  const buf = Buffer.from(bytes);
  if (buf.length === SIGNATURE_BYTES) return buf;
  const text = buf.toString('utf8').trim();
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(text)) {
    const decoded = Buffer.from(text, 'base64');
    if (decoded.length === SIGNATURE_BYTES) return decoded;
  }
  throw new BkgError('INVALID_ARGUMENT', `${field}: an Ed25519 signature is 64 bytes (raw, or base64), not ${buf.length} bytes`, { details: { field } });
}
