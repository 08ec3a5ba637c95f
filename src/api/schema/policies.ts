/** Namespace policies (/api/v1/policies): the privileges and quotas of a namespace's keys. */
import { policyNetworkProblem } from '../egress.js';
import { Name, NullableTimestamp, z } from './common.js';

const cap = (max: number, what: string) => z.int().min(0).max(max).nullable().describe(`${what}; null: no cap.`);

export const NamespacePolicy = z.object({
  networks: z.array(z.string().max(320).superRefine((v, ctx) => {
    const problem = policyNetworkProblem(v);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })).max(64).describe('Network modes its sandboxes may use (always includes none): none, host, allow (any egress allowlist), allow:ENTRY (allowlists within ENTRY, e.g. allow:*.pypi.org).'),
  workspace_roots: z.array(z.string().regex(/^\/./).max(4096)).max(64).describe('Host directories under which its sandboxes may mount workspaces.'),
  allow_nested_namespaces: z.boolean(),
  allow_custom_seccomp: z.boolean(),
  max_memory_mb: z.int().min(16).max(1_048_576).nullable().describe('Largest memory limit of one sandbox, MiB; null: no cap.'),
  max_cpus: z.number().min(0.01).max(1024).nullable(),
  max_pids: z.int().min(1).max(4_194_304).nullable(),
  max_disk_mb: z.int().min(1).max(4_194_304).nullable(),
  max_sandboxes: cap(1_000_000, 'Sandboxes in the namespace, in any state'),
  max_running: cap(1_000_000, 'Running sandboxes'),
  max_total_memory_mb: cap(1_073_741_824, 'Memory limits of its running sandboxes, added up, MiB'),
  max_total_pids: cap(1_073_741_824, 'Pids limits of its running sandboxes, added up'),
}).strict();

/** PATCH: the fields given replace the current ones; `reset` starts from the defaults. */
export const PolicyPatch = NamespacePolicy.partial().extend({ reset: z.boolean().optional() }).strict();

export const NamespaceUsage = z.object({
  sandboxes: z.int(),
  running: z.int(),
  memory_mb: z.int().describe('The running sandboxes\' memory limits, added up.'),
  pids: z.int(),
}).strict();

export const PolicyView = z.object({
  namespace: z.string(),
  policy: NamespacePolicy,
  default: z.boolean().describe('True when the namespace has no policy of its own and the defaults apply.'),
  usage: NamespaceUsage,
  updated_at: NullableTimestamp,
  updated_by: z.string().nullable(),
}).strict();

export const PolicyList = z.object({ policies: z.array(PolicyView) }).strict();
export const PolicyParams = z.object({ namespace: Name }).strict();

export type NamespacePolicy = z.infer<typeof NamespacePolicy>;
export type PolicyPatch = z.infer<typeof PolicyPatch>;
export type NamespaceUsage = z.infer<typeof NamespaceUsage>;
export type PolicyView = z.infer<typeof PolicyView>;
