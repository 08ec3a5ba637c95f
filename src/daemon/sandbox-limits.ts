/** Sandbox limits under a namespace policy (the conversion itself is src/runtime/from-request.ts). */
import type { NamespacePolicy } from '../api/policies.js';
import type { LimitsInput } from '../api/sandboxes.js';
import { limitsFromInput } from '../runtime/from-request.js';
import type { Limits } from '../runtime/limits.js';

const MiB = 1024 * 1024;

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
