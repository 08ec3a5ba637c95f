/**
 * The one conversion from what a user asks for (a create request in the API's units: memory_mb,
 * timeout_s, ...) to what the runtime enforces (bytes, ms). CLI flags and cave.yaml become such a
 * request first (src/cli/sandbox-request.ts); the daemon's REST and MCP doors receive one.
 */
import { canonicalNetwork } from '../api/egress.js';
import type { CreateSandboxRequest, LimitsInput } from '../api/sandboxes.js';
import type { NetworkMode } from './definition.js';
import { DEFAULT_LIMITS, type Limits } from './limits.js';

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

/** Runtime limits back in the API's units (what a sandbox view shows). */
export function limitsToView(l: Limits): LimitsInput {
  // assigned field by field (a list shows a thousand of these: spreads cost several times more)
  const v: LimitsInput = {};
  if (l.memoryBytes !== undefined) v.memory_mb = Math.round(l.memoryBytes / MiB);
  if (l.cpus !== undefined) v.cpus = l.cpus;
  if (l.pids !== undefined) v.pids = l.pids;
  if (l.diskBytes !== undefined) v.disk_mb = Math.round(l.diskBytes / MiB);
  if (l.timeoutMs !== undefined) v.timeout_s = Math.round(l.timeoutMs / 1000);
  if (l.idleTimeoutMs !== undefined) v.idle_timeout_s = Math.round(l.idleTimeoutMs / 1000);
  return v;
}

/** The parts of a sandbox definition a request decides (network — an allowlist in its canonical string —, limits, nested namespaces); the caller adds id, argv, env, mounts. */
export function settingsFromRequest(req: Pick<CreateSandboxRequest, 'limits' | 'network' | 'allow_nested_namespaces'>): { limits: Limits; network: NetworkMode; allowNestedNamespaces: boolean } {
  return { limits: limitsFromInput(req.limits), network: canonicalNetwork(req.network), allowNestedNamespaces: req.allow_nested_namespaces === true };
}
