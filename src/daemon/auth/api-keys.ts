/**
 * API keys. A key is `bkg_` + 43 random base62 characters (~256 bits), shown once on create or
 * rotate. At rest it is encrypted with AES-256-GCM (random 12-byte iv, the key id as additional
 * data) under a subkey of the master key, so the daemon can hand a sandbox its own key again
 * (`reveal`). A request's key is found by `lookup_hash` = HMAC-SHA256(lookup subkey, key): one
 * indexed read, no decryption scan, and the database alone neither reveals nor verifies keys.
 *
 * Nothing here logs; secrets leave this class only as the return value of create, rotate, reveal.
 * The rows are the store's (ApiKeyRepository, src/store/repos/api-keys.ts): this class holds the crypto and the rules.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { BkgError } from '../../api/errors.js';
import { newId, randomBase62 } from '../../store/ids.js';
import type { ApiKeyRepository, SandboxRepository } from '../../store/repositories.js';
import { isRole, type Role } from '../../api/names.js';
import type { ApiKeyInfoRow, ApiKeyRow, SealedApiKey } from '../../store/types.js';
import { MASTER_KEY_BYTES } from './master-key.js';

export type { Role } from '../../api/names.js';

export const KEY_PREFIX = 'bkg_';
const SECRET_CHARS = 43;
/** Accepts keys of any length bkg may issue, and rejects anything else before hashing it. */
const SECRET_RE = /^bkg_[0-9A-Za-z]{32,128}$/;
const ENC_INFO = 'bkg api-key encryption';
const LOOKUP_INFO = 'bkg api-key lookup';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface CreateApiKeyInput {
  name: string;
  role: Role;
  /** Required for role 'namespace'; optional for 'readonly' (absent: read-only everywhere); refused for 'admin'. */
  namespaceId?: string | null;
  /** Scope the key to one sandbox of `namespaceId` (the key the daemon injects into that sandbox). */
  sandboxId?: string | null;
}

/**
 * A key as listed: never the secret, only its masked form `bkg_abcd...wxyz`. ASCII on purpose: one
 * non-ASCII character per row made a list of 1,000 sandboxes a two-byte string, slower to encode
 * here and to decode in every client (GET /api/v1/sandboxes 20.1 -> 14.7 ms p50 in one A/B run).
 */
export interface ApiKeyInfo {
  id: string;
  name: string;
  role: Role;
  namespaceId: string | null;
  sandboxId: string | null;
  masked: string;
  createdAt: string;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

/** The result of create and rotate: the only time the secret `key` is returned. */
export interface CreatedApiKey extends ApiKeyInfo {
  key: string;
}

/** Who a valid key authenticates as. */
export interface Principal {
  id: string;
  name: string;
  role: Role;
  namespaceId: string | null;
  sandboxId: string | null;
  /** The host the key was made on, when it is an API key ('' or absent: this host or not a key). */
  originHost?: string;
  /** The host (its id) that forwarded this request here over mutual TLS; absent: the request came in here. */
  via?: string;
}

/** What the key store needs from the store: its table, the sandboxes (to check a key's scope), and transactions. */
export interface ApiKeyStoreDeps {
  apiKeys: ApiKeyRepository;
  sandboxes: Pick<SandboxRepository, 'get'>;
  transaction<T>(fn: () => T): T;
}

export function maskKey(prefix: string, suffix: string): string {
  return `${prefix}...${suffix}`;
}

function toInfo(r: ApiKeyInfoRow): ApiKeyInfo {
  return {
    id: r.id,
    name: r.name,
    role: r.role,
    namespaceId: r.namespace_id,
    sandboxId: r.sandbox_id,
    masked: maskKey(r.prefix, r.suffix),
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
    lastUsedAt: r.last_used_at,
  };
}

function aad(id: string): Buffer {
  return Buffer.from(`bkg api key ${id}`, 'utf8');
}

export class ApiKeyStore {
  readonly #keys: ApiKeyRepository;
  readonly #sandboxes: ApiKeyStoreDeps['sandboxes'];
  readonly #transaction: ApiKeyStoreDeps['transaction'];
  readonly #encKey: Buffer;
  readonly #lookupKey: Buffer;
  readonly #now: () => Date;

