/** api_keys rows. Sealing, checking and revealing secrets is the daemon's ApiKeyStore (src/daemon/auth/api-keys.ts). */
import { BkgError } from '../../api/errors.js';
import type { Db } from '../db.js';
import type { ApiKeyRepository } from '../repositories.js';
import { constraintKind } from '../sqlite-errors.js';
import type { ApiKeyAuthRow, ApiKeyCipherRow, ApiKeyInfoRow, ApiKeyRow, SealedApiKey } from '../types.js';

export type { ApiKeyAuthRow, ApiKeyCipherRow, ApiKeyInfoRow, ApiKeyRow, SealedApiKey } from '../types.js';

const INFO_COLUMNS = 'id, name, role, namespace_id, sandbox_id, prefix, suffix, created_at, revoked_at, last_used_at';

export class ApiKeyRepo implements ApiKeyRepository {
  private readonly insertStmt;
  private readonly byLookupStmt;
  private readonly markUsedStmt;
  private readonly getStmt;
  private readonly listStmt;
  private readonly listInStmt;
  private readonly listOfSandboxStmt;
  private readonly sandboxKeysStmt;
  private readonly revokeStmt;
  private readonly setSecretStmt;
  private readonly cipherStmt;

  /** `hostId`: this host, recorded as the origin of the keys made here (a fleet refuses others' keys when this host is stale). */
  constructor(db: Db, private readonly hostId = '') {
    this.insertStmt = db.prepare(
      `INSERT INTO api_keys (id, name, role, namespace_id, sandbox_id, lookup_hash, ciphertext, iv, tag, prefix, suffix, created_at, revoked_at, last_used_at, origin_host)
       VALUES (@id, @name, @role, @namespace_id, @sandbox_id, @lookup_hash, @ciphertext, @iv, @tag, @prefix, @suffix, @created_at, @revoked_at, @last_used_at, @origin_host)`,
    );
    this.byLookupStmt = db.prepare('SELECT id, name, role, namespace_id, sandbox_id, lookup_hash, revoked_at, origin_host FROM api_keys WHERE lookup_hash = ?');
    this.markUsedStmt = db.prepare('UPDATE api_keys SET last_used_at = ? WHERE id = ?');
    this.getStmt = db.prepare(`SELECT ${INFO_COLUMNS} FROM api_keys WHERE id = ?`);
    this.listStmt = db.prepare(`SELECT ${INFO_COLUMNS} FROM api_keys ORDER BY created_at, id`);
    this.listInStmt = db.prepare(`SELECT ${INFO_COLUMNS} FROM api_keys WHERE namespace_id = ? ORDER BY created_at, id`);
    this.listOfSandboxStmt = db.prepare(`SELECT ${INFO_COLUMNS} FROM api_keys WHERE sandbox_id = ? ORDER BY created_at, id`);
    // as arrays (raw mode): a list of 1,000 sandboxes reads 1,000 of these
    this.sandboxKeysStmt = db.prepare('SELECT sandbox_id, prefix, suffix FROM api_keys WHERE namespace_id = ? AND sandbox_id IS NOT NULL AND revoked_at IS NULL ORDER BY created_at, id').raw();
    this.revokeStmt = db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL');
    this.setSecretStmt = db.prepare(
      'UPDATE api_keys SET lookup_hash = @lookup_hash, ciphertext = @ciphertext, iv = @iv, tag = @tag, prefix = @prefix, suffix = @suffix WHERE id = @id',
    );
    this.cipherStmt = db.prepare('SELECT id, ciphertext, iv, tag, revoked_at FROM api_keys WHERE id = ?');
  }

  insert(row: Omit<ApiKeyRow, 'origin_host'>): void {
    try {
      this.insertStmt.run({ ...row, origin_host: this.hostId });
    } catch (err) {
      if (constraintKind(err) === 'foreignkey') {
        throw new BkgError('NOT_FOUND', `namespace ${row.namespace_id} does not exist`, { details: { namespaceId: row.namespace_id }, cause: err });
      }
      throw err;
    }
  }

  findByLookupHash(lookupHash: string): ApiKeyAuthRow | null {
    return (this.byLookupStmt.get(lookupHash) as ApiKeyAuthRow | undefined) ?? null;
  }

  markUsed(id: string, at: string): void {
    this.markUsedStmt.run(at, id);
  }

  get(id: string): ApiKeyInfoRow | null {
    return (this.getStmt.get(id) as ApiKeyInfoRow | undefined) ?? null;
  }

  /** Every key, a namespace's, or one sandbox's own. */
  list(opts: { namespaceId?: string; sandboxId?: string } = {}): ApiKeyInfoRow[] {
    if (opts.sandboxId !== undefined) return this.listOfSandboxStmt.all(opts.sandboxId) as ApiKeyInfoRow[];
    return (opts.namespaceId === undefined ? this.listStmt.all() : this.listInStmt.all(opts.namespaceId)) as ApiKeyInfoRow[];
  }

  sandboxKeys(namespaceId: string): [sandboxId: string, prefix: string, suffix: string][] {
    return this.sandboxKeysStmt.all(namespaceId) as [string, string, string][];
  }

  revoke(id: string, at: string): void {
    this.revokeStmt.run(at, id);
  }

  setSecret(id: string, sealed: SealedApiKey): void {
    this.setSecretStmt.run({ id, ...sealed });
  }

  getCipher(id: string): ApiKeyCipherRow | null {
    return (this.cipherStmt.get(id) as ApiKeyCipherRow | undefined) ?? null;
  }
}
