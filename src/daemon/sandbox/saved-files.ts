/** The files a sandbox keeps across stops: its writable layer saved on stop, restored on start, deleted only with the sandbox. */
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { SandboxHandle } from '../../runtime/engine.js';
import type { Sandbox } from '../../store/repos/index.js';
import type { SandboxAccess } from './access.js';
import type { PartDeps } from './deps.js';

export class SavedFiles {
  constructor(private readonly d: Pick<PartDeps, 'engine' | 'stateDir'>, private readonly access: SandboxAccess) {}

  /** The files a stopped sandbox keeps (its writable layer as saved on stop), or null when it has none. */
  saved(s: Sandbox): string | null {
    const dir = join(this.d.stateDir, s.id, 'files');
    return existsSync(dir) ? dir : null;
  }

  /**
   * Save a running sandbox's writable layer before it stops; the previous copy is replaced only
   * once the new one is complete, so a failed save loses nothing.
   */
  async save(s: Sandbox, h: SandboxHandle): Promise<void> {
    const dir = join(this.d.stateDir, s.id);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const [files, next, old] = ['files', 'files.new', 'files.old'].map((n) => join(dir, n)) as [string, string, string];
    await rm(next, { recursive: true, force: true });
    await this.d.engine.save(h, next);
    await rm(old, { recursive: true, force: true });
    if (existsSync(files)) await rename(files, old);
    await rename(next, files);
    await rm(old, { recursive: true, force: true });
  }

  /** The writable layer of a sandbox: live while it runs, else the copy saved when it stopped (null: none). */
  scratchOf(s: Sandbox): string | null {
    const h = s.status === 'running' ? this.access.alive(s) : null;
    return h ? this.d.engine.scratchOf(h) : this.saved(s);
  }

  /** Give a sandbox not started yet its saved files (a snapshot's): `fill` writes the tree at the path it is given. */
  async seed(id: string, fill: (dest: string) => Promise<void>): Promise<void> {
    const dir = join(this.d.stateDir, id);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await rm(join(dir, 'files'), { recursive: true, force: true });
    await fill(join(dir, 'files'));
  }

  /** The only place a sandbox's files go: with the sandbox. */
  async remove(s: Pick<Sandbox, 'id'>): Promise<void> {
    await rm(join(this.d.stateDir, s.id), { recursive: true, force: true });
  }
}