  /** `store`: the Store (openStore), or any object with these three of its members. */
  constructor(store: ApiKeyStoreDeps, masterKey: Buffer, now: () => Date = () => new Date()) {
    if (!Buffer.isBuffer(masterKey) || masterKey.length !== MASTER_KEY_BYTES) {
      throw new BkgError('INVALID_CONFIG', `the master key must be ${MASTER_KEY_BYTES} bytes`);
    }
    this.#keys = store.apiKeys;
    this.#sandboxes = store.sandboxes;
    this.#transaction = (fn) => store.transaction(fn);
    this.#encKey = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), ENC_INFO, 32));
    this.#lookupKey = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), LOOKUP_INFO, 32));
    this.#now = now;
  }

  create(input: CreateApiKeyInput): CreatedApiKey {
    const { namespaceId, sandboxId } = this.#checkScope(input);
    const id = newId('key');
    const secret = this.#newSecret();
    const sealed = this.#seal(id, secret);
    const row: Omit<ApiKeyRow, 'origin_host'> = {
      id,
      name: input.name,
      role: input.role,
      namespace_id: namespaceId,
      sandbox_id: sandboxId,
      created_at: this.#now().toISOString(),
      revoked_at: null,
      last_used_at: null,
      ...sealed,
    };
    this.#keys.insert(row); // NOT_FOUND when the namespace does not exist
    return { ...toInfo(row), key: secret };
  }

  /** The principal for a presented key; null for an unknown, malformed or revoked key. Records the use. */
  authenticate(secret: string): Principal | null {
    if (typeof secret !== 'string' || !SECRET_RE.test(secret)) return null;
    const hash = this.#lookupHash(secret);
    const row = this.#keys.findByLookupHash(hash.toString('hex'));
    if (!row) return null;
    const stored = Buffer.from(row.lookup_hash, 'hex');
    if (stored.length !== hash.length || !timingSafeEqual(stored, hash)) return null;
    if (row.revoked_at !== null) return null;
    this.#keys.markUsed(row.id, this.#now().toISOString());
    return { id: row.id, name: row.name, role: row.role, namespaceId: row.namespace_id, sandboxId: row.sandbox_id, originHost: row.origin_host };
  }

  /**
   * The principal of a key named by id, as this host's copy of the keys has it (a request another
   * host forwards names its key by id): null when the key is unknown here or revoked.
   */
  principal(id: string): Principal | null {
    const r = this.#keys.get(id);
    if (!r || r.revoked_at !== null) return null;
    return { id: r.id, name: r.name, role: r.role, namespaceId: r.namespace_id, sandboxId: r.sandbox_id };
  }

  get(id: string): ApiKeyInfo | null {
    const r = this.#keys.get(id);
    return r ? toInfo(r) : null;
  }

  /** Keys (masked), oldest first; all of them, or those scoped to one namespace. Revoked keys are included. */
  list(opts: { namespaceId?: string; sandboxId?: string } = {}): ApiKeyInfo[] {
    return this.#keys.list({ ...(opts.namespaceId === undefined ? {} : { namespaceId: opts.namespaceId }), ...(opts.sandboxId === undefined ? {} : { sandboxId: opts.sandboxId }) }).map(toInfo);
  }

  /** Each sandbox's live key of a namespace, masked (the oldest where a sandbox has several): what a sandbox list shows. */
  maskedSandboxKeys(namespaceId: string): Map<string, string> {
    const out = new Map<string, string>();
    for (const [sandboxId, prefix, suffix] of this.#keys.sandboxKeys(namespaceId)) if (!out.has(sandboxId)) out.set(sandboxId, maskKey(prefix, suffix));
    return out;
  }

  /** Revoke a key: refused by authenticate from now on. Revoking a revoked key changes nothing. */
  revoke(id: string): ApiKeyInfo {
    return this.#transaction(() => {
      this.#keys.revoke(id, this.#now().toISOString());
      const info = this.get(id);
      if (!info) throw notFound(id);
      return info;
    });
  }

