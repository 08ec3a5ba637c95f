/**
 * The secrets API (/api/v1/secrets) and how a sandbox asks for secrets. A value travels only as a
 * libsodium sealed box to the daemon's public key (sealed by the client before it leaves the
 * process); no answer ever carries a value, only names and times.
 */
import { ENV_NAME_PATTERN } from '../names.js';
import { SEAL_ALGORITHM, SEAL_OVERHEAD, SECRET_MAX_BYTES, SECRETS_DIR } from '../secrets.js';
import { Name, Timestamp, z } from './common.js';

/** A secret's name: an environment variable's (it is the variable's default name, and the file's). */
export const SecretName = z.string().regex(ENV_NAME_PATTERN, 'is not a valid secret name (letters, digits and _, not starting with a digit)').max(128);

/** One secret a sandbox gets: as the variable NAME (default), the variable `env`, or the file /run/secrets/NAME (`file`). */
export const SecretRef = z.object({
  name: SecretName.describe('The secret, in the sandbox\'s namespace.'),
  env: z.string().regex(ENV_NAME_PATTERN, 'is not a valid variable name').max(128).optional().describe('The environment variable that holds it (default: the secret\'s name).'),
  file: z.boolean().optional().describe(`true: the file ${SECRETS_DIR}/NAME (mode 0400, on a memory file system) instead of a variable.`),
}).strict();

export const SecretPublicKey = z.object({
  algorithm: z.literal(SEAL_ALGORITHM),
  public_key: z.string().describe('The daemon\'s X25519 public key, base64: seal a value to it with crypto_box_seal.'),
  fingerprint: z.string().describe('The first 16 hex digits of SHA-256 over the key.'),
}).strict();

export const SecretParams = z.object({ name: SecretName }).strict();
export const SecretQuery = z.object({ namespace: Name.optional().describe('Admin keys: the namespace (default "default"; listing: every namespace). Other keys act in their own.') }).strict();

export const SetSecretRequest = z.object({
  sealed: z.string().min(1).max(Math.ceil((SECRET_MAX_BYTES + SEAL_OVERHEAD) / 3) * 4).regex(/^[A-Za-z0-9+/]+={0,2}$/, 'must be base64').describe('The value as a sealed box to the daemon\'s public key, base64.'),
  namespace: Name.optional().describe('Admin keys only: the namespace (default "default").'),
}).strict();

export const SecretView = z.object({
  name: z.string(),
  namespace: z.string(),
  created_at: Timestamp,
  updated_at: Timestamp,
  updated_by: z.string().describe('The key that last set it.'),
}).strict();

export const SecretList = z.object({ secrets: z.array(SecretView) }).strict();

export type SecretRef = z.infer<typeof SecretRef>;
export type SecretView = z.infer<typeof SecretView>;
export type SecretPublicKey = z.infer<typeof SecretPublicKey>;
export type SetSecretRequest = z.infer<typeof SetSecretRequest>;
