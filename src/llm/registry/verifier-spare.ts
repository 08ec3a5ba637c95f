/**
 * A verifier sandbox started ahead of the next pull. Its start (the sandbox and a node process)
 * is the fixed cost of every verification: a pull that finds a spare downloads straight into the
 * spare's directory and pays none of it; the next spare starts once the pull is over, when the
 * daemon has nothing else to do for it. Every file still gets a sandbox of its own (a spare serves
 * one pull and ends with it), and a spare nobody takes ends after `idleMs`.
 *
 *   models/verifier/<id>/model.gguf   a spare's (empty, then growing) file; its directory is the
 *                                     sandbox's workspace. A pull cut short by a stop leaves its
 *                                     slot behind: gc sweeps it after a day (ModelFiles.sweep),
 *                                     the start removes only a dead daemon's empty spares.
 *
 * Without a spare (the first pull, one pull beside another, a spare that ended), a pull starts its
 * own verifier when its download starts, as before.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Logger } from '../../log.js';
import type { VerifierRun } from './verify.js';

/** A verifier over a directory of its own, waiting for its file. */
export interface VerifierSlot {
  run: VerifierRun;
  /** The directory to remove once the pull is over. */
  dir: string;
  /** The file to download into. */
  file: string;
}

export interface VerifierSpareOptions {
  /** Where the slots' directories go (it exists; a dead daemon's empty spares are removed at the start). */
  dir: string;
  /** Start a verifier over `file` (which exists). */
  start: (file: string) => VerifierRun;
  log: Logger;
  /** A spare not taken for this long ends. */
  idleMs: number;
}

export class VerifierSpare {
  private spare: (VerifierSlot & { timer: NodeJS.Timeout }) | null = null;
  /** The slots' directory names this process holds (the spare and the pulls'): gc leaves them. */
  private readonly live = new Set<string>();
  private closed = false;

  constructor(private readonly o: VerifierSpareOptions) {
    // a dead daemon's spares: an empty file each, nothing to keep
    for (const entry of readdirSync(o.dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const slot = join(o.dir, entry.name);
      const files = readdirSync(slot);
      if (files.length === 0 || (files.length === 1 && files[0] === 'model.gguf' && statSync(join(slot, 'model.gguf')).size === 0)) rmSync(slot, { recursive: true, force: true });
    }
  }

  /** Whether this process holds the slot `name` (a directory in `dir`). */
  holds(name: string): boolean {
    return this.live.has(name);
  }

  /** A new slot: a directory with an empty file and a verifier over it, started now. */
  open(): VerifierSlot {
    const name = randomBytes(8).toString('hex');
    const dir = join(this.o.dir, name);
    mkdirSync(dir, { mode: 0o700 });
    this.live.add(name);
    const file = join(dir, 'model.gguf');
    try {
      writeFileSync(file, '', { mode: 0o600 });
      return { run: this.o.start(file), dir, file };
    } catch (err) {
      this.release({ dir });
      throw err;
    }
  }

  /** A slot is done with (its pull is over, its verifier ended): its directory goes. */
  release(slot: Pick<VerifierSlot, 'dir'>): void {
    rmSync(slot.dir, { recursive: true, force: true });
    this.live.delete(basename(slot.dir));
  }

  /** The spare, if one is up and waiting (it is the caller's from now on); null otherwise. */
  take(): VerifierSlot | null {
    const s = this.spare;
    this.spare = null;
    if (!s) return null;
    clearTimeout(s.timer);
    if (!s.run.ended) return { run: s.run, dir: s.dir, file: s.file };
    void this.discard(s);
    return null;
  }

  /** The same slot with a new verifier over its file (its own ended before it was told the file is complete). */
  renew(slot: VerifierSlot): VerifierSlot {
    return { ...slot, run: this.o.start(slot.file) };
  }

  /** Start a spare for the next pull, unless one is there or the registry is closing. */
  refill(): void {
    if (this.closed || this.spare) return;
    let slot: VerifierSlot;
    try {
      slot = this.open();
    } catch (err) {
      this.o.log.warn({ err }, 'could not start a spare model verifier; the next pull starts its own');
      return;
    }
    const timer = setTimeout(() => {
      if (this.spare?.run !== slot.run) return;
      this.spare = null;
      void this.discard(slot);
    }, this.o.idleMs);
    timer.unref();
    this.spare = { ...slot, timer };
  }

  /** Stop the spare and remove its directory; no spare is started after this. Waits for its sandbox to end. */
  async close(): Promise<void> {
    this.closed = true; // before any await: a pull that ends meanwhile starts no spare
    const s = this.spare;
    this.spare = null;
    if (s) {
      clearTimeout(s.timer);
      await this.discard(s);
    }
  }

  private async discard(s: VerifierSlot): Promise<void> {
    await s.run.cancel();
    this.release(s);
  }
}