  /** Give a key a new secret (same id, name, role and scope); the old secret is refused at once. */
  rotate(id: string): CreatedApiKey {
    return this.#transaction(() => {
      const info = this.get(id);
      if (!info) throw notFound(id);
      if (info.revokedAt !== null) throw revoked(id);
      const secret = this.#newSecret();
      const sealed = this.#seal(id, secret);
      this.#keys.setSecret(id, sealed);
      return { ...info, masked: maskKey(sealed.prefix, sealed.suffix), key: secret };
    });
  }

  /**
   * Decrypt a key's secret. Only for the daemon, to hand a sandbox its own key; never expose it
   * through the API. A ciphertext that fails authentication (altered row, other master key) throws.
   */
  reveal(id: string): string {
    const r = this.#keys.getCipher(id);
    if (!r) throw notFound(id);
    if (r.revoked_at !== null) throw revoked(id);
    try {
      if (r.iv.length !== IV_BYTES || r.tag.length !== TAG_BYTES) throw new Error('bad iv or tag length');
      const decipher = createDecipheriv('aes-256-gcm', this.#encKey, r.iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(aad(id));
      decipher.setAuthTag(r.tag);
      const secret = Buffer.concat([decipher.update(r.ciphertext), decipher.final()]).toString('utf8');
      if (!SECRET_RE.test(secret)) throw new Error('decrypted value is not an API key');
      return secret;
    } catch (err) {
      throw new BkgError('INTERNAL', `API key ${id} cannot be decrypted: its stored ciphertext failed authentication`, {
        hint: 'The api_keys row was altered, or the daemon runs with a different master key than the one that created the key. Restore the original master key, or rotate the key.',
        details: { id },
        cause: err,
      });
    }
  }

  #checkScope(input: CreateApiKeyInput): { namespaceId: string | null; sandboxId: string | null } {
    if (typeof input.name !== 'string' || input.name.length === 0) throw new BkgError('INVALID_ARGUMENT', 'API key name must be a non-empty string');
    if (!isRole(input.role)) throw new BkgError('INVALID_ARGUMENT', `API key role must be admin, namespace or readonly, not "${String(input.role)}"`);
    const namespaceId = input.namespaceId ?? null;
    const sandboxId = input.sandboxId ?? null;
    if (input.role === 'admin' && (namespaceId !== null || sandboxId !== null)) {
      throw new BkgError('INVALID_ARGUMENT', 'an admin key cannot be scoped to a namespace or sandbox');
    }
    if (input.role === 'namespace' && namespaceId === null) throw new BkgError('INVALID_ARGUMENT', 'a namespace key needs a namespaceId');
    if (sandboxId !== null) {
      if (namespaceId === null) throw new BkgError('INVALID_ARGUMENT', 'a sandbox-scoped key needs the namespaceId of its sandbox');
      const sb = this.#sandboxes.get(sandboxId);
      if (!sb) throw new BkgError('NOT_FOUND', `sandbox ${sandboxId} does not exist`, { details: { id: sandboxId } });
      if (sb.namespaceId !== namespaceId) throw new BkgError('INVALID_ARGUMENT', `sandbox ${sandboxId} is not in namespace ${namespaceId}`);
    }
    return { namespaceId, sandboxId };
  }

  #newSecret(): string {
    return KEY_PREFIX + randomBase62(SECRET_CHARS);
  }

  #lookupHash(secret: string): Buffer {
    return createHmac('sha256', this.#lookupKey).update(secret, 'utf8').digest();
  }

  #seal(id: string, secret: string): SealedApiKey {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#encKey, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad(id));
    const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
    return {
      lookup_hash: this.#lookupHash(secret).toString('hex'),
      ciphertext,
      iv,
      tag: cipher.getAuthTag(),
      prefix: secret.slice(0, KEY_PREFIX.length + 4),
      suffix: secret.slice(-4),
    };
  }
}

function notFound(id: string): BkgError {
  return new BkgError('NOT_FOUND', `API key ${id} does not exist`, { details: { id } });
}

function revoked(id: string): BkgError {
  return new BkgError('CONFLICT', `API key ${id} is revoked`, { hint: 'Revoked keys stay revoked; create a new key instead.', details: { id } });
}
