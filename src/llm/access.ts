/**
 * Model-access keys: a request for a model from a namespace, an admin's approval that yields a JWT
 * signed by the daemon (EdDSA; claims model_id, cave_ns, scopes, exp, jti), its use, and revocation.
 *
 * The namespace has one name in here: `namespace`. The seed's spellings stay where others read
 * them: the JWT claim `cave_ns`, the request body's and answer's `cave_namespace` (the wire), and
 * the table columns (the store); this module converts at those edges and nowhere else.
 */
import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { exportPKCS8, generateKeyPair, importPKCS8, jwtVerify, SignJWT, type CryptoKey, type KeyObject } from 'jose';
import { BkgError } from '../api/errors.js';
import type { Scope } from '../api/names.js';
import type { AccessRequest as AccessRequestView } from '../api/schema/llm.js';
import type { LlmAccessRepository } from '../store/repositories.js';
import type { AccessRequest as AccessRequestRow } from '../store/types.js';

/** A request for a model from a namespace. */
export interface AccessRequest extends Omit<AccessRequestRow, 'cave_namespace'> {
  namespace: string;
}

function fromRow({ cave_namespace, ...rest }: AccessRequestRow): AccessRequest {
  return { ...rest, namespace: cave_namespace };
}

function toRow(r: AccessRequest): AccessRequestRow {
  return { id: r.id, model_id: r.model_id, cave_namespace: r.namespace, requested_by: r.requested_by, status: r.status, created_at: r.created_at, decided_at: r.decided_at, decided_by: r.decided_by, token_id: r.token_id };
}

/** A request as the wire contract has it (the seed's `cave_namespace`). */
export function accessRequestView(r: AccessRequest): AccessRequestView {
  return toRow(r);
}

export type { Scope } from '../api/names.js';

const ISSUER = 'bkg';

export interface AccessClaims {
  jti: string;
  model_id: string;
  /** The namespace the key was issued to (the claim `cave_ns` in the JWT). */
  namespace: string;
  scopes: Scope[];
  rpm: number;
  exp: number;
}

type SigningKey = CryptoKey | KeyObject | Uint8Array;

/** The daemon's Ed25519 signing key, kept in a 0600 file under BKG_HOME (created on first use). */
export async function loadSigningKey(path: string): Promise<{ privateKey: SigningKey; publicKey: SigningKey }> {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    writeFileSync(path, await exportPKCS8(privateKey), { mode: 0o600, flag: 'wx' });
  }
  chmodSync(path, 0o600);
  const privateKey = await importPKCS8(readFileSync(path, 'utf8'), 'EdDSA', { extractable: true });
  const { createPublicKey } = await import('node:crypto');
  const publicKey = createPublicKey(readFileSync(path, 'utf8'));
  return { privateKey, publicKey };
}

/** How many verified keys ModelAccess remembers. */
const VERIFIED_KEYS = 1024;

export class ModelAccess {
  /** jti → revoked: answers from memory, the table keeps it across restarts. */
  private readonly revoked = new Set<string>();
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  /**
   * Keys whose signature verified, by their exact text: a key seen again skips the signature check
   * (jose's, which goes through WebCrypto and the thread pool: most of a chat's authorisation), never
   * the expiry or the revocation check. The oldest entry goes first past VERIFIED_KEYS.
   */
  private readonly verified = new Map<string, AccessClaims>();

  constructor(
    private readonly repo: LlmAccessRepository,
    private readonly keys: { privateKey: SigningKey; publicKey: SigningKey },
    private readonly now: () => Date = () => new Date(),
  ) {
    for (const jti of repo.revokedTokenIds()) this.revoked.add(jti);
  }

  request(input: { modelId: string; namespace: string; requestedBy: string }): AccessRequest {
    const r: AccessRequest = { id: `req_${randomUUID().slice(0, 12)}`, model_id: input.modelId, namespace: input.namespace, requested_by: input.requestedBy, status: 'pending', created_at: this.now().toISOString(), decided_at: null, decided_by: null, token_id: null };
    this.repo.insertRequest(toRow(r));
    return r;
  }

  requests(opts: { status?: string; namespace?: string } = {}): AccessRequest[] {
    const rows = this.repo.listRequests().map(fromRow);
    return rows.filter((r) => (!opts.status || r.status === opts.status) && (!opts.namespace || r.namespace === opts.namespace));
  }

  getRequest(id: string): AccessRequest {
    const r = this.repo.getRequest(id);
    if (!r) throw new BkgError('NOT_FOUND', `no model-access request "${id}"`);
    return fromRow(r);
  }

