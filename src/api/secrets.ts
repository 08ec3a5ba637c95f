/**
 * Secrets as the rest of bkg imports them without loading zod: the caps, where files go, the
 * sealing algorithm, and the types of schema/secrets.ts (where the schemas themselves are).
 */
/** The largest value a secret may hold (bytes, before sealing). */
export const SECRET_MAX_BYTES = 65_536;
/** The most secrets one sandbox may ask for. */
export const MAX_SANDBOX_SECRETS = 64;
/** Where a sandbox finds the secrets it asked for as files. */
export const SECRETS_DIR = '/run/secrets';
/** What the public key seals with: libsodium's crypto_box_seal (X25519, XSalsa20-Poly1305). */
export const SEAL_ALGORITHM = 'libsodium-sealed-box-x25519-xsalsa20poly1305';
/** What a sealed box adds to the value (crypto_box_SEALBYTES). */
export const SEAL_OVERHEAD = 48;

export type { SecretPublicKey, SecretRef, SecretView, SetSecretRequest } from './schema/secrets.js';
