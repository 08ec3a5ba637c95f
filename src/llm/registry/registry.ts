/**
 * The model registry: a content-addressed cache of verified GGUF models under $BKG_HOME/models
 * (layout: model-files.ts).
 *
 * A pull streams the source into a file alone in a verifier sandbox's directory (HTTP resumes
 * after a dropped connection), hashing it as it is written; the sandbox, without network, checks
 * its GGUF structure, and the registry checks the digest and, when a signature is given, verifies
 * it with the trusted Ed25519 keys. Only a file that passed is renamed into blobs/ and given a
 * manifest row, in one synchronous step: a model that fails verification never becomes visible,
 * and an interrupted download leaves only a partial file (gc removes it after a day).
 * This class holds the jobs (queued and running), the queries, removal and gc; a pull's own steps
 * are in pull-plan.ts (before downloading) and pull.ts (download, verify, commit).
 */
import { rmSync } from 'node:fs';
import { asBkgError, BkgError } from '../../api/errors.js';
import type { Logger } from '../../log.js';
import type { DownloadJobRepository, ModelRepository } from '../../store/repositories.js';
import type { DownloadJob } from '../../store/types.js';
import { resolveInterpreter } from '../../runtime/runtimes.js';
import type { ModelLookup, ModelManifest } from '../types.js';
import { ModelFiles } from './model-files.js';
import { executePull, type PullContext } from './pull.js';
import { VerifierSpare } from './verifier-spare.js';
import { startVerifier } from './verify.js';
import { planPull, type PullPlan } from './pull-plan.js';
import { trustStore } from './trust.js';
import type { GcRemoved, GcResult, ModelRegistryOptions, PullHooks, PullOptions, StartDownloadOptions, StartedDownload, TrustStore } from './types.js';

const DAY_MS = 24 * 3600 * 1000;
/** A spare verifier not taken for this long ends (its sandbox holds a node process meanwhile). */
const SPARE_IDLE_MS = 10 * 60 * 1000;

export class ModelRegistry implements ModelLookup {
  readonly trust: TrustStore;
  private readonly log: Logger;
  private readonly models: ModelRepository;
  private readonly jobs: DownloadJobRepository;
  private readonly now: () => Date;
  private readonly files: ModelFiles;
  private readonly pulls: PullContext;
  private readonly verifiers: VerifierSpare;
  private readonly active = new Map<string, { controller: AbortController; done: Promise<void> }>();
  /** Jobs executing now (pull and startDownload): gc never touches their partial files. */
  private readonly inflight = new Set<string>();
  private readonly waiting: (() => void)[] = [];
  private running = 0;
  private nodePath: string | undefined;
  private closed = false;

  constructor(private readonly o: ModelRegistryOptions) {
    this.log = o.log.child({ component: 'model-registry' });
    this.now = o.now ?? (() => new Date());
    this.models = o.store.models;
    this.jobs = o.store.downloadJobs;
    this.nodePath = o.nodePath;
    this.files = new ModelFiles(o.home);
    this.verifiers = new VerifierSpare({
      dir: this.files.verifierDir,
      log: this.log,
      idleMs: o.spareVerifierIdleMs ?? SPARE_IDLE_MS,
      start: (file) =>
        startVerifier({ runtime: o.runtime, log: this.log, nodePath: (this.nodePath ??= resolveInterpreter('node', 'node')), file, ...(o.verifyMemoryBytes ? { memoryBytes: o.verifyMemoryBytes } : {}) }),
    });
    this.pulls = {
      store: o.store,
      files: this.files,
      log: this.log,
      now: this.now,
      verifiers: this.verifiers,
      options: o,
      changed: (id) => this.changed(id),
    };
    const stale = this.jobs.failUnfinished('INTERNAL: interrupted (the daemon stopped before the job finished)');
    if (stale) this.log.warn({ jobs: stale }, 'marked unfinished model downloads as failed');
    this.trust = trustStore(o.store.trustedKeys, this.log, this.now);
  }

  // ---- ModelLookup ----

  get(id: string): ModelManifest | null {
    return this.models.get(id);
  }

  blobPath(m: ModelManifest): string {
    return this.files.blobPath(m);
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
    const plan = planPull(opts, this.models);
    const job = this.jobs.create({ source: plan.source, modelId: plan.id });
    this.o.onJob?.(job);
    return this.execute(job.id, plan, opts);
  }

  /** Start a pull in the background; follow it with `job(job_id)`. Bad arguments throw at once. */
  startDownload(opts: StartDownloadOptions): StartedDownload {
    this.ensureOpen();
    const plan = planPull(opts, this.models);
    const job = this.jobs.create({ source: plan.source, modelId: plan.id });
    this.o.onJob?.(job);
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
    const cutoff = this.now().getTime() - DAY_MS;
    const removed: GcRemoved[] = this.files.sweep(this.models.shaSet(), cutoff, (job) => this.active.has(job) || this.inflight.has(job), (slot) => this.verifiers.holds(slot));
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
    // first: the pulls cancelled below start no new spare as they end
    const spare = this.verifiers.close();
    for (const { controller } of this.active.values()) controller.abort();
    await Promise.allSettled([...this.active.values()].map((a) => a.done));
    await spare;
  }

  // ---- internals ----

  /** Tell onJob a job's row as it is now. */
  private changed(id: string): void {
    if (!this.o.onJob) return;
    const job = this.jobs.get(id);
    if (job) this.o.onJob(job);
  }

  private ensureOpen(): void {
    if (this.closed) throw new BkgError('DAEMON_UNAVAILABLE', 'the model registry is shutting down');
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

  private async execute(jobId: string, plan: PullPlan, hooks: PullHooks): Promise<ModelManifest> {
    this.inflight.add(jobId);
    try {
      return await executePull(this.pulls, jobId, plan, hooks);
    } finally {
      this.inflight.delete(jobId);
    }
  }
}
