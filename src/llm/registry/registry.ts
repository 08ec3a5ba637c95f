/**
 * The model registry: a content-addressed cache of verified GGUF models under $BKG_HOME/models.
 *
 *   models/blobs/sha256-<hex>      verified models (dirs 0700, files 0600), named by their digest
 *   models/partial/<job>.part      a download in progress (never visible as a model)
 *   models/partial/<job>.verify/   the finished download alone in a directory, while a sandbox verifies it
 *
 * A pull streams the source into the .part file (HTTP resumes after a dropped connection), then a
 * throwaway sandbox without network hashes the file, checks its GGUF structure and, when a
 * signature is given, verifies it with the trusted Ed25519 keys. Only a file that passed is renamed
 * into blobs/ and given a manifest row, in one synchronous step: a model that fails verification
 * never becomes visible, and an interrupted download leaves only a partial file (gc removes it).
 */
import { closeSync, existsSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { asBkgError, BkgError } from '../../api/errors.js';
import type { Logger } from '../../log.js';
import type { Db } from '../../store/db.js';
import { resolveInterpreter } from '../../runtime/runtimes.js';
import type { SandboxRuntime } from '../../runtime/runtime.js';
import type { ModelLookup, ModelManifest } from '../types.js';
import { copyLocal, downloadHttp, type DownloadTuning } from './download.js';
import { fingerprintOf, parsePublicKey, parseSignature } from './keys.js';
import { isModelId, isSha256, modelIdFrom, parseSha256, parseSource, redactSource, sourceFileName, type ModelSource } from './names.js';
import { JobRepo, ModelRepo, TrustedKeyRepo, type DownloadJob, type TrustedKey } from './store.js';
import { verifyInSandbox, type VerifyReport } from './verify.js';

export interface ModelRegistryOptions {
  db: Db;
  /** BKG_HOME: models live under $home/models. */
  home: string;
  /** Runs the verifier (a plain SandboxRuntime: one command in a throwaway sandbox). */
  runtime: SandboxRuntime;
  log: Logger;
  /** gc evicts least-recently-used models until the cache holds at most this many bytes. */
  capBytes?: number;
  /** The node binary the verifier runs with; default: `node` from the sandbox-visible bin dirs. */
  nodePath?: string;
  /** Retries, backoff and idle timeout of HTTP downloads. */
  download?: DownloadTuning;
  /** Refuse sources larger than this (default 1 TiB). */
  maxModelBytes?: number;
  /** Background download jobs that run at once (default 2); more wait as 'queued'. */
  concurrency?: number;
  /** Memory limit of the verification sandbox (default 256 MiB). */
  verifyMemoryBytes?: number;
  now?: () => Date;
}

export type PullPhase = 'downloading' | 'verifying' | 'done';

export interface PullProgress {
  phase: PullPhase;
  bytesDone: number;
  bytesTotal: number | null;
}

export interface PullOptions {
  /** An http(s) URL or an absolute local path. */
  source: string;
  /** Model name; the id is derived from it (default: the source's file name without .gguf). */
  name?: string;
  /** Expected sha256 (hex): anything else fails verification. */
  sha256?: string;
  /** Detached Ed25519 signature over the file's raw 32-byte sha256 digest: a path, or the bytes (raw 64 or base64 text). */
  sig?: string | Uint8Array;
  onProgress?: (p: PullProgress) => void;
  /** The sandboxed verifier's report, once the file passed. */
  onVerified?: (report: VerifyReport) => void;
  signal?: AbortSignal;
}

export type StartDownloadOptions = Omit<PullOptions, 'onProgress' | 'onVerified' | 'signal'>;

export interface StartedDownload {
  job_id: string;
  /** The id the model will get (a pull of a file already cached under another id returns that one). */
  model_id: string;
}

export interface GcRemoved {
  kind: 'model' | 'blob' | 'partial';
  name: string;
  bytes: number;
}

export interface GcResult {
  removed: GcRemoved[];
  freed_bytes: number;
}

export interface TrustStore {
  /** Trust an Ed25519 public key (PEM, base64 raw or DER, or ssh-ed25519); idempotent per key. */
  add(name: string, publicKey: string): TrustedKey;
  list(): TrustedKey[];
  /** NOT_FOUND when no key has this fingerprint. */
  remove(fingerprint: string): void;
}

interface Plan {
  src: ModelSource;
  source: string;
  id: string;
  name: string;
  /** The id came from the file name, not an explicit name. */
  derivedId: boolean;
  sha256?: string;
  sig?: Buffer;
}

const DAY_MS = 24 * 3600 * 1000;
const PROGRESS_WRITE_MS = 250;
const MAX_SIG_FILE = 4096;

function conflict(message: string, details: Record<string, unknown>): BkgError {
  return new BkgError('CONFLICT', message, { details, hint: 'Pass another name, or remove the existing model first.' });
}

function sizeOf(path: string): number {
  try {
    const st = lstatSync(path);
    return st.isDirectory() ? dirSize(path) : st.size;
  } catch {
    return 0;
  }
}

function dirSize(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir)) total += sizeOf(join(dir, e));
  return total;
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export class ModelRegistry implements ModelLookup {
  readonly trust: TrustStore;
  private readonly db: Db;
  private readonly log: Logger;
  private readonly runtime: SandboxRuntime;
  private readonly models: ModelRepo;
  private readonly keys: TrustedKeyRepo;
  private readonly jobs: JobRepo;
  private readonly now: () => Date;
  private readonly blobsDir: string;
  private readonly partialDir: string;
  private readonly active = new Map<string, { controller: AbortController; done: Promise<void> }>();
  /** Jobs executing now (pull and startDownload): gc never touches their partial files. */
  private readonly inflight = new Set<string>();
  private readonly waiting: (() => void)[] = [];
  private running = 0;
  private nodePath: string | undefined;
  private closed = false;

  constructor(private readonly o: ModelRegistryOptions) {
    this.db = o.db;
    this.log = o.log.child({ component: 'model-registry' });
    this.runtime = o.runtime;
    this.now = o.now ?? (() => new Date());
    this.models = new ModelRepo(o.db);
    this.keys = new TrustedKeyRepo(o.db);
    this.jobs = new JobRepo(o.db, this.now);
    this.nodePath = o.nodePath;
    const modelsDir = join(o.home, 'models');
    this.blobsDir = join(modelsDir, 'blobs');
    this.partialDir = join(modelsDir, 'partial');
    for (const dir of [modelsDir, this.blobsDir, this.partialDir]) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      chmodSync(dir, 0o700);
    }
    const stale = this.jobs.failUnfinished('INTERNAL: interrupted (the daemon stopped before the job finished)');
    if (stale) this.log.warn({ jobs: stale }, 'marked unfinished model downloads as failed');
    this.trust = {
      add: (name, publicKey) => this.trustAdd(name, publicKey),
      list: () => this.keys.list(),
      remove: (fingerprint) => {
        if (!this.keys.delete(fingerprint)) throw new BkgError('NOT_FOUND', `no trusted key with fingerprint ${fingerprint}`, { details: { fingerprint } });
        this.log.info({ fingerprint }, 'untrusted model signing key');
      },
    };
  }

  // ---- ModelLookup ----

  get(id: string): ModelManifest | null {
    return this.models.get(id);
  }

  blobPath(m: ModelManifest): string {
    if (!isSha256(m.sha256)) throw new BkgError('INTERNAL', `model ${m.id} has an invalid sha256`);
    return join(this.blobsDir, `sha256-${m.sha256}`);
  }

  touch(id: string): void {
    this.models.touch(id, this.now().toISOString());
  }

  // ---- queries ----

  list(): ModelManifest[] {
    return this.models.list();
  }

  job(id: string): DownloadJob | null {
    return this.jobs.get(id);
  }

  // ---- pulling ----

  /** Download (or copy), verify in a sandbox, and add a model. Pulling a cached file again is idempotent. */
  async pull(opts: PullOptions): Promise<ModelManifest> {
    this.ensureOpen();
    const plan = this.plan(opts);
    const job = this.jobs.create({ source: plan.source, modelId: plan.id });
    return this.execute(job.id, plan, opts);
  }

  /** Start a pull in the background; follow it with `job(job_id)`. Bad arguments throw at once. */
  startDownload(opts: StartDownloadOptions): StartedDownload {
    this.ensureOpen();
    const plan = this.plan(opts);
    const job = this.jobs.create({ source: plan.source, modelId: plan.id });
    const controller = new AbortController();
    const done = this.queued(() => this.execute(job.id, plan, { signal: controller.signal })).then(
      (m) => this.log.info({ job: job.id, model: m.id }, 'model download finished'),
      (err: unknown) => this.log.warn({ job: job.id, err: asBkgError(err).message }, 'model download failed'),
    );
    this.active.set(job.id, { controller, done });
    void done.finally(() => this.active.delete(job.id));
    return { job_id: job.id, model_id: plan.id };
  }

  /** Pull a registered model again from its source, pinned to its digest (restores a missing blob). */
  redownload(id: string): StartedDownload {
    const m = this.models.get(id);
    if (!m) throw new BkgError('NOT_FOUND', `no model ${id}`, { details: { id } });
    return this.startDownload({ source: m.source, name: m.id, sha256: m.sha256 });
  }

  /** Remove a model: its manifest, then its blob. */
  remove(id: string): ModelManifest {
    const m = this.models.get(id);
    if (!m) throw new BkgError('NOT_FOUND', `no model ${id}`, { details: { id } });
    this.models.delete(id);
    rmSync(this.blobPath(m), { force: true });
    this.log.info({ model: id, sha256: m.sha256 }, 'model removed');
    return m;
  }

  /**
   * Delete blobs without a manifest and partial downloads older than a day (never those of a
   * running job), then evict least-recently-used models until the cache fits capBytes.
   */
  gc(opts: { capBytes?: number } = {}): GcResult {
    const removed: GcRemoved[] = [];
    const known = this.models.shaSet();
    for (const entry of readdirSync(this.blobsDir)) {
      const m = /^sha256-([0-9a-f]{64})$/.exec(entry);
      if (m?.[1] && known.has(m[1])) continue;
      const path = join(this.blobsDir, entry);
      const bytes = sizeOf(path);
      rmSync(path, { recursive: true, force: true });
      removed.push({ kind: 'blob', name: entry, bytes });
    }
    const cutoff = this.now().getTime() - DAY_MS;
    for (const entry of readdirSync(this.partialDir)) {
      const job = /^(.+?)\.(part|verify)$/.exec(entry)?.[1];
      if (job && (this.active.has(job) || this.inflight.has(job))) continue;
      const path = join(this.partialDir, entry);
      let mtime: number;
      try {
        mtime = lstatSync(path).mtimeMs;
      } catch {
        continue;
      }
      if (mtime > cutoff) continue;
      const bytes = sizeOf(path);
      rmSync(path, { recursive: true, force: true });
      removed.push({ kind: 'partial', name: entry, bytes });
    }
    const cap = opts.capBytes ?? this.o.capBytes;
    if (cap !== undefined) {
      const lru = this.models.listLru();
      let total = lru.reduce((n, m) => n + m.size_bytes, 0);
      for (const m of lru) {
        if (total <= cap) break;
        this.remove(m.id);
        total -= m.size_bytes;
        removed.push({ kind: 'model', name: m.id, bytes: m.size_bytes });
      }
    }
    const freed = removed.reduce((n, r) => n + r.bytes, 0);
    if (removed.length) this.log.info({ removed: removed.length, freed }, 'model cache gc');
    return { removed, freed_bytes: freed };
  }

  /** Cancel running downloads and wait for them to end. */
  async close(): Promise<void> {
    this.closed = true;
    for (const { controller } of this.active.values()) controller.abort();
    await Promise.allSettled([...this.active.values()].map((a) => a.done));
  }

  // ---- internals ----

  private ensureOpen(): void {
    if (this.closed) throw new BkgError('DAEMON_UNAVAILABLE', 'the model registry is shutting down');
  }

  private trustAdd(name: string, publicKey: string): TrustedKey {
    if (typeof name !== 'string' || !name.trim() || name.length > 128) throw new BkgError('INVALID_ARGUMENT', 'name: must be 1-128 characters', { details: { field: 'name' } });
    const raw = parsePublicKey(publicKey);
    const key = this.keys.ensure({ fingerprint: fingerprintOf(raw), name: name.trim(), public_key: raw.toString('base64'), created_at: this.now().toISOString() });
    this.log.info({ fingerprint: key.fingerprint, name: key.name }, 'trusted model signing key');
    return key;
  }

  private readSig(sig: string | Uint8Array): Buffer {
    if (typeof sig !== 'string') return parseSignature(sig);
    let st;
    try {
      st = lstatSync(sig);
    } catch {
      throw new BkgError('INVALID_ARGUMENT', `sig: cannot read ${sig}`, { details: { field: 'sig' } });
    }
    if (!st.isFile() || st.size > MAX_SIG_FILE) throw new BkgError('INVALID_ARGUMENT', `sig: ${sig} is not a signature file`, { details: { field: 'sig' } });
    return parseSignature(readFileSync(sig));
  }

  /** Check everything that can be checked before downloading. */
  private plan(opts: StartDownloadOptions): Plan {
    const src = parseSource(opts.source);
    if (opts.name !== undefined && (typeof opts.name !== 'string' || opts.name.length > 128)) {
      throw new BkgError('INVALID_ARGUMENT', 'name: must be at most 128 characters', { details: { field: 'name' } });
    }
    const file = sourceFileName(src);
    const derivedId = opts.name === undefined;
    const id = derivedId ? modelIdFrom(file || 'model', { fromFile: true }) : modelIdFrom(opts.name as string);
    if (!isModelId(id)) throw new BkgError('INVALID_ARGUMENT', `name: ${JSON.stringify(id)} is not a valid model id`, { details: { field: 'name' } });
    const plan: Plan = { src, source: opts.source, id, name: opts.name?.trim() || file || id, derivedId };
    if (opts.sha256 !== undefined) plan.sha256 = parseSha256(opts.sha256);
    if (opts.sig !== undefined) plan.sig = this.readSig(opts.sig);
    if (plan.sha256) {
      const taken = this.models.get(id);
      if (taken && taken.sha256 !== plan.sha256) throw conflict(`model id ${id} is taken by a different file (sha256 ${taken.sha256})`, { id });
      const same = this.models.bySha256(plan.sha256);
      if (same && same.id !== id && !derivedId) throw conflict(`this file is already registered as model ${same.id}`, { id: same.id });
    }
    return plan;
  }

  private async queued<T>(fn: () => Promise<T>): Promise<T> {
    const limit = Math.max(1, this.o.concurrency ?? 2);
    if (this.running >= limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    try {
      return await fn();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  private async execute(jobId: string, plan: Plan, hooks: Pick<PullOptions, 'onProgress' | 'onVerified' | 'signal'>): Promise<ModelManifest> {
    const part = join(this.partialDir, `${jobId}.part`);
    const verifyDir = join(this.partialDir, `${jobId}.verify`);
    const where = redactSource(plan.source);
    let lastWrite = 0;
    let lastDone = 0;
    const progress = (phase: PullPhase, done: number, total: number | null, force = false) => {
      lastDone = done;
      hooks.onProgress?.({ phase, bytesDone: done, bytesTotal: total });
      const t = Date.now();
      if (force || t - lastWrite >= PROGRESS_WRITE_MS) {
        lastWrite = t;
        this.jobs.update(jobId, { bytes_done: done, bytes_total: total });
      }
    };
    this.inflight.add(jobId);
    try {
      if (hooks.signal?.aborted) throw new BkgError('DOWNLOAD_FAILED', 'the download was cancelled');
      if (plan.sha256 && !plan.sig) {
        const cached = this.models.bySha256(plan.sha256);
        if (cached && existsSync(this.blobPath(cached)) && (cached.id === plan.id || plan.derivedId)) {
          this.jobs.update(jobId, { status: 'done', model_id: cached.id, bytes_done: cached.size_bytes, bytes_total: cached.size_bytes });
          hooks.onProgress?.({ phase: 'done', bytesDone: cached.size_bytes, bytesTotal: cached.size_bytes });
          return cached;
        }
      }
      this.jobs.update(jobId, { status: 'downloading' });
      this.log.info({ job: jobId, source: where, model: plan.id }, 'model download started');
      const common = {
        dest: part,
        log: this.log,
        maxBytes: this.o.maxModelBytes ?? 1024 ** 4,
        onProgress: (done: number, total: number | null) => progress('downloading', done, total),
        ...(hooks.signal ? { signal: hooks.signal } : {}),
      };
      const fetched = plan.src.kind === 'http' ? await downloadHttp(plan.src.url, { ...common, ...this.o.download }) : await copyLocal(plan.src.path, common);
      fsyncPath(part);
      progress('verifying', fetched.bytes, fetched.bytes, true);
      this.jobs.update(jobId, { status: 'verifying' });
      if (fetched.attempts > 1) this.log.info({ job: jobId, attempts: fetched.attempts, resumed: fetched.resumed }, 'model download resumed after interruptions');

      mkdirSync(verifyDir, { mode: 0o700 });
      const candidate = join(verifyDir, 'model.gguf');
      renameSync(part, candidate);
      this.nodePath ??= resolveInterpreter('node', 'node');
      const report = await verifyInSandbox({
        runtime: this.runtime,
        log: this.log,
        nodePath: this.nodePath,
        file: candidate,
        ...(plan.sha256 ? { expectedSha256: plan.sha256 } : {}),
        ...(plan.sig ? { signature: plan.sig, trustedKeys: this.keys.list().map((k) => ({ fingerprint: k.fingerprint, key: k.public_key })) } : {}),
        ...(this.o.verifyMemoryBytes ? { memoryBytes: this.o.verifyMemoryBytes } : {}),
        ...(hooks.signal ? { signal: hooks.signal } : {}),
      });
      hooks.onVerified?.(report);
      const manifest = this.commit(plan, report, candidate);
      this.jobs.update(jobId, { status: 'done', model_id: manifest.id, bytes_done: report.size, bytes_total: report.size });
      hooks.onProgress?.({ phase: 'done', bytesDone: report.size, bytesTotal: report.size });
      this.log.info({ job: jobId, model: manifest.id, sha256: manifest.sha256, signedBy: manifest.signed_by, sandbox: report.sandbox.id }, 'model verified and added');
      return manifest;
    } catch (err) {
      const e = asBkgError(err);
      this.jobs.update(jobId, { status: 'failed', error: `${e.code}: ${e.message}`, bytes_done: lastDone });
      throw e;
    } finally {
      rmSync(part, { force: true });
      rmSync(verifyDir, { recursive: true, force: true });
      this.inflight.delete(jobId);
    }
  }

  /** Move a verified file into blobs/ and record it, in one synchronous step (gc cannot interleave). */
  private commit(plan: Plan, report: VerifyReport, file: string): ModelManifest {
    const blob = join(this.blobsDir, `sha256-${report.sha256}`);
    const manifest = this.db.transaction((): ModelManifest => {
      const same = this.models.bySha256(report.sha256);
      if (same) {
        if (same.id !== plan.id && !plan.derivedId) throw conflict(`this file is already registered as model ${same.id}`, { id: same.id });
        renameSync(file, blob);
        if (report.signedBy && !same.signed_by) {
          this.models.setSignedBy(same.id, report.signedBy);
          return { ...same, signed_by: report.signedBy };
        }
        return same;
      }
      const taken = this.models.get(plan.id);
      if (taken) throw conflict(`model id ${plan.id} is taken by a different file (sha256 ${taken.sha256})`, { id: plan.id });
      const m: ModelManifest = {
        id: plan.id,
        name: plan.name,
        sha256: report.sha256,
        size_bytes: report.size,
        source: plan.source,
        signed_by: report.signedBy,
        created_at: this.now().toISOString(),
        last_used_at: null,
      };
      renameSync(file, blob);
      try {
        this.models.insert(m);
      } catch (err) {
        rmSync(blob, { force: true });
        throw err;
      }
      return m;
    })();
    try {
      fsyncPath(this.blobsDir);
    } catch (err) {
      this.log.warn({ err }, 'could not fsync the blobs directory');
    }
    return manifest;
  }
}
