/**
 * One pull, start to end: stream the source into a file alone in a directory of its own, hashing
 * it on the way, with a verifier sandbox over that directory waiting (a spare started before the
 * pull, verifier-spare.ts, or else one started with the download, its start-up overlapping it).
 * When the file is complete, the sandbox checks its GGUF structure while the file is fsynced; the
 * registry checks the digest (of the bytes as they were written, file-appender.ts) and the
 * signature, and then the file moves into blobs/ and its manifest is recorded in one synchronous
 * step. A file that fails verification never becomes visible; whatever happens, the partial files
 * are removed.
 */
import { existsSync, renameSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { asBkgError, BkgError } from '../../api/errors.js';
import type { Logger } from '../../log.js';
import type { DownloadJobPatch } from '../../store/types.js';
import type { ModelManifest } from '../types.js';
import { copyLocal, createFileDigest, downloadHttp } from './download.js';
import { fsyncPath, type ModelFiles } from './model-files.js';
import { redactSource } from './names.js';
import { conflict, type PullPlan } from './pull-plan.js';
import type { ModelFetcher, ModelRegistryOptions, ModelRegistryStore, PullHooks, PullPhase } from './types.js';
import type { VerifierSlot, VerifierSpare } from './verifier-spare.js';
import type { VerifyReport } from './verify.js';

/** What a pull works with: the registry's tables, files, sandbox runner and settings. */
export interface PullContext {
  store: ModelRegistryStore;
  files: ModelFiles;
  log: Logger;
  now: () => Date;
  /** Verifier sandboxes: the spare started ahead, or a new one. */
  verifiers: VerifierSpare;
  options: Pick<ModelRegistryOptions, 'maxModelBytes' | 'download'>;
  /** A job's row changed (ModelRegistryOptions.onJob). */
  changed: (jobId: string) => void;
}

const PROGRESS_WRITE_MS = 250;

/** Run the pull of download job `jobId`: the job row follows along, and ends 'done' or 'failed'. */
export async function executePull(c: PullContext, jobId: string, plan: PullPlan, hooks: PullHooks): Promise<ModelManifest> {
  const { store, files, log } = c;
  // every write of the job's row is told (progress is written at most every PROGRESS_WRITE_MS)
  const jobs = {
    update(id: string, patch: DownloadJobPatch): void {
      store.downloadJobs.update(id, patch);
      c.changed(id);
    },
  };
  const where = redactSource(plan.source);
  let lastWrite = 0;
  let lastDone = 0;
  let slot: VerifierSlot | null = null;
  let ok = false;
  const progress = (phase: PullPhase, done: number, total: number | null, force = false) => {
    lastDone = done;
    hooks.onProgress?.({ phase, bytesDone: done, bytesTotal: total });
    const t = Date.now();
    if (force || t - lastWrite >= PROGRESS_WRITE_MS) {
      lastWrite = t;
      jobs.update(jobId, { bytes_done: done, bytes_total: total });
    }
  };
  try {
    if (hooks.signal?.aborted) throw new BkgError('DOWNLOAD_FAILED', 'the download was cancelled');
    if (plan.sha256 && !plan.sig) {
      const cached = store.models.bySha256(plan.sha256);
      if (cached && existsSync(files.blobPath(cached)) && (cached.id === plan.id || plan.derivedId)) {
        jobs.update(jobId, { status: 'done', model_id: cached.id, bytes_done: cached.size_bytes, bytes_total: cached.size_bytes });
        hooks.onProgress?.({ phase: 'done', bytesDone: cached.size_bytes, bytesTotal: cached.size_bytes });
        return cached;
      }
    }
    jobs.update(jobId, { status: 'downloading' });
    log.info({ job: jobId, source: where, model: plan.id }, 'model download started');
    // The file is downloaded straight into its verifier's directory: the spare's, or a new one's.
    slot = c.verifiers.take() ?? c.verifiers.open();
    const candidate = slot.file;
    const digest = createFileDigest();
    const common = {
      dest: candidate,
      digest,
      log,
      maxBytes: c.options.maxModelBytes ?? 1024 ** 4,
      onProgress: (done: number, total: number | null) => progress('downloading', done, total),
      ...(hooks.signal ? { signal: hooks.signal } : {}),
    };
    const fetched = plan.fetch ? await fetchThenCopy(plan.fetch, common) : plan.src?.kind === 'http' ? await downloadHttp(plan.src.url, { ...common, ...c.options.download }) : await copyLocal(plan.src?.path ?? '', common);
    if (digest.bytes !== fetched.bytes) await digest.rehash(candidate, fetched.bytes);
    progress('verifying', fetched.bytes, fetched.bytes, true);
    jobs.update(jobId, { status: 'verifying' });
    if (fetched.attempts > 1) log.info({ job: jobId, attempts: fetched.attempts, resumed: fetched.resumed }, 'model download resumed after interruptions');

    // A verifier that ended while it waited (a spare's sandbox killed meanwhile) says nothing of the
    // file: a new one checks it.
    if (slot.run.ended) slot = c.verifiers.renew(slot);
    // The structure check in the sandbox and the fsync of the file's tail, side by side.
    const finishing = slot.run.finish(
      { sha256: digest.hex(), size: fetched.bytes },
      {
        ...(plan.sha256 ? { expectedSha256: plan.sha256 } : {}),
        ...(plan.sig ? { signature: plan.sig, trustedKeys: store.trustedKeys.list().map((k) => ({ fingerprint: k.fingerprint, key: k.public_key })) } : {}),
        ...(hooks.signal ? { signal: hooks.signal } : {}),
      },
    );
    const [checked, synced] = await Promise.allSettled([finishing, fsyncFile(candidate)]);
    if (checked.status === 'rejected') throw checked.reason;
    if (synced.status === 'rejected') throw synced.reason;
    const report = checked.value;
    hooks.onVerified?.(report);
    const manifest = commit(c, plan, report, candidate);
    jobs.update(jobId, { status: 'done', model_id: manifest.id, bytes_done: report.size, bytes_total: report.size });
    hooks.onProgress?.({ phase: 'done', bytesDone: report.size, bytesTotal: report.size });
    log.info({ job: jobId, model: manifest.id, sha256: manifest.sha256, signedBy: manifest.signed_by, sandbox: report.sandbox.id }, 'model verified and added');
    ok = true;
    return manifest;
  } catch (err) {
    const e = asBkgError(err);
    jobs.update(jobId, { status: 'failed', error: `${e.code}: ${e.message}`, bytes_done: lastDone });
    throw e;
  } finally {
    // The verifier's sandbox is torn down after its verdict (the job is already done then); the
    // pull ends with it, and before its directory goes. On failure it is stopped first. Then the
    // spare for the next pull starts.
    if (ok) await slot?.run.closed;
    else await slot?.run.cancel();
    if (slot) {
      c.verifiers.release(slot);
      if (!hooks.signal?.aborted) c.verifiers.refill();
    }
  }
}

/** Bytes from a fetcher (P2P), then copied into the candidate as a local file is: hashed on the way, like every source. */
async function fetchThenCopy(fetch: ModelFetcher, common: Parameters<typeof copyLocal>[1]): Promise<Awaited<ReturnType<typeof copyLocal>>> {
  const got = await fetch({ onProgress: common.onProgress ?? (() => {}), ...(common.signal ? { signal: common.signal } : {}) });
  try {
    const { onProgress: _ignored, ...quiet } = common;
    return await copyLocal(got.path, quiet);
  } finally {
    got.release();
  }
}

async function fsyncFile(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Move a verified file into blobs/ and record it, in one synchronous step (gc cannot interleave). */
function commit(c: PullContext, plan: PullPlan, report: VerifyReport, file: string): ModelManifest {
  const { store, files } = c;
  const models = store.models;
  const blob = files.blobFor(report.sha256);
  const manifest = store.transaction((): ModelManifest => {
    // kept so that trusted peers can verify this model the same way (P2P replication)
    if (plan.sig && report.signedBy) store.modelSignatures.put(report.sha256, plan.sig);
    const same = models.bySha256(report.sha256);
    if (same) {
      if (same.id !== plan.id && !plan.derivedId) throw conflict(`this file is already registered as model ${same.id}`, { id: same.id });
      renameSync(file, blob);
      if (report.signedBy && !same.signed_by) {
        models.setSignedBy(same.id, report.signedBy);
        return { ...same, signed_by: report.signedBy };
      }
      return same;
    }
    const taken = models.get(plan.id);
    if (taken) throw conflict(`model id ${plan.id} is taken by a different file (sha256 ${taken.sha256})`, { id: plan.id });
    const m: ModelManifest = {
      id: plan.id,
      name: plan.name,
      sha256: report.sha256,
      size_bytes: report.size,
      source: plan.source,
      signed_by: report.signedBy,
      created_at: c.now().toISOString(),
      last_used_at: null,
    };
    renameSync(file, blob);
    try {
      models.insert(m);
    } catch (err) {
      rmSync(blob, { force: true });
      throw err;
    }
    return m;
  });
  try {
    fsyncPath(files.blobsDir);
  } catch (err) {
    c.log.warn({ err }, 'could not fsync the blobs directory');
  }
  return manifest;
}
