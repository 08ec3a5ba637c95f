/** The registry's files under $BKG_HOME/models: verified blobs, partial downloads, and sweeping the ones nothing owns. */
import { chmodSync, closeSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BkgError } from '../../api/errors.js';
import type { ModelManifest } from '../types.js';
import { isSha256 } from './names.js';
import type { GcRemoved } from './types.js';

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

/** Flush a file or directory to disk (a directory: the renames into it). */
/** When `path` (or, for a directory, anything directly in it) last changed, epoch ms; +Infinity when it is gone. */
function lastChange(path: string): number {
  try {
    const st = lstatSync(path);
    if (!st.isDirectory()) return st.mtimeMs;
    return Math.max(st.mtimeMs, ...readdirSync(path).map((e) => lstatSync(join(path, e)).mtimeMs));
  } catch {
    return Infinity;
  }
}

export function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 *   models/blobs/sha256-<hex>      verified models (dirs 0700, files 0600), named by their digest
 *   models/partial/<job>.part      a download in progress (never visible as a model)
 *   models/verifier/<id>/          a file being downloaded, alone in the directory its verifier sandbox sees
 *                                  (verifier-spare.ts; `partial/<job>.verify/` in earlier releases)
 */
export class ModelFiles {
  readonly blobsDir: string;
  readonly partialDir: string;
  /** Verifier sandboxes' directories (VerifierSpare owns it). */
  readonly verifierDir: string;

  /** Creates the directories (0700) when missing. */
  constructor(home: string) {
    const modelsDir = join(home, 'models');
    this.blobsDir = join(modelsDir, 'blobs');
    this.partialDir = join(modelsDir, 'partial');
    this.verifierDir = join(modelsDir, 'verifier');
    for (const dir of [modelsDir, this.blobsDir, this.partialDir, this.verifierDir]) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      chmodSync(dir, 0o700);
    }
  }

  /** The blob of a registered model. */
  blobPath(m: ModelManifest): string {
    if (!isSha256(m.sha256)) throw new BkgError('INTERNAL', `model ${m.id} has an invalid sha256`);
    return this.blobFor(m.sha256);
  }

  /** Where a verified file with this digest is kept. */
  blobFor(sha256: string): string {
    return join(this.blobsDir, `sha256-${sha256}`);
  }

  /**
   * Delete blobs whose digest is not in `known`, and partial downloads last changed before
   * `cutoffMs` (epoch ms): a verifier's directory unless `live(name)` says a pull or the spare
   * holds it, and earlier releases' `partial/` entries unless `running(job)` says their job runs.
   */
  sweep(known: ReadonlySet<string>, cutoffMs: number, running: (jobId: string) => boolean, live: (slot: string) => boolean): GcRemoved[] {
    const removed: GcRemoved[] = [];
    for (const entry of readdirSync(this.blobsDir)) {
      const m = /^sha256-([0-9a-f]{64})$/.exec(entry);
      if (m?.[1] && known.has(m[1])) continue;
      const path = join(this.blobsDir, entry);
      const bytes = sizeOf(path);
      rmSync(path, { recursive: true, force: true });
      removed.push({ kind: 'blob', name: entry, bytes });
    }
    const stale = (dir: string, entry: string, name: string): void => {
      const path = join(dir, entry);
      if (lastChange(path) > cutoffMs) return;
      const bytes = sizeOf(path);
      rmSync(path, { recursive: true, force: true });
      removed.push({ kind: 'partial', name, bytes });
    };
    for (const entry of readdirSync(this.verifierDir)) if (!live(entry)) stale(this.verifierDir, entry, `verifier/${entry}`);
    for (const entry of readdirSync(this.partialDir)) {
      const job = /^(.+?)\.(part|verify)$/.exec(entry)?.[1];
      if (!(job && running(job))) stale(this.partialDir, entry, entry);
    }
    return removed;
  }
}
