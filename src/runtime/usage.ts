/**
 * What a running sandbox uses now, as the host counts it: memory, CPU time, pids and OOM kills from
 * its cgroups (v2, or v1 with cpuacct for CPU time), and the used space of its writable layer (the
 * scratch tmpfs). The one reader behind the API's sandbox view and the daemon's usage samples.
 */
import { readFileSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { BkgError } from '../api/errors.js';
import type { CgroupLayout } from './cgroups.js';
import { processStartTime, type SandboxHandle } from './handle.js';

/** The files a sandbox's usage is read from (null: this host does not count it). */
export interface UsageFiles {
  memory: string | null;
  /** v2 cpu.stat (usage_usec), or v1 cpuacct.usage (nanoseconds). */
  cpu: string | null;
  pids: string | null;
  /** v2 memory.events, or v1 memory.oom_control: both carry `oom_kill N`. */
  oom: string | null;
}

export interface CgroupUsage {
  memoryBytes: number | null;
  /** CPU time used since the sandbox started (every process it ever had), in seconds. */
  cpuSeconds: number | null;
  pids: number | null;
  /** Processes the kernel killed at the memory limit so far. */
  oomKills: number | null;
}

const NONE: UsageFiles = { memory: null, cpu: null, pids: null, oom: null };

/** Where the sandbox `id`'s cgroups count what it uses (the directories planCgroups names). */
export function usageFiles(layout: CgroupLayout, id: string): UsageFiles {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw new BkgError('INVALID_ARGUMENT', `sandbox id "${id}" is not a valid cgroup name`);
  if (layout.version === 2) {
    if (layout.controllers.size === 0) return NONE;
    const dir = join(layout.base, id);
    const mem = layout.controllers.has('memory');
    return { memory: mem ? join(dir, 'memory.current') : null, cpu: join(dir, 'cpu.stat'), pids: layout.controllers.has('pids') ? join(dir, 'pids.current') : null, oom: mem ? join(dir, 'memory.events') : null };
  }
  if (layout.version === 1) {
    const mem = layout.bases.get('memory');
    const pids = layout.bases.get('pids');
    return {
      memory: mem ? join(mem, id, 'memory.usage_in_bytes') : null,
      cpu: layout.acct ? join(layout.acct, id, 'cpuacct.usage') : null,
      pids: pids ? join(pids, id, 'pids.current') : null,
      oom: mem ? join(mem, id, 'memory.oom_control') : null,
    };
  }
  return NONE;
}

function read(path: string | null): string | null {
  if (path === null) return null;
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function firstNumber(text: string | null): number | null {
  if (text === null) return null;
  const n = Number(text.trim().split(/\s+/)[0]);
  return Number.isFinite(n) ? n : null;
}

/** Read the files now; a file that is missing (the sandbox just ended, a controller absent) reads as null. */
export function readUsage(f: UsageFiles): CgroupUsage {
  const cpuText = read(f.cpu);
  let cpuSeconds: number | null = null;
  if (cpuText !== null && f.cpu?.endsWith('cpu.stat')) {
    const m = /(?:^|\n)usage_usec (\d+)/.exec(cpuText);
    cpuSeconds = m ? Number(m[1]) / 1e6 : null;
  } else if (cpuText !== null) {
    const ns = firstNumber(cpuText);
    cpuSeconds = ns === null ? null : ns / 1e9;
  }
  const oomText = read(f.oom);
  const oom = oomText === null ? null : /(?:^|\n)oom_kill (\d+)/.exec(oomText);
  return { memoryBytes: firstNumber(read(f.memory)), cpuSeconds, pids: firstNumber(read(f.pids)), oomKills: oomText === null ? null : oom ? Number(oom[1]) : 0 };
}

/**
 * The writable layer's space (the scratch tmpfs, capped at limits.diskBytes): used and total bytes;
 * null when there is none or its helper is gone (a pid that was reused is never read).
 */
export function scratchUsage(h: Pick<SandboxHandle, 'helperPid' | 'helperStartTime' | 'scratchFd'>): { usedBytes: number; totalBytes: number } | null {
  if (h.scratchFd === null || processStartTime(h.helperPid) !== h.helperStartTime) return null;
  try {
    const st = statfsSync(`/proc/${h.helperPid}/fd/${h.scratchFd}`);
    return { usedBytes: (st.blocks - st.bfree) * st.bsize, totalBytes: st.blocks * st.bsize };
  } catch {
    return null;
  }
}
