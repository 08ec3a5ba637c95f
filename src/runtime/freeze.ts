/**
 * Holding a running sandbox still while its writable layer is copied (a snapshot), so the copy is
 * one moment of it rather than files from different moments. cgroup v2: the cgroup freezer
 * (`cgroup.freeze`, every process of the sandbox at once, invisible to them). cgroup v1 (bkg makes
 * no freezer cgroup there): SIGSTOP to every process of the sandbox's cgroup until no new one
 * appears, SIGCONT after — a parent waiting with WUNTRACED could notice. No cgroup at all (no
 * controller usable): the copy is taken live.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { planCgroups, type CgroupLayout } from './cgroups.js';
import type { Limits } from './limits.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const FREEZE_WAIT_MS = 2_000;

function pidsOf(dir: string): number[] {
  try {
    return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone meanwhile
  }
}

async function freezeV2(dir: string): Promise<() => void> {
  writeFileSync(join(dir, 'cgroup.freeze'), '1');
  const thaw = (): void => writeFileSync(join(dir, 'cgroup.freeze'), '0');
  for (const until = Date.now() + FREEZE_WAIT_MS; Date.now() < until; await sleep(2)) {
    if (/^frozen 1$/m.test(readFileSync(join(dir, 'cgroup.events'), 'utf8'))) return thaw;
  }
  return thaw; // not settled in time (a process in uninterruptible sleep): the copy goes ahead, as live
}

function stopAll(dir: string): () => void {
  const stopped = new Set<number>();
  for (let round = 0; round < 20; round++) {
    const fresh = pidsOf(dir).filter((p) => !stopped.has(p));
    if (fresh.length === 0) break;
    for (const p of fresh) {
      signal(p, 'SIGSTOP');
      stopped.add(p);
    }
  }
  return () => {
    for (const p of stopped) signal(p, 'SIGCONT');
  };
}

/** Run `fn` with the sandbox `id` frozen (see above); it is thawed whatever `fn` does. */
export async function whileFrozen<T>(layout: CgroupLayout, id: string, limits: Limits, fn: () => Promise<T>): Promise<T> {
  const dir = planCgroups(layout, id, limits).dirs[0];
  const thaw = dir === undefined ? () => {} : layout.version === 2 ? await freezeV2(dir) : stopAll(dir);
  try {
    return await fn();
  } finally {
    thaw();
  }
}
