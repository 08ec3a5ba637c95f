/** Secrets of a namespace, as ciphertext only: the daemon seals and opens them (src/daemon/secrets); nothing here ever sees a value. */
import { BkgError } from '../../api/errors.js';
import type { Db } from '../db.js';
import type { SecretRepository } from '../repositories.js';
import { constraintKind } from '../sqlite-errors.js';
import type { SecretInfo, StoredSecret } from '../types.js';

export type { SecretInfo, StoredSecret } from '../types.js';

interface Row {
  namespace_id: string;
  name: string;
  ciphertext: Buffer;
  created_at: string;
  updated_at: string;
  updated_by: string;
}

const INFO_COLUMNS = 'namespace_id, name, created_at, updated_at, updated_by';

function toInfo(r: Omit<Row, 'ciphertext'>): SecretInfo {
  return { namespaceId: r.namespace_id, name: r.name, createdAt: r.created_at, updatedAt: r.updated_at, updatedBy: r.updated_by };
}

export class SecretRepo implements SecretRepository {
  private readonly getStmt;
  private readonly infoStmt;
  private readonly listStmt;
  private readonly insertStmt;
  private readonly updateStmt;
  private readonly deleteStmt;
  private readonly upsertTx;

  constructor(db: Db, private readonly now: () => Date = () => new Date()) {
    this.getStmt = db.prepare('SELECT * FROM secrets WHERE namespace_id = ? AND name = ?');
    this.infoStmt = db.prepare(`SELECT ${INFO_COLUMNS} FROM secrets WHERE namespace_id = ? AND name = ?`);
    this.listStmt = db.prepare(`SELECT ${INFO_COLUMNS} FROM secrets WHERE (? IS NULL OR namespace_id = ?) ORDER BY namespace_id, name`);
    this.insertStmt = db.prepare(
      `INSERT INTO secrets (namespace_id, name, ciphertext, created_at, updated_at, updated_by)
       VALUES (@namespace_id, @name, @ciphertext, @created_at, @updated_at, @updated_by)`,
    );
    this.updateStmt = db.prepare('UPDATE secrets SET ciphertext = @ciphertext, updated_at = @updated_at, updated_by = @updated_by WHERE namespace_id = @namespace_id AND name = @name');
    this.deleteStmt = db.prepare('DELETE FROM secrets WHERE namespace_id = ? AND name = ?');
    this.upsertTx = db.transaction((row: Row): boolean => {
      if (this.updateStmt.run(row).changes > 0) return false;
      this.insertStmt.run(row);
      return true;
    });
  }

  /** Set a secret's ciphertext: a new row (created), or the existing one replaced (its created_at kept). NOT_FOUND: no such namespace. */
  set(input: { namespaceId: string; name: string; ciphertext: Buffer; updatedBy: string }): { secret: SecretInfo; created: boolean } {
    const at = this.now().toISOString();
    const row: Row = { namespace_id: input.namespaceId, name: input.name, ciphertext: input.ciphertext, created_at: at, updated_at: at, updated_by: input.updatedBy };
    let created: boolean;
    try {
      created = this.upsertTx.immediate(row);
    } catch (err) {
      if (constraintKind(err) === 'foreignkey') throw new BkgError('NOT_FOUND', `namespace ${input.namespaceId} does not exist`, { details: { namespaceId: input.namespaceId }, cause: err });
      throw err;
    }
    return { secret: toInfo(this.infoStmt.get(input.namespaceId, input.name) as Row), created };
  }

  /** The secret with its ciphertext, or null. */
  get(namespaceId: string, name: string): StoredSecret | null {
    const r = this.getStmt.get(namespaceId, name) as Row | undefined;
    return r ? { ...toInfo(r), ciphertext: r.ciphertext } : null;
  }

  /** Secrets of one namespace, or of all for null: names and times, by namespace and name. */
  list(namespaceId: string | null): SecretInfo[] {
    return (this.listStmt.all(namespaceId, namespaceId) as Row[]).map(toInfo);
  }

  delete(namespaceId: string, name: string): boolean {
    return this.deleteStmt.run(namespaceId, name).changes > 0;
  }
}
