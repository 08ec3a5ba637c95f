/** The sandboxes API (/api/v1/sandboxes): requests, answers, and the exec result shared by every door. */
import { LIMIT_HITS, PLACEMENTS, RUNTIMES, SANDBOX_STATUSES } from '../names.js';
import { Env, Limits, Name, NullableTimestamp, Timestamp, z } from './common.js';
import { canonicalNetwork, DENIAL_REASONS, MAX_ALLOW_ENTRIES } from '../egress.js';
import { MAX_SANDBOX_SECRETS, SECRETS_DIR } from '../secrets.js';
import { SecretRef } from './secrets.js';

/**
 * A sandbox's network: `none`, `host`, or an egress allowlist, as a string (`allow:pypi.org,*.pypi.org`)
 * or an object (`{allow: ["pypi.org", "*.pypi.org"]}`); stored and shown as the canonical string.
 */
export const Network = z.union([
  z.string().max(20_000).describe('none (default): loopback only; host: the host\'s network (a privilege); allow:HOST[:PORT],…: only those hosts, through bkg\'s egress proxy (a privilege).'),
  z.object({ allow: z.array(z.string().max(300)).min(1).max(MAX_ALLOW_ENTRIES).describe('HOST, HOST:PORT, *.DOMAIN[:PORT], an IP address or a CIDR range ([v6]:PORT); PORT 1-65535 or *; without one, 80 and 443.') }).strict(),
], { error: 'must be none, host, allow:HOST[:PORT],… or {allow: [HOST[:PORT], …]}' }).superRefine((v, ctx) => {
  try {
    canonicalNetwork(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message.replace(/^[^:]*: /, '') });
  }
});

/** A connection the sandbox's egress proxy refused. */
export const NetworkDenial = z.object({
  code: z.literal('NETWORK_DENIED'),
  host: z.string().describe('As the request named it (a name, or a literal address).'),
  port: z.int(),
  reason: z.enum(DENIAL_REASONS).describe('not_allowed: the host is not on the allowlist; port: it is, on other ports; address: a wildcard name resolved to the host\'s own or a link-local address.'),
  message: z.string(),
  at: Timestamp.describe('The first such refusal.'),
  count: z.int().min(1).describe('Identical refusals (host, port, reason) grouped into this one.'),
}).strict();

export const CreateSandboxRequest = z.object({
  name: Name.describe('A name, unique in the namespace (letters, digits, . _ -).'),
  project: Name.optional(),
  namespace: Name.optional().describe('Admin keys only: the namespace (default: "default"); other keys act in their own.'),
  runtime: z.enum(RUNTIMES).optional().describe('Interpreter available inside (default shell).'),
  limits: Limits.optional(),
  network: Network.optional(),
  env: Env.optional(),
  secrets: z.array(SecretRef).max(MAX_SANDBOX_SECRETS).optional().describe(`Secrets of the namespace, given to the sandbox when it starts: as environment variables, or files under ${SECRETS_DIR}.`),
  workspace: z.string().min(1).max(4096).optional().describe('A host directory mounted copy-on-write at /workspace (a privilege).'),
  allow_nested_namespaces: z.boolean().optional().describe('Let code inside create namespaces of its own (a privilege).'),
  seccomp: z.record(z.string(), z.unknown()).optional().describe('An OCI seccomp profile (the "seccomp" object of an OCI runtime spec) instead of the default (a privilege).'),
  from_snapshot: z.string().min(1).max(200).optional().describe('Start from a snapshot of the same namespace (its id, or SANDBOX:TAG): its files are restored at the first start (needs the sandbox.snapshot right).'),
  placement: z.enum(PLACEMENTS).optional().describe('In a fleet: local (default) runs it on the host asked; auto on the live host running the fewest sandboxes.'),
}).strict();

