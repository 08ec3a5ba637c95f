/**
 * A running persistent sandbox as the host sees it: the handle that finds it again (recorded in
 * the database, so a restarted daemon re-adopts it), and what the host reads or does through it.
 */
import { readFileSync, statfsSync } from 'node:fs';
import { BkgError } from '../api/errors.js';

/** What must be remembered (e.g. in the database) to find a running sandbox again. */
export interface SandboxHandle {
  id: string;
  /** Host pid of the sandbox's init (pid 1 inside). */
  initPid: number;
  /** Host pid of the helper supervising it, and its start time (guards against pid reuse). */
  helperPid: number;
  helperStartTime: string;
  /** The helper's descriptor for the scratch layer (workspace upper, /tmp), if any. */
  scratchFd: number | null;
}

/** Field 22 of /proc/PID/stat: start time in clock ticks since boot; null when the pid is gone or a zombie. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return null;
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

/** Whether the helper recorded in the handle is still the one supervising this sandbox. */
export function isRunning(h: SandboxHandle): boolean {
  return processStartTime(h.helperPid) === h.helperStartTime && processStartTime(h.initPid) !== null;
}

export function requireRunning(h: SandboxHandle): void {
  if (!isRunning(h)) throw new BkgError('SANDBOX_NOT_RUNNING', `sandbox ${h.id} is not running`);
}

/** The running sandbox's writable layer (its scratch tmpfs), as the host reaches it. */
export function scratchOf(h: SandboxHandle): string {
  requireRunning(h);
  if (h.scratchFd === null) throw new BkgError('HELPER_FAILED', `sandbox ${h.id} has no scratch layer`);
  return `/proc/${h.helperPid}/fd/${h.scratchFd}`;
}

/** Whether the sandbox's writable space (its scratch tmpfs, capped at limits.diskBytes) is full. */
export function scratchFull(h: SandboxHandle): boolean {
  if (h.scratchFd === null) return false;
  try {
    const st = statfsSync(`/proc/${h.helperPid}/fd/${h.scratchFd}`);
    return st.bavail === 0 || st.bfree === 0;
  } catch {
    return false;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** End the supervising helper (it kills every process of the sandbox and removes its mounts and cgroups); SIGKILL after `timeoutMs`. */
export async function stopHelper(h: SandboxHandle, timeoutMs: number): Promise<void> {
  if (!isRunning(h)) return;
  process.kill(h.helperPid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (processStartTime(h.helperPid) === h.helperStartTime) {
    if (Date.now() > deadline) {
      process.kill(h.helperPid, 'SIGKILL');
      break;
    }
    await sleep(5);
  }
}
