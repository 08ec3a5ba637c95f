/**
 * Namespace policies, the wire contract: which privileges a namespace's keys may use when they
 * create or start sandboxes, and the quotas that bound the namespace as a whole. Admin keys are
 * never limited by a policy; readonly and sandbox keys cannot create sandboxes at all.
 */
import { LimitsSchema, NETWORKS } from './sandboxes.js';
import type { Infer } from './validate.js';

/** What a namespace key may only do when its namespace's policy grants it. */
export const PRIVILEGES = [
  'network.host',
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

export interface NamespacePolicy {
  /** Network modes sandboxes of the namespace may use. */
  networks: (typeof NETWORKS)[number][];
  /** Host directories under which sandboxes may mount a workspace (realpaths); empty: none. */
  workspace_roots: string[];
  allow_nested_namespaces: boolean;
  allow_custom_seccomp: boolean;
  /** Largest limits one sandbox may ask for; null: no cap. */
  max_memory_mb: number | null;
  max_cpus: number | null;
  max_pids: number | null;
  max_disk_mb: number | null;
  /** Sandboxes in the namespace, in any state. */
  max_sandboxes: number | null;
  /** Running sandboxes, and the memory and pids limits they add up to. */
  max_running: number | null;
  max_total_memory_mb: number | null;
  max_total_pids: number | null;
}

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

const limit = LimitsSchema.properties;
const count = { type: 'integer', min: 0, max: 1_000_000, nullable: true } as const;

/** PATCH /policies/{namespace}: the fields given replace the current ones; `reset` starts from the defaults. */
export const PolicyPatchSchema = {
  type: 'object',
  properties: {
    reset: { type: 'boolean' },
    networks: { type: 'array', items: { type: 'enum', values: NETWORKS }, maxLength: 8 },
    workspace_roots: { type: 'array', items: { type: 'string', pattern: /^\/./, maxLength: 4096 }, maxLength: 64 },
    allow_nested_namespaces: { type: 'boolean' },
    allow_custom_seccomp: { type: 'boolean' },
    max_memory_mb: { ...limit.memory_mb, nullable: true },
    max_cpus: { ...limit.cpus, nullable: true },
    max_pids: { ...limit.pids, nullable: true },
    max_disk_mb: { ...limit.disk_mb, nullable: true },
    max_sandboxes: count,
    max_running: count,
    max_total_memory_mb: { type: 'integer', min: 0, max: 1_073_741_824, nullable: true },
    max_total_pids: { type: 'integer', min: 0, max: 1_073_741_824, nullable: true },
  },
} as const;
export type PolicyPatch = Infer<typeof PolicyPatchSchema>;

/** What a namespace uses now, counted against its quotas. */
export interface NamespaceUsage {
  sandboxes: number;
  running: number;
  /** Sums of the running sandboxes' limits. */
  memory_mb: number;
  pids: number;
}

export interface PolicyView {
  namespace: string;
  policy: NamespacePolicy;
  /** True when the namespace has no policy of its own and the defaults apply. */
  default: boolean;
  usage: NamespaceUsage;
  updated_at: string | null;
  updated_by: string | null;
}
