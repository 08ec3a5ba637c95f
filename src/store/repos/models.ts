/** The model registry's tables (migration 4): models, trusted_keys, download_jobs. */
import { BkgError } from '../../api/errors.js';
import type { ModelManifest } from '../../api/schema/llm.js';
import type { Db, Statement } from '../db.js';
import { newId } from '../ids.js';
import type { DownloadJobRepository, ModelRepository, TrustedKeyRepository } from '../repositories.js';
import { constraintKind } from '../sqlite-errors.js';
import type { DownloadJob, DownloadJobPatch, TrustedKey } from '../types.js';

export { JOB_STATUSES } from '../types.js';
export type { DownloadJob, DownloadJobPatch, JobStatus, TrustedKey } from '../types.js';

export class ModelRepo implements ModelRepository {
  private readonly getStmt;
  private readonly bySha256Stmt;
  private readonly listStmt;
  private readonly listLruStmt;
  private readonly insertStmt;
  private readonly signedByStmt;
  private readonly touchStmt;
  private readonly deleteStmt;
  private readonly shasStmt;

  constructor(db: Db) {
    this.getStmt = db.prepare('SELECT * FROM models WHERE id = ?');
    this.bySha256Stmt = db.prepare('SELECT * FROM models WHERE sha256 = ?');
    this.listStmt = db.prepare('SELECT * FROM models ORDER BY id');
    this.listLruStmt = db.prepare('SELECT * FROM models ORDER BY COALESCE(last_used_at, created_at), created_at, id');
    this.insertStmt = db.prepare(
      `INSERT INTO models (id, name, sha256, size_bytes, source, signed_by, created_at, last_used_at)
       VALUES (@id, @name, @sha256, @size_bytes, @source, @signed_by, @created_at, @last_used_at)`,
    );
    this.signedByStmt = db.prepare('UPDATE models SET signed_by = ? WHERE id = ?');
    this.touchStmt = db.prepare('UPDATE models SET last_used_at = ? WHERE id = ?');
    this.deleteStmt = db.prepare('DELETE FROM models WHERE id = ?');
    this.shasStmt = db.prepare('SELECT sha256 FROM models');
  }

  get(id: string): ModelManifest | null {
    return (this.getStmt.get(id) as ModelManifest | undefined) ?? null;
  }

  bySha256(sha256: string): ModelManifest | null {
    return (this.bySha256Stmt.get(sha256) as ModelManifest | undefined) ?? null;
  }

  list(): ModelManifest[] {
    return this.listStmt.all() as ModelManifest[];
  }

  /** Least recently used first (never used: by creation time). */
  listLru(): ModelManifest[] {
    return this.listLruStmt.all() as ModelManifest[];
  }

  insert(m: ModelManifest): void {
    try {
      this.insertStmt.run(m);
    } catch (err) {
      const kind = constraintKind(err);
      if (kind === 'primarykey' || kind === 'unique') {
        throw new BkgError('CONFLICT', `model ${m.id} already exists with different contents`, { details: { id: m.id }, cause: err });
      }
      throw err;
    }
  }

  setSignedBy(id: string, fingerprint: string): void {
    this.signedByStmt.run(fingerprint, id);
  }

  touch(id: string, at: string): boolean {
    return this.touchStmt.run(at, id).changes > 0;
  }

  delete(id: string): boolean {
    return this.deleteStmt.run(id).changes > 0;
  }

  shaSet(): Set<string> {
    return new Set((this.shasStmt.all() as { sha256: string }[]).map((r) => r.sha256));
  }
}

export class TrustedKeyRepo implements TrustedKeyRepository {
  private readonly getStmt;
  private readonly listStmt;
  private readonly insertStmt;
  private readonly deleteStmt;

