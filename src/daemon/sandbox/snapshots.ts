/**
 * Snapshots: a sandbox's writable layer (workspace changes, /tmp, /dev/shm, HOME — what a stop
 * saves) at one moment, in $BKG_HOME/snapshots/<id> with a row per snapshot. A running sandbox is
 * held still while the helper copies its tmpfs out (the copy has to leave memory); a stopped one's
 * saved files are hard-linked, as are a snapshot's into a sandbox started from it: saved trees are
 * never written in place (a save replaces the whole tree; a start copies it into the sandbox's own
 * tmpfs), so sharing their files shares nothing writable. Deleting a sandbox keeps its snapshots.
 */
import { lstat, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BkgError } from '../../api/errors.js';
import type { SnapshotView } from '../../api/schema/snapshots.js';
import { newId } from '../../store/ids.js';
import type { Namespace, Snapshot } from '../../store/repos/index.js';
import type { Principal } from '../auth/api-keys.js';
import { keyKind } from '../auth/rights.js';
import type { SandboxAccess } from './access.js';
import type { SandboxAudit } from './audit.js';
import type { PartDeps } from './deps.js';
import type { SavedFiles } from './saved-files.js';

/** The files a new sandbox starts with: a snapshot's, of the namespace it must be created in. */
export interface SnapshotSeed {
  snapshot: Snapshot;
  dir: string;
}

/** Bytes of the regular files under dir (a tree bkg wrote: nothing in it is followed). */
async function sizeOf(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) total += await sizeOf(path);
    else if (e.isFile()) total += (await lstat(path)).size;
  }
  return total;
}

export class SandboxSnapshots {
  constructor(
    private readonly d: PartDeps,
    private readonly access: SandboxAccess,
    private readonly audit: SandboxAudit,
    private readonly files: SavedFiles,
  ) {}

  private dirOf(id: string): string {
    return join(this.d.snapshotDir, id);
  }

  view(s: Snapshot): SnapshotView {
    return {
      id: s.id, namespace: this.d.namespaces.get(s.namespaceId)?.name ?? s.namespaceId, sandbox: s.sandboxName, sandbox_id: s.sandboxId, tag: s.tag,
      size_bytes: s.sizeBytes, created_at: s.createdAt, created_by: s.createdBy,
    };
  }

  /** Take a snapshot of a sandbox of this host, running or stopped. */
  async take(p: Principal, idOrName: string, tag?: string): Promise<Snapshot> {
    return this.audit.audited(p, 'sandbox.snapshot', idOrName, async () => {
      const s = this.access.find(p, idOrName, 'sandbox.snapshot');
      if (!this.d.sandboxes.isOwn(s)) throw new BkgError('CONFLICT', `sandbox "${s.name}" runs on host ${s.host}: snapshots are taken on the host that holds its files`);
      if (tag !== undefined && this.d.snapshots.byTag(s.namespaceId, s.name, tag)) {
        throw new BkgError('CONFLICT', `sandbox "${s.name}" already has a snapshot tagged "${tag}"`, { hint: `remove it first (bkg snapshot rm ${s.name}:${tag}) or choose another --tag` });
      }
      const id = newId('snap');
      const dir = this.dirOf(id);
      const next = `${dir}.new`;
      await mkdir(this.d.snapshotDir, { recursive: true, mode: 0o700 });
      try {
        const h = s.status === 'running' ? this.access.alive(s) : null;
        const saved = h ? null : this.files.saved(s);
        if (h) await this.d.engine.snapshot(h, next);
        else if (saved) await this.d.engine.linkTree(saved, next);
        else await mkdir(next, { mode: 0o700 }); // never started: nothing written yet
        const snap = this.d.snapshots.insert({
          id, namespaceId: s.namespaceId, sandboxId: s.id, sandboxName: s.name, tag: tag ?? null, sizeBytes: await sizeOf(next),
          createdAt: this.d.now().toISOString(), createdBy: p.id,
        });
        await rename(next, dir);
        this.audit.ok(p, 'sandbox.snapshot', s, { snapshot: id, ...(tag === undefined ? {} : { tag }), running: h !== null });
        return snap;
      } catch (err) {
        await rm(next, { recursive: true, force: true });
        this.d.snapshots.delete(id);
        throw err;
      }
    });
  }

  /** A snapshot the caller may use, by id or SANDBOX:TAG; NOT_FOUND outside its namespace. */
  find(p: Principal, ref: string): Snapshot {
    this.d.authz.require(p, 'sandbox.snapshot', ref);
    const scope = this.d.authz.scope(p).namespaceId;
    const colon = ref.lastIndexOf(':');
    let snap: Snapshot | null = null;
    if (colon > 0) {
      const [name, tag] = [ref.slice(0, colon), ref.slice(colon + 1)];
      const namespaces = scope === null ? this.d.namespaces.list().map((n) => n.id) : [scope];
      const found = namespaces.map((ns) => this.d.snapshots.byTag(ns, name, tag)).filter((x): x is Snapshot => x !== null);
      if (found.length > 1) throw new BkgError('CONFLICT', `"${ref}" names snapshots in ${found.length} namespaces`, { hint: 'use the snapshot\'s id (bkg snapshot ls)' });
      snap = found[0] ?? null;
    } else {
      snap = this.d.snapshots.get(ref);
    }
    if (!snap || (scope !== null && snap.namespaceId !== scope)) throw new BkgError('NOT_FOUND', `no snapshot "${ref}"`, { hint: '`bkg snapshot ls` lists them' });
    return snap;
  }

  list(p: Principal, namespace?: string): Snapshot[] {
    this.d.authz.require(p, 'sandbox.snapshot');
    if (keyKind(p) !== 'admin') return this.d.snapshots.list(this.d.authz.scope(p).namespaceId);
    if (namespace === undefined) return this.d.snapshots.list(null);
    const ns = this.d.namespaces.getByName(namespace);
    return ns ? this.d.snapshots.list(ns.id) : [];
  }

  /** Delete a snapshot's row and files; sandboxes started from it keep their own (linked) files. */
  async remove(p: Principal, ref: string): Promise<Snapshot> {
    const snap = this.find(p, ref);
    this.d.snapshots.delete(snap.id);
    await rm(this.dirOf(snap.id), { recursive: true, force: true });
    return snap;
  }

  /** What a sandbox created from `ref` starts with (checked again against its namespace at create). */
  seed(p: Principal, ref: string): SnapshotSeed {
    const snapshot = this.find(p, ref);
    return { snapshot, dir: this.dirOf(snapshot.id) };
  }

  /** Give a new sandbox (id) the seed's files as its saved files, restored at its first start. */
  async plant(seed: SnapshotSeed, ns: Namespace, sandboxId: string): Promise<void> {
    if (seed.snapshot.namespaceId !== ns.id) throw new BkgError('NOT_FOUND', `no snapshot "${seed.snapshot.id}" in namespace ${ns.name}`, { hint: 'a sandbox starts only from a snapshot of its own namespace' });
    await this.files.seed(sandboxId, (dest) => this.d.engine.linkTree(seed.dir, dest));
  }
}
