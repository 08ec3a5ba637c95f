/** Snapshots of sandboxes' writable layers: one row each; the files are the daemon's ($BKG_HOME/snapshots/<id>). */
import { BkgError } from '../../api/errors.js';
import type { Db } from '../db.js';
import type { SnapshotRepository } from '../repositories.js';
import { constraintKind } from '../sqlite-errors.js';
import type { Snapshot } from '../types.js';

export type { Snapshot } from '../types.js';

interface Row {
  id: string;
  namespace_id: string;
  sandbox_id: string;
  sandbox_name: string;
  tag: string | null;
  size_bytes: number;
  created_at: string;
  created_by: string;
}

function toSnapshot(r: Row): Snapshot {
  return {
    id: r.id, namespaceId: r.namespace_id, sandboxId: r.sandbox_id, sandboxName: r.sandbox_name, tag: r.tag, sizeBytes: r.size_bytes,
    createdAt: r.created_at, createdBy: r.created_by,
  };
}

export class SnapshotRepo implements SnapshotRepository {
  private readonly insertStmt;
  private readonly getStmt;
  private readonly tagStmt;
  private readonly listStmt;
  private readonly deleteStmt;

  constructor(db: Db) {
    this.insertStmt = db.prepare(
      `INSERT INTO snapshots (id, namespace_id, sandbox_id, sandbox_name, tag, size_bytes, created_at, created_by)
       VALUES (@id, @namespace_id, @sandbox_id, @sandbox_name, @tag, @size_bytes, @created_at, @created_by)`,
    );
    this.getStmt = db.prepare('SELECT * FROM snapshots WHERE id = ?');
    this.tagStmt = db.prepare('SELECT * FROM snapshots WHERE namespace_id = ? AND sandbox_name = ? AND tag = ?');
    this.listStmt = db.prepare('SELECT * FROM snapshots WHERE (? IS NULL OR namespace_id = ?) ORDER BY created_at, id');
    this.deleteStmt = db.prepare('DELETE FROM snapshots WHERE id = ?');
  }

  insert(s: Snapshot): Snapshot {
    try {
      this.insertStmt.run({
        id: s.id, namespace_id: s.namespaceId, sandbox_id: s.sandboxId, sandbox_name: s.sandboxName, tag: s.tag, size_bytes: s.sizeBytes,
        created_at: s.createdAt, created_by: s.createdBy,
      });
    } catch (err) {
      if (constraintKind(err) === 'unique') {
        throw new BkgError('CONFLICT', `sandbox "${s.sandboxName}" already has a snapshot tagged "${s.tag ?? ''}"`, { hint: 'choose another --tag, or remove the old one with bkg snapshot rm NAME:TAG', cause: err });
      }
      throw err;
    }
    return s;
  }

  get(id: string): Snapshot | null {
    const r = this.getStmt.get(id) as Row | undefined;
    return r ? toSnapshot(r) : null;
  }

  byTag(namespaceId: string, sandboxName: string, tag: string): Snapshot | null {
    const r = this.tagStmt.get(namespaceId, sandboxName, tag) as Row | undefined;
    return r ? toSnapshot(r) : null;
  }

  list(namespaceId: string | null): Snapshot[] {
    return (this.listStmt.all(namespaceId, namespaceId) as Row[]).map(toSnapshot);
  }

  delete(id: string): boolean {
    return this.deleteStmt.run(id).changes > 0;
  }
}
