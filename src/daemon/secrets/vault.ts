/**
 * Secrets: set from a sealed box (opened here, in memory, and at once encrypted with AES-256-GCM
 * under a subkey of the master key, the row's namespace and name as additional data), listed by
 * name, decrypted only to start a sandbox that asks for them (its environment, or files on a
 * memory file system at /run/secrets), and used to mask their values in what the daemon stores
 * about a sandbox's commands. Nothing here logs; a value leaves this class only for a sandbox.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { BkgError } from '../../api/errors.js';
import { SEAL_ALGORITHM, SEAL_OVERHEAD, SECRET_MAX_BYTES, type SecretPublicKey, type SecretRef } from '../../api/secrets.js';
import type { CreateSandboxRequest } from '../../api/sandboxes.js';
import type { NamespaceRepository, SecretRepository } from '../../store/repositories.js';
import type { Namespace, Sandbox } from '../../store/repos/index.js';
import type { SecretInfo } from '../../store/types.js';
import { MASTER_KEY_BYTES } from '../auth/master-key.js';
import type { SealingKey } from './keypair.js';

const ENC_INFO = 'bkg secret encryption';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Values shorter than this are not masked (masking "a" would mangle every record). */
export const MASK_MIN_CHARS = 4;
export const MASK = '***';
/** Variables bkg sets itself in every sandbox: a secret may not take their place. */
const RESERVED_ENV = new Set(['BKG_API_KEY', 'BKG_API_URL']);

type Sodium = typeof import('libsodium-wrappers').default;

export interface SecretVaultDeps {
  repo: SecretRepository;
  namespaces: Pick<NamespaceRepository, 'get'>;
  masterKey: Buffer;
  sealing: SealingKey;
}

/** What a starting sandbox is given: variables, and files for /run/secrets. */
export interface RevealedSecrets {
  env: Record<string, string>;
  files: { name: string; data: Buffer }[];
}

const aad = (namespaceId: string, name: string): Buffer => Buffer.from(`bkg secret ${namespaceId}/${name}`, 'utf8');

function setHint(name: string, ns: Namespace): string {
  return `Set it first: \`bkg secret set ${name}${ns.name === 'default' ? '' : ` --namespace ${ns.name}`}\` (the value from stdin or --file); \`bkg secret ls\` lists the secrets there are.`;
}

/** A secret given as a variable must be text a variable can hold: UTF-8 without NUL. */
function asVariable(name: string, value: Buffer): string {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(value);
  } catch {
    text = '\0';
  }
  if (text.includes('\0')) {
    throw new BkgError('INVALID_ARGUMENT', `secret "${name}" is not text a variable can hold (it is not UTF-8, or holds a NUL byte)`, {
      hint: `Give it as a file instead: \`--secret ${name}:file\` (cave.yaml: { name: ${name}, file: true }).`, details: { secret: name },
    });
  }
  return text;
}

export class SecretVault {
  readonly #repo: SecretRepository;
  readonly #namespaces: SecretVaultDeps['namespaces'];
  readonly #key: Buffer;
  readonly #sealing: SealingKey;
  #sodium: Promise<Sodium> | null = null;
  /** By sandbox id: the values its last start was given (a value set since does not reach it until it restarts, and must still be masked). */
  readonly #given = new Map<string, string[]>();

  constructor(d: SecretVaultDeps) {
    if (d.masterKey.length !== MASTER_KEY_BYTES) throw new BkgError('INVALID_CONFIG', `the master key must be ${MASTER_KEY_BYTES} bytes`);
    this.#repo = d.repo;
    this.#namespaces = d.namespaces;
    this.#sealing = d.sealing;
    this.#key = Buffer.from(hkdfSync('sha256', d.masterKey, Buffer.alloc(0), ENC_INFO, 32));
  }

  publicKey(): SecretPublicKey {
    return { algorithm: SEAL_ALGORITHM, public_key: this.#sealing.publicKey.toString('base64'), fingerprint: this.#sealing.fingerprint };
  }

  /** Open the sealed box, and store the value encrypted under the master key. */
  async set(ns: Namespace, name: string, sealedBase64: string, actor: string): Promise<{ secret: SecretInfo; created: boolean }> {
    const sealed = Buffer.from(sealedBase64, 'base64');
    if (sealed.length <= SEAL_OVERHEAD) throw new BkgError('INVALID_ARGUMENT', 'sealed: too short to be a sealed box holding a value', { details: { field: 'sealed' } });
    if (sealed.length > SECRET_MAX_BYTES + SEAL_OVERHEAD) throw new BkgError('PAYLOAD_TOO_LARGE', `a secret's value may hold at most ${SECRET_MAX_BYTES} bytes`);
    const sodium = await (this.#sodium ??= import('libsodium-wrappers').then(async (m) => {
      await m.default.ready;
      return m.default;
    }));
    let value: Uint8Array;
    try {
      value = sodium.crypto_box_seal_open(sealed, this.#sealing.publicKey, this.#sealing.privateKey);
    } catch {
      throw new BkgError('INVALID_ARGUMENT', 'sealed: not a sealed box to this daemon\'s public key', {
        hint: `Seal the value to the key GET /api/v1/secrets/public-key answers (fingerprint ${this.#sealing.fingerprint}); \`bkg secret set\` does.`, details: { field: 'sealed' },
      });
    }
    try {
      return this.#repo.set({ namespaceId: ns.id, name, ciphertext: this.encrypt(ns.id, name, value), updatedBy: actor });
    } finally {
      value.fill(0);
    }
  }

  list(namespaceId: string | null): SecretInfo[] {
    return this.#repo.list(namespaceId);
  }