export const ExecRequest = z.object({
  cmd: z.array(z.string().max(131_072)).min(1).max(4096).describe('The command and its arguments (argv; no shell unless you call one).'),
  env: Env.optional(),
  cwd: z.string().regex(/^\//).max(4096).optional().describe('The working directory inside the sandbox (default /workspace).'),
  stdin: z.string().max(1_048_576).optional(),
  timeout_ms: z.int().min(1).max(86_400_000).optional(),
}).strict();

export const Usage = z.object({
  memory_bytes: z.number().nullable(),
  cpu_seconds: z.number().nullable(),
  pids: z.number().nullable(),
}).strict();

export const SandboxView = z.object({
  id: z.string(),
  name: z.string(),
  namespace: z.string(),
  project: z.string().nullable(),
  status: z.enum(SANDBOX_STATUSES),
  runtime: z.string(),
  network: z.string().describe('none, host, or allow: and the allowlist\'s entries, comma-separated.'),
  limits: Limits,
  env: z.array(z.string()).describe('The names of its environment variables (never their values).'),
  secrets: z.array(SecretRef).optional().describe('The secrets it is given and how (names only, never values); absent when none.'),
  workspace: z.string().nullable(),
  allow_nested_namespaces: z.boolean(),
  seccomp: z.enum(['default', 'custom']),
  api_key: z.string().describe('The sandbox\'s own API key, masked.'),
  created_at: Timestamp,
  started_at: NullableTimestamp,
  expires_at: NullableTimestamp,
  idle_expires_at: NullableTimestamp,
  last_activity_at: NullableTimestamp,
  host: z.string().describe('The id of the host that runs it (in a fleet, any host serves it: requests are forwarded there).'),
  usage: Usage.optional().describe('Live usage while running (read on the host that runs it).'),
}).strict();

export const CreatedSandbox = SandboxView.extend({ api_key_secret: z.string().describe('The sandbox\'s own API key, in full: shown only here.') }).strict();
export const HostView = z.object({ id: z.string(), name: z.string(), alive: z.boolean() }).strict();
export const SandboxList = z.object({
  sandboxes: z.array(SandboxView),
  hosts: z.array(HostView).optional().describe('With all_hosts: the hosts of the fleet, to name each sandbox\'s host.'),
}).strict();
export const SandboxListQuery = z.object({
  all_hosts: z.enum(['0', '1', 'true', 'false']).optional().describe('1: every host\'s sandboxes, not only this host\'s.'),
  usage: z.enum(['0', '1', 'true', 'false']).optional().describe('1: with each running sandbox\'s usage now (memory, CPU time, pids, read from its cgroups); without it the list reads no cgroup (GET /sandboxes/{id} always has it).'),
}).strict();

/** The end of a command: its own exit code or signal, and what bkg did to it. */
export const ExecSummary = z.object({
  exit_code: z.int().nullable(),
  signal: z.int().nullable(),
  timed_out: z.boolean(),
  oom_killed: z.boolean(),
  duration_ms: z.number(),
  limits_hit: z.array(z.enum(LIMIT_HITS)).describe('The limits the command ran into: memory (OOM kill), pids (a fork refused), disk (writable space full), time (killed at its timeout).'),
  network_denied: z.array(NetworkDenial).optional().describe('Connections the egress proxy refused while the command ran (a network allow:… only; absent when none).'),
  exec_error: z.string().optional().describe('Why the command could not be started.'),
}).strict();

export const ExecResponse = ExecSummary.extend({
  stdout: z.string(),
  stderr: z.string(),
  truncated: z.boolean().describe('Output past 1 MiB per stream was dropped (one-shot REST exec only).'),
  stdout_truncated: z.boolean().optional(),
  stderr_truncated: z.boolean().optional(),
}).strict();

export const Change = z.object({
  path: z.string().describe('Relative to the workspace.'),
  kind: z.enum(['added', 'modified', 'deleted']),
  type: z.enum(['file', 'dir', 'symlink', 'other']),
}).strict();
export const ChangesResponse = z.object({ changes: z.array(Change) }).strict();
export const ApplyResponse = z.object({ applied: z.array(Change) }).strict();

export const ExecutionView = z.object({
  id: z.string(),
  cmd: z.array(z.string()),
  exit_code: z.int().nullable(),
  signal: z.string().nullable(),
  timed_out: z.boolean(),
  oom_killed: z.boolean(),
  duration_ms: z.number().nullable(),
  started_at: Timestamp,
  actor: z.string(),
}).strict();
export const LogsResponse = z.object({ executions: z.array(ExecutionView) }).strict();

export const FileQuery = z.object({ path: z.string().regex(/^\//, 'must be an absolute path inside the sandbox').max(4096).describe('An absolute path inside the sandbox.') }).strict();
export const SandboxParams = z.object({ id: z.string().describe('The sandbox\'s id or name.') }).strict();

export type CreateSandboxRequest = z.infer<typeof CreateSandboxRequest>;
export type ExecRequest = z.infer<typeof ExecRequest>;
export type SandboxView = z.infer<typeof SandboxView>;
export type CreatedSandbox = z.infer<typeof CreatedSandbox>;
export type ExecSummary = z.infer<typeof ExecSummary>;
export type NetworkDenial = z.infer<typeof NetworkDenial>;
export type ExecResponse = z.infer<typeof ExecResponse>;
export type Change = z.infer<typeof Change>;
export type ExecutionView = z.infer<typeof ExecutionView>;
export type LimitsInput = z.infer<typeof Limits>;
