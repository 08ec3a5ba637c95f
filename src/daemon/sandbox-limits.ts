/** Sandbox limits between the wire (memory_mb, timeout_s, ...) and the runtime (bytes, ms), and under a namespace policy. */
import type { NamespacePolicy } from '../api/policies.js';
import type { LimitsInput } from '../api/sandboxes.js';
import { DEFAULT_LIMITS, type Limits } from '../runtime/limits.js';

const MiB = 1024 * 1024;

/** The runtime limits of a request: what it names, bkg's defaults for the rest. */
export function limitsFromInput(l: LimitsInput = {}): Limits {
  return {
    memoryBytes: l.memory_mb === undefined ? DEFAULT_LIMITS.memoryBytes : l.memory_mb * MiB,
    pids: l.pids ?? DEFAULT_LIMITS.pids,
    diskBytes: l.disk_mb === undefined ? DEFAULT_LIMITS.diskBytes : l.disk_mb * MiB,
    ...(l.cpus === undefined ? {} : { cpus: l.cpus }),
    ...(l.timeout_s === undefined ? {} : { timeoutMs: l.timeout_s * 1000 }),
    ...(l.idle_timeout_s === undefined ? {} : { idleTimeoutMs: l.idle_timeout_s * 1000 }),
  };
}

/**
 * The limits of a request made with a namespace key: as `limitsFromInput`, except that a default
 * above one of the policy's caps is lowered to the cap (and a capped CPU share is applied when none
 * was asked for). What the request names itself is kept as asked: a value above a cap is refused by
 * the privilege check, never lowered in silence.
 */
export function limitsUnderPolicy(l: LimitsInput, policy: NamespacePolicy): Limits {
  const out = limitsFromInput(l);
  const cap = (asked: number | undefined, value: number | undefined, max: number | null): number | undefined =>
    asked !== undefined || max === null || value === undefined ? value : Math.min(value, max);
  const memory = cap(l.memory_mb, out.memoryBytes, policy.max_memory_mb === null ? null : policy.max_memory_mb * MiB);
  const pids = cap(l.pids, out.pids, policy.max_pids);
  const disk = cap(l.disk_mb, out.diskBytes, policy.max_disk_mb === null ? null : policy.max_disk_mb * MiB);
  return {
    ...out,
    ...(memory === undefined ? {} : { memoryBytes: memory }),
    ...(pids === undefined ? {} : { pids }),
    ...(disk === undefined ? {} : { diskBytes: disk }),
    ...(l.cpus === undefined && policy.max_cpus !== null ? { cpus: policy.max_cpus } : {}),
  };
}

export function limitsToView(l: Limits): LimitsInput {
  return {
    ...(l.memoryBytes === undefined ? {} : { memory_mb: Math.round(l.memoryBytes / MiB) }),
    ...(l.cpus === undefined ? {} : { cpus: l.cpus }),
    ...(l.pids === undefined ? {} : { pids: l.pids }),
    ...(l.diskBytes === undefined ? {} : { disk_mb: Math.round(l.diskBytes / MiB) }),
    ...(l.timeoutMs === undefined ? {} : { timeout_s: Math.round(l.timeoutMs / 1000) }),
    ...(l.idleTimeoutMs === undefined ? {} : { idle_timeout_s: Math.round(l.idleTimeoutMs / 1000) }),
  };
}