  constructor(db: Db) {
    this.getStmt = db.prepare('SELECT * FROM trusted_keys WHERE fingerprint = ?');
    this.listStmt = db.prepare('SELECT * FROM trusted_keys ORDER BY created_at, fingerprint');
    this.insertStmt = db.prepare(
      'INSERT INTO trusted_keys (fingerprint, name, public_key, created_at) VALUES (@fingerprint, @name, @public_key, @created_at) ON CONFLICT DO NOTHING',
    );
    this.deleteStmt = db.prepare('DELETE FROM trusted_keys WHERE fingerprint = ?');
  }

  get(fingerprint: string): TrustedKey | null {
    return (this.getStmt.get(fingerprint) as TrustedKey | undefined) ?? null;
  }

  list(): TrustedKey[] {
    return this.listStmt.all() as TrustedKey[];
  }

  /** Insert, or return the existing row for the same key. */
  ensure(k: TrustedKey): TrustedKey {
    this.insertStmt.run(k);
    const row = this.get(k.fingerprint);
    if (!row || row.public_key !== k.public_key) throw new BkgError('CONFLICT', `another key has fingerprint ${k.fingerprint}`, { details: { fingerprint: k.fingerprint } });
    return row;
  }

  delete(fingerprint: string): boolean {
    return this.deleteStmt.run(fingerprint).changes > 0;
  }
}

/** The columns update() may set, in the order they appear in its SET clause. */
const PATCHABLE = ['model_id', 'status', 'bytes_done', 'bytes_total', 'error'] as const;

export class DownloadJobRepo implements DownloadJobRepository {
  private readonly insertStmt;
  private readonly getStmt;
  private readonly failUnfinishedStmt;
  /** UPDATE statements by the set of columns they change (at most 2^5 of them), prepared on first use. */
  private readonly updateStmts = new Map<number, Statement>();

  constructor(private readonly db: Db, private readonly now: () => Date = () => new Date()) {
    this.insertStmt = db.prepare(
      `INSERT INTO download_jobs (id, model_id, source, status, bytes_done, bytes_total, error, created_at, updated_at)
       VALUES (@id, @model_id, @source, @status, @bytes_done, @bytes_total, @error, @created_at, @updated_at)`,
    );
    this.getStmt = db.prepare('SELECT * FROM download_jobs WHERE id = ?');
    this.failUnfinishedStmt = db.prepare(
      "UPDATE download_jobs SET status = 'failed', error = ?, updated_at = ? WHERE status IN ('queued', 'downloading', 'verifying')",
    );
  }

  create(input: { source: string; modelId: string | null }): DownloadJob {
    const at = this.now().toISOString();
    const job: DownloadJob = {
      id: newId('dl'), model_id: input.modelId, source: input.source, status: 'queued', bytes_done: 0, bytes_total: null, error: null, created_at: at, updated_at: at,
    };
    this.insertStmt.run(job);
    return job;
  }

  get(id: string): DownloadJob | null {
    return (this.getStmt.get(id) as DownloadJob | undefined) ?? null;
  }

  update(id: string, patch: DownloadJobPatch): void {
    const cols = PATCHABLE.filter((c) => Object.hasOwn(patch, c));
    if (cols.length === 0) return;
    const params: Record<string, unknown> = { id, updated_at: this.now().toISOString() };
    for (const c of cols) params[c] = patch[c];
    this.updateStatement(cols).run(params);
  }

  /** Jobs left unfinished by a previous daemon: marked failed. Returns how many. */
  failUnfinished(reason: string): number {
    return this.failUnfinishedStmt.run(reason, this.now().toISOString()).changes;
  }

  private updateStatement(cols: readonly (typeof PATCHABLE)[number][]): Statement {
    const key = cols.reduce((bits, c) => bits | (1 << PATCHABLE.indexOf(c)), 0);
    let stmt = this.updateStmts.get(key);
    if (!stmt) {
      const set = [...cols.map((c) => `${c} = @${c}`), 'updated_at = @updated_at'].join(', ');
      stmt = this.db.prepare(`UPDATE download_jobs SET ${set} WHERE id = @id`);
      this.updateStmts.set(key, stmt);
    }
    return stmt;
  }
}
