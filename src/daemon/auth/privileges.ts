/**
 * Privileges: what a sandbox asks for beyond the baseline (host network or an egress allowlist, a host workspace, nested
 * namespaces, a custom seccomp profile, limits above the namespace's caps). Admin keys hold them
 * all; a namespace key holds what its namespace's policy grants. Pure functions over the policy.
 */
import { realpathSync } from 'node:fs';
import { sep } from 'node:path';
import { allowRulesOf, isAllowNetwork, policyAllowlists } from '../../api/egress.js';
import type { NamespacePolicy, Privilege } from '../../api/policies.js';
import type { NetworkMode } from '../../runtime/definition.js';
import { allowlistCovers } from '../../runtime/egress/allowlist.js';
import type { Limits } from '../../runtime/limits.js';

/** What a sandbox would hold: checked when it is created, started or its changes applied. */
export interface SandboxAsk {
  network: NetworkMode;
  /** Absolute host directory, or null. */
  workspace: string | null;
  allowNestedNamespaces: boolean;
  customSeccomp: boolean;
  limits: Limits;
}

export interface MissingPrivilege {
  privilege: Privilege;
  message: string;
  /** The `bkg policy set` flag that grants it. */
  grant: string;
  requested: unknown;
  allowed: unknown;
}

const MiB = 1024 * 1024;

function real(path: string): string | null {
  try {
    return realpathSync(path);
  } catch {
    return null;
  }
}

/** Whether `dir` (resolved) lies in one of `roots` (resolved), or is one. */
export function underRoots(dir: string, roots: readonly string[]): boolean {
  const d = real(dir);
  if (d === null) return false;
  return roots.some((root) => {
    const r = real(root);
    return r !== null && (d === r || d.startsWith(r.endsWith(sep) ? r : r + sep));
  });
}

/** The first privilege `ask` needs that `policy` does not grant; null when it grants them all. */
/** An allowlist (`allow:…`) beyond what the policy grants: none at all, or an entry outside its `allow:ENTRY`s. */
function missingAllowlist(policy: NamespacePolicy, network: string, ns: string): MissingPrivilege | null {
  const granted = policyAllowlists(policy.networks);
  if (granted === 'any') return null;
  const asked = allowRulesOf(network);
  const outside = granted.length === 0 ? asked[0] : allowlistCovers(granted, asked);
  if (!outside) return null;
  const allowed = policy.networks;
  if (granted.length === 0) {
    return {
      privilege: 'network.allow', requested: network, allowed, grant: `--networks ${[...policy.networks, 'allow'].join(',')}`,
      message: `an egress allowlist (network "${network}") is a privilege ${ns} does not have (its policy allows: ${policy.networks.join(', ')})`,
    };
  }
  return {
    privilege: 'network.allow', requested: network, allowed, grant: `--networks ${[...policy.networks, `allow:${outside.text}`].join(',')}`,
    message: `the allowlist entry "${outside.text}" is outside what ${ns} may allow (${granted.map((r) => r.text).join(', ')})`,
  };
}

export function missingPrivilege(policy: NamespacePolicy, ask: SandboxAsk, namespace: string): MissingPrivilege | null {
  const ns = `namespace "${namespace}"`;
  if (isAllowNetwork(ask.network)) {
    const missing = missingAllowlist(policy, ask.network, ns);
    if (missing) return missing;
  } else if (!(policy.networks as readonly string[]).includes(ask.network)) {
    return {
      privilege: `network.${ask.network}` as Privilege, requested: ask.network, allowed: policy.networks, grant: `--networks ${[...policy.networks, ask.network].join(',')}`,
      message: `network "${ask.network}" is a privilege ${ns} does not have (its policy allows: ${policy.networks.join(', ') || 'none at all'})`,
    };
  }
  if (ask.workspace !== null && !underRoots(ask.workspace, policy.workspace_roots)) {
    return {
      privilege: 'workspace.host', requested: ask.workspace, allowed: policy.workspace_roots, grant: `--workspace-root ${ask.workspace}`,
      message: `a host workspace (${ask.workspace}) is a privilege: ${ns} may mount ${policy.workspace_roots.length ? `only directories under ${policy.workspace_roots.join(', ')}` : 'no host directories'}`,
    };
  }
  if (ask.allowNestedNamespaces && !policy.allow_nested_namespaces) {
    return { privilege: 'nested_namespaces', requested: true, allowed: false, grant: '--allow-nested-namespaces', message: `nested namespaces are a privilege ${ns} does not have` };
  }
  if (ask.customSeccomp && !policy.allow_custom_seccomp) {
    return { privilege: 'custom_seccomp', requested: true, allowed: false, grant: '--allow-custom-seccomp', message: `a custom seccomp profile is a privilege ${ns} does not have` };
  }
  const over = (privilege: Privilege, value: number | undefined, max: number | null, unit: string, flag: string): MissingPrivilege | null =>
    value === undefined || max === null || value <= max
      ? null
      : { privilege, requested: value, allowed: max, grant: `${flag} ${value}${unit === 'MiB' ? 'm' : ''}`, message: `${privilege} ${value}${unit ? ` ${unit}` : ''} is above the ${max}${unit ? ` ${unit}` : ''} that ${ns} allows per sandbox` };
  const mib = (bytes: number | undefined): number | undefined => (bytes === undefined ? undefined : Math.ceil(bytes / MiB));
  return (
    over('limits.memory_mb', mib(ask.limits.memoryBytes), policy.max_memory_mb, 'MiB', '--max-memory') ??
    over('limits.cpus', ask.limits.cpus, policy.max_cpus, '', '--max-cpus') ??
    over('limits.pids', ask.limits.pids, policy.max_pids, '', '--max-pids') ??
    over('limits.disk_mb', mib(ask.limits.diskBytes), policy.max_disk_mb, 'MiB', '--max-disk')
  );
}