  async approve(id: string, by: string, opts: { scopes: Scope[]; ttlSeconds: number; rpm: number }): Promise<{ token: string; claims: AccessClaims }> {
    const r = this.getRequest(id);
    if (r.status !== 'pending') throw new BkgError('CONFLICT', `request ${id} is already ${r.status}`);
    const jti = `tok_${randomUUID()}`;
    const now = this.now();
    const exp = Math.floor(now.getTime() / 1000) + opts.ttlSeconds;
    const claims: AccessClaims = { jti, model_id: r.model_id, namespace: r.namespace, scopes: opts.scopes, rpm: opts.rpm, exp };
    const token = await new SignJWT({ model_id: claims.model_id, cave_ns: claims.namespace, scopes: claims.scopes, rpm: claims.rpm })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT' })
      .setIssuer(ISSUER)
      .setJti(jti)
      .setIssuedAt(Math.floor(now.getTime() / 1000))
      .setExpirationTime(exp)
      .sign(this.keys.privateKey);
    // the token row and the request's approval, in one transaction
    this.repo.approve({
      requestId: id, jti, modelId: r.model_id, namespace: r.namespace, scopes: opts.scopes, rpm: opts.rpm,
      expiresAt: new Date(exp * 1000).toISOString(), at: now.toISOString(), decidedBy: by,
    });
    return { token, claims };
  }

  deny(id: string, by: string): AccessRequest {
    const r = this.getRequest(id);
    if (r.status !== 'pending') throw new BkgError('CONFLICT', `request ${id} is already ${r.status}`);
    this.repo.deny(id, by, this.now().toISOString());
    return this.getRequest(id);
  }

  tokens(): { jti: string; model_id: string; cave_ns: string; scopes: Scope[]; rpm: number; expires_at: string; revoked_at: string | null; created_at: string }[] {
    return this.repo.listTokens().map((t) => ({ ...t, scopes: t.scopes as Scope[] }));
  }

  /** Revoke a token of `modelId`: the next request with it gets 403, also after a restart. */
  revoke(modelId: string, jti: string): void {
    if (!this.repo.revokeToken(modelId, jti, this.now().toISOString())) throw new BkgError('NOT_FOUND', `no access key "${jti}" for model "${modelId}"`);
    this.revoked.add(jti);
  }

  /** Whether the key with this jti was revoked (a routed stream asks as it goes). */
  isRevoked(jti: string): boolean {
    return this.revoked.has(jti);
  }

  /**
   * Check a bearer token for one use: signature and expiry (401), then model, scope, revocation and
   * the namespace header (403), then the key's rate (429).
   */

  async authorize(token: string | null, use: { namespace: string | undefined; modelId: string; scope: Scope }): Promise<AccessClaims> {
    const claims = await this.peek(token);
    if (claims.model_id !== use.modelId) throw new BkgError('FORBIDDEN', `this key is for model "${claims.model_id}", not "${use.modelId}"`);
    if (!claims.scopes.includes(use.scope)) throw new BkgError('FORBIDDEN', `this key does not allow ${use.scope}`);
    if (use.namespace !== claims.namespace) throw new BkgError('FORBIDDEN', 'the X-Cave-Namespace header must name the namespace the key was issued to');
    this.take(claims);
    return claims;
  }

  /** A valid, unrevoked key's claims (signature and expiry: 401; revoked: 403), without a use. */
  async peek(token: string | null): Promise<AccessClaims> {
    if (!token) throw new BkgError('UNAUTHENTICATED', 'a model-access key is required (Authorization: Bearer <key>)');
    let claims = this.verified.get(token);
    // an expired key goes back through jose, which says so as it always did
    if (claims && !(claims.exp * 1000 > this.now().getTime())) {
      this.verified.delete(token);
      claims = undefined;
    }
    if (!claims) {
      let payload: Record<string, unknown>;
      try {
        payload = (await jwtVerify(token, this.keys.publicKey, { issuer: ISSUER, algorithms: ['EdDSA'], currentDate: this.now() })).payload as Record<string, unknown>;
      } catch (err) {
        throw new BkgError('UNAUTHENTICATED', `invalid model-access key: ${(err as Error).message}`);
      }
      claims = {
        jti: String(payload.jti), model_id: String(payload.model_id), namespace: String(payload.cave_ns),
        scopes: payload.scopes as Scope[], rpm: Number(payload.rpm), exp: Number(payload.exp),
      };
      if (this.verified.size >= VERIFIED_KEYS) this.verified.delete(this.verified.keys().next().value as string);
      this.verified.set(token, claims);
    }
    if (this.revoked.has(claims.jti)) throw new BkgError('FORBIDDEN', 'this model-access key was revoked');
    return claims;
  }

  private take(c: AccessClaims): void {
    const now = this.now().getTime();
    const perMs = c.rpm / 60_000;
    const b = this.buckets.get(c.jti) ?? { tokens: c.rpm, at: now };
    b.tokens = Math.min(c.rpm, b.tokens + (now - b.at) * perMs);
    b.at = now;
    if (b.tokens < 1) {
      this.buckets.set(c.jti, b);
      throw new BkgError('RATE_LIMITED', `this key allows ${c.rpm} requests per minute`, { details: { retry_after_s: Math.max(1, Math.ceil((1 - b.tokens) / perMs / 1000)) } });
    }
    b.tokens -= 1;
    this.buckets.set(c.jti, b);
  }
}
