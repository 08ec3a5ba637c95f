/**
 * Namespace policies: which privileges a namespace's keys may use when they create or start
 * sandboxes, and the quotas that bound the namespace as a whole. Admin keys are never limited by a
 * policy; readonly and sandbox keys cannot create sandboxes at all. The wire shapes are in
 * schema/policies.ts; this module holds what the CLI and the daemon share without zod.
 */
import type { NamespacePolicy } from './schema/policies.js';

export type { NamespacePolicy, NamespaceUsage, PolicyPatch, PolicyView } from './schema/policies.js';

/** What a namespace key may only do when its namespace's policy grants it. */
export const PRIVILEGES = [
  'network.host',
  'network.allow',
  'workspace.host',
  'nested_namespaces',
  'custom_seccomp',
  'limits.memory_mb',
  'limits.cpus',
  'limits.pids',
  'limits.disk_mb',
] as const;
export type Privilege = (typeof PRIVILEGES)[number];

/** Per-namespace totals; past one, a create or start is QUOTA_EXCEEDED naming it. */
export const QUOTAS = ['max_sandboxes', 'max_running', 'max_total_memory_mb', 'max_total_pids'] as const;
export type Quota = (typeof QUOTAS)[number];

/** The policy of a namespace that has none of its own. */
export const DEFAULT_NAMESPACE_POLICY: Readonly<NamespacePolicy> = Object.freeze<NamespacePolicy>({
  networks: ['none'],
  workspace_roots: [],
  allow_nested_namespaces: false,
  allow_custom_seccomp: false,
  max_memory_mb: 2048,
  max_cpus: null,
  max_pids: 4096,
  max_disk_mb: 4096,
  max_sandboxes: 20,
  max_running: null,
  max_total_memory_mb: 8192,
  max_total_pids: 16384,
});