  remove(ns: Namespace, name: string): void {
    if (!this.#repo.delete(ns.id, name)) throw new BkgError('NOT_FOUND', `no secret "${name}" in namespace "${ns.name}"`, { hint: '`bkg secret ls` lists the secrets there are.', details: { secret: name } });
  }

  /**
   * The secrets a sandbox being created asks for (the caller holds secret.use), checked: each is set
   * in the namespace (NOT_FOUND naming every missing one), and no two put a value in the same
   * place (a variable, a file, a variable of `env` or one bkg sets).
   */
  forCreate(ns: Namespace, req: Pick<CreateSandboxRequest, 'name' | 'secrets' | 'env'>): SecretRef[] {
    const refs = req.secrets ?? [];
    if (refs.length === 0) return [];
    const places = new Map<string, number>();
    refs.forEach((r, i) => {
      const field = `secrets[${i}]`;
      if (r.file && r.env !== undefined) throw new BkgError('INVALID_ARGUMENT', `${field}: env and file exclude each other (a secret is given as a variable or as a file)`, { details: { field } });
      const place = r.file ? `the file /run/secrets/${r.name}` : `the variable ${r.env ?? r.name}`;
      const variable = r.file ? null : (r.env ?? r.name);
      if (variable !== null && RESERVED_ENV.has(variable)) throw new BkgError('INVALID_ARGUMENT', `${field}: ${variable} is set by bkg itself`, { details: { field } });
      if (variable !== null && req.env && Object.hasOwn(req.env, variable)) throw new BkgError('INVALID_ARGUMENT', `${field}: ${variable} is also given in env`, { details: { field } });
      const first = places.get(place);
      if (first !== undefined) throw new BkgError('INVALID_ARGUMENT', `${field}: ${place} is already given by secrets[${first}]`, { details: { field } });
      places.set(place, i);
    });
    const missing = [...new Set(refs.map((r) => r.name))].filter((name) => !this.#repo.get(ns.id, name));
    if (missing.length) {
      throw new BkgError('NOT_FOUND', `no secret ${missing.map((m) => `"${m}"`).join(', ')} in namespace "${ns.name}"`, { hint: setHint(missing[0] as string, ns), details: { secrets: missing, namespace: ns.name } });
    }
    return refs.map((r) => ({ name: r.name, ...(r.file ? { file: true } : r.env !== undefined && r.env !== r.name ? { env: r.env } : {}) }));
  }

  /** The values a starting sandbox is given, decrypted now; NOT_FOUND (with a hint) for any removed since it was created. */
  reveal(s: Sandbox): RevealedSecrets {
    const out: RevealedSecrets = { env: {}, files: [] };
    const values = new Map<string, Buffer>();
    const missing: string[] = [];
    for (const r of s.secrets) {
      if (values.has(r.name) || missing.includes(r.name)) continue;
      const v = this.value(s.namespaceId, r.name);
      if (v) values.set(r.name, v);
      else missing.push(r.name);
    }
    if (missing.length) {
      const ns = this.#namespaces.get(s.namespaceId) ?? { id: s.namespaceId, name: s.namespaceId, projectId: null, createdAt: '' };
      throw new BkgError('NOT_FOUND', `sandbox "${s.name}" asks for secret ${missing.map((m) => `"${m}"`).join(', ')}, which namespace "${ns.name}" no longer has`, {
        hint: setHint(missing[0] as string, ns), details: { secrets: missing, namespace: ns.name },
      });
    }
    for (const r of s.secrets) {
      const v = values.get(r.name) as Buffer;
      if (r.file) out.files.push({ name: r.name, data: v });
      else out.env[r.env ?? r.name] = asVariable(r.name, v);
    }
    this.#given.set(s.id, [...values.values()].map((v) => v.toString('utf8')));
    return out;
  }

  /** `texts` with the values of the sandbox's secrets replaced by *** (for what is stored or published about its commands). */
  mask(s: Sandbox, texts: readonly string[]): string[] {
    if (s.secrets.length === 0) return [...texts];
    // the values it was started with, and the current ones (the same unless one was set since)
    const plain = [...(this.#given.get(s.id) ?? [])];
    for (const name of new Set(s.secrets.map((r) => r.name))) {
      const v = this.value(s.namespaceId, name, false);
      if (!v) continue;
      plain.push(v.toString('utf8'));
      v.fill(0);
    }
    const values = [...new Set(plain.flatMap((text) => [text, text.trim()]))].filter((form) => form.length >= MASK_MIN_CHARS);
    values.sort((a, b) => b.length - a.length); // the longest first: a value inside another is masked with it
    return texts.map((t) => values.reduce((acc, v) => acc.replaceAll(v, MASK), t));
  }

  private encrypt(namespaceId: string, name: string, value: Uint8Array): Buffer {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(aad(namespaceId, name));
    const data = Buffer.concat([cipher.update(value), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), data]);
  }

  /** The value, decrypted; null when there is no such secret (or, with `strict` false, when it cannot be decrypted). */
  private value(namespaceId: string, name: string, strict = true): Buffer | null {
    const row = this.#repo.get(namespaceId, name);
    if (!row) return null;
    try {
      const c = row.ciphertext;
      const decipher = createDecipheriv('aes-256-gcm', this.#key, c.subarray(0, IV_BYTES));
      decipher.setAAD(aad(namespaceId, name));
      decipher.setAuthTag(c.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([decipher.update(c.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
    } catch (err) {
      if (!strict) return null;
      throw new BkgError('INVALID_CONFIG', `secret "${name}" cannot be decrypted: the master key is not the one it was set under, or its row was altered`, {
        hint: 'Start the daemon with the master key the secret was set under (BKG_MASTER_KEY or $BKG_HOME/master.key), or set the secret again.', cause: err,
      });
    }
  }
}
