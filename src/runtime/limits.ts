/** Resource limits of a sandbox. Every limit set here is enforced or the sandbox is refused. */
export interface Limits {
  /** Memory (RAM, no swap) in bytes. */
  memoryBytes?: number;
  /** CPU time as a fraction of one core (0.5 = half a core). */
  cpus?: number;
  /** Maximum number of processes and threads. */
  pids?: number;
  /** Writable space (workspace changes, /tmp, /dev/shm) in bytes. */
  diskBytes?: number;
  /** Wall-clock limit in milliseconds; every process of the sandbox is killed when it passes. */
  timeoutMs?: number;
  /** Persistent sandboxes only: stopped after this long without an exec (enforced by the daemon). */
  idleTimeoutMs?: number;
}

/** Defaults applied by `bkg run` when a flag is not given. */
export const DEFAULT_LIMITS: Required<Omit<Limits, 'timeoutMs' | 'cpus' | 'idleTimeoutMs'>> = {
  memoryBytes: 512 * 1024 ** 2,
  pids: 512,
  diskBytes: 1024 ** 3,
};

export function withDefaults(limits: Limits): Limits {
  return { ...DEFAULT_LIMITS, ...Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined)) };
}
