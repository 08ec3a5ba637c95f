/** The registry's tables (migration 4): models, trusted_keys, download_jobs. */
import { BkgError } from '../../api/errors.js';
import type { Db } from '../../store/db.js';
import { newId } from '../../store/ids.js';
import { constraintKind } from '../../store/sqlite-errors.js';
import type { ModelManifest } from '../types.js';

export const JOB_STATUSES = ['queued', 'downloading', 'verifying', 'done', 'failed'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** A download job as stored and as the API shows it. */
export interface DownloadJob {
  id: string;
  model_id: string | null;
  /** The source as given (URL or local path). */
  source: string;
  status: JobStatus;
  bytes_done: number;
  bytes_total: number | null;
  /** "CODE: message" when the job failed. */
  error: string | null;
  created_at: string;
  updated_at: string;
}

export interface TrustedKey {
  fingerprint: string;
  name: string;
  /** Raw 32-byte Ed25519 public key, base64. */
  public_key: string;
  created_at: string;
}

export class ModelRepo {
  constructor(private readonly db: Db) {}

  get(id: string): ModelManifest | null {
    return (this.db.prepare('SELECT * FROM models WHERE id = ?').get(id) as ModelManifest | undefined) ?? null;
  }

  bySha256(sha256: string): ModelManifest | null {
    return (this.db.prepare('SELECT * FROM models WHERE sha256 = ?').get(sha256) as ModelManifest | undefined) ?? null;
  }

  list(): ModelManifest[] {
    return this.db.prepare('SELECT * FROM models ORDER BY id').all() as ModelManifest[];
  }

  /** Least recently used first (never used: by creation time). */
  listLru(): ModelManifest[] {
    return this.db.prepare('SELECT * FROM models ORDER BY COALESCE(last_used_at, created_at), created_at, id').all() as ModelManifest[];
  }

  insert(m: ModelManifest): void {
    try {
      this.db
        .prepare(
          `INSERT INTO models (id, name, sha256, size_bytes, source, signed_by, created_at, last_used_at)
           VALUES (@id, @name, @sha256, @size_bytes, @source, @signed_by, @created_at, @last_used_at)`,
        )
        .run(m);
    } catch (err) {
      const kind = constraintKind(err);
      if (kind === 'primarykey' || kind === 'unique') {
        throw new BkgError('CONFLICT', `model ${m.id} already exists with different contents`, { details: { id: m.id }, cause: err });
      }
      throw err;
    }
  }

  setSignedBy(id: string, fingerprint: string): void {
    this.db.prepare('UPDATE models SET signed_by = ? WHERE id = ?').run(fingerprint, id);
  }

  touch(id: string, at: string): boolean {
    return this.db.prepare('UPDATE models SET last_used_at = ? WHERE id = ?').run(at, id).changes > 0;
  }

  delete(id: string): boolean {
    return this.db.prepare('DELETE FROM models WHERE id = ?').run(id).changes > 0;
  }

  shaSet(): Set<string> {
    return new Set((this.db.prepare('SELECT sha256 FROM models').all() as { sha256: string }[]).map((r) => r.sha256));
  }
}

export class TrustedKeyRepo {
  constructor(private readonly db: Db) {}

  get(fingerprint: string): TrustedKey | null {
    return (this.db.prepare('SELECT * FROM trusted_keys WHERE fingerprint = ?').get(fingerprint) as TrustedKey | undefined) ?? null;
  }

  list(): TrustedKey[] {
    return this.db.prepare('SELECT * FROM trusted_keys ORDER BY created_at, fingerprint').all() as TrustedKey[];
  }

  /** Insert, or return the existing row for the same key. */
  ensure(k: TrustedKey): TrustedKey {
    this.db.prepare('INSERT INTO trusted_keys (fingerprint, name, public_key, created_at) VALUES (@fingerprint, @name, @public_key, @created_at) ON CONFLICT DO NOTHING').run(k);
    const row = this.get(k.fingerprint);
    if (!row || row.public_key !== k.public_key) throw new BkgError('CONFLICT', `another key has fingerprint ${k.fingerprint}`, { details: { fingerprint: k.fingerprint } });
    return row;
  }

  delete(fingerprint: string): boolean {
    return this.db.prepare('DELETE FROM trusted_keys WHERE fingerprint = ?').run(fingerprint).changes > 0;
  }
}

export class JobRepo {
  constructor(private readonly db: Db, private readonly now: () => Date) {}

  create(input: { source: string; modelId: string | null }): DownloadJob {
    const at = this.now().toISOString();
    const job: DownloadJob = {
      id: newId('dl'), model_id: input.modelId, source: input.source, status: 'queued', bytes_done: 0, bytes_total: null, error: null, created_at: at, updated_at: at,
    };
    this.db
      .prepare(
        `INSERT INTO download_jobs (id, model_id, source, status, bytes_done, bytes_total, error, created_at, updated_at)
         VALUES (@id, @model_id, @source, @status, @bytes_done, @bytes_total, @error, @created_at, @updated_at)`,
      )
      .run(job);
    return job;
  }

  get(id: string): DownloadJob | null {
    return (this.db.prepare('SELECT * FROM download_jobs WHERE id = ?').get(id) as DownloadJob | undefined) ?? null;
  }

  update(id: string, patch: Partial<Pick<DownloadJob, 'model_id' | 'status' | 'bytes_done' | 'bytes_total' | 'error'>>): void {
    const cols = Object.keys(patch).filter((k) => ['model_id', 'status', 'bytes_done', 'bytes_total', 'error'].includes(k));
    if (cols.length === 0) return;
    const set = [...cols.map((c) => `${c} = @${c}`), 'updated_at = @updated_at'].join(', ');
    this.db.prepare(`UPDATE download_jobs SET ${set} WHERE id = @id`).run({ ...patch, id, updated_at: this.now().toISOString() });
  }

  /** Jobs left unfinished by a previous daemon: marked failed. Returns how many. */
  failUnfinished(reason: string): number {
    return this.db
      .prepare("UPDATE download_jobs SET status = 'failed', error = ?, updated_at = ? WHERE status IN ('queued', 'downloading', 'verifying')")
      .run(reason, this.now().toISOString()).changes;
  }
}
