/**
 * The MCP tools' inputs and outputs, from the same schemas as REST: a tool's arguments are the
 * matching REST request's fields (plus `sandbox`), its structured result the matching answer.
 */

import { Limits, Name, z } from './common.js';
import { ForkRequest, SnapshotList, SnapshotParams, SnapshotTag, SnapshotView } from './snapshots.js';
import { CreateSandboxRequest, ExecRequest, ExecSummary, SandboxView, Change } from './sandboxes.js';

const sandbox = Name.describe('The sandbox name or id.');
const path = z.string().regex(/^\//, 'must be an absolute path inside the sandbox').describe('An absolute path inside the sandbox.');

export const LANGUAGES = ['python', 'node', 'shell'] as const;

/** The output of a command run through MCP: its summary, output (capped, flagged) and whether it was cancelled. */
export const ToolExecResult = ExecSummary.extend({
  stdout: z.string(),
  stderr: z.string(),
  stdout_truncated: z.boolean(),
  stderr_truncated: z.boolean(),
  cancelled: z.boolean(),
}).strict();

export const TOOLS = {
  sandbox_create: {
    description: 'Create an isolated Linux sandbox (not started yet). Use sandbox_start next, then sandbox_exec or sandbox_run_code. network "host" or an egress allowlist ({"allow": ["pypi.org", "*.pythonhosted.org"]}: only those hosts, through HTTP_PROXY / HTTPS_PROXY), a host workspace, nested namespaces, a custom seccomp profile and limits above your namespace\'s caps are privileges (admin keys, or what your namespace\'s policy grants).',
    input: CreateSandboxRequest.omit({ project: true }).shape,
    output: z.object({ sandbox: SandboxView }).strict(),
  },
  sandbox_list: { description: 'List the sandboxes you can see, with status and limits.', input: {}, output: z.object({ sandboxes: z.array(SandboxView) }).strict() },
  sandbox_start: { description: 'Start a created or stopped sandbox (with the files it kept); it stays up until stopped or its lifetime ends.', input: { sandbox }, output: z.object({ sandbox: SandboxView }).strict() },
  sandbox_stop: { description: 'Stop a running sandbox: every process in it ends; its files are kept for the next start.', input: { sandbox }, output: z.object({ sandbox: SandboxView }).strict() },
  sandbox_delete: { description: 'Delete a sandbox and its files (stopping it first).', input: { sandbox }, output: z.object({ deleted: z.string() }).strict() },
  sandbox_exec: {
    description: 'Run a command (argv array, no shell unless you call one) in a running sandbox, in /workspace unless cwd says otherwise. Returns exit code, stdout, stderr, truncation flags and the limits it ran into. Output streams as progress notifications; cancel the request to kill the command.',
    input: { sandbox, ...ExecRequest.pick({ cmd: true, cwd: true, env: true, timeout_ms: true }).shape },
    output: ToolExecResult,
  },
  sandbox_run_code: {
    description: 'Run a snippet of Python, Node.js or shell code and return its output. In the given running sandbox, or, without one, in a fresh sandbox that is deleted afterwards.',
    input: {
      language: z.enum(LANGUAGES),
      code: z.string().min(1).max(1_048_576),
      sandbox: sandbox.optional(),
      timeout_ms: z.int().min(1).max(86_400_000).optional(),
    },
    output: ToolExecResult,
  },
  file_read: {
    description: 'Read a file inside a running sandbox (up to 16 MiB): text, or base64 for binary content.',
    input: { sandbox, path },
    output: z.object({ path: z.string(), size: z.int(), encoding: z.enum(['utf-8', 'base64']), content: z.string() }).strict(),
  },
  file_write: {
    description: 'Write a file inside a running sandbox (parent directories must exist; /workspace always does, and is where commands run).',
    input: { sandbox, path, content: z.string().max(16 * 1024 * 1024), encoding: z.enum(['utf-8', 'base64']).optional() },
    output: z.object({ path: z.string(), size: z.int() }).strict(),
  },
  file_list: {
    description: 'List a directory inside a running sandbox: names, types and sizes.',
    input: { sandbox, path },
    output: z.object({ path: z.string(), entries: z.array(z.object({ name: z.string(), type: z.enum(['file', 'dir', 'symlink', 'other']), size: z.number() }).strict()) }).strict(),
  },
  sandbox_changes: {
    description: 'The sandbox\'s changes to its /workspace (added, modified, deleted) against the host directory, which stays untouched; without a host directory, /workspace started empty and everything in it is added.',
    input: { sandbox },
    output: z.object({ changes: z.array(Change) }).strict(),
  },
  sandbox_snapshot: {
    description: 'Save a sandbox\'s files (workspace, /tmp, HOME: its whole writable state), running or stopped, as a snapshot of its namespace. Start new sandboxes from it with sandbox_create\'s from_snapshot (its id, or SANDBOX:TAG).',
    input: { sandbox, tag: SnapshotTag.optional() },
    output: z.object({ snapshot: SnapshotView }).strict(),
  },
  sandbox_fork: {
    description: 'A new sandbox `name` with the settings and the files of `sandbox` as of now (running if it runs): try something risky in the fork; nothing written in one appears in the other.',
    input: { sandbox, ...ForkRequest.shape },
    output: z.object({ sandbox: SandboxView }).strict(),
  },
  snapshot_list: { description: 'List the snapshots of your namespace: id, origin sandbox, tag, size.', input: {}, output: SnapshotList },
  snapshot_delete: { description: 'Delete a snapshot (its id, or SANDBOX:TAG); sandboxes started from it keep their files.', input: { snapshot: SnapshotParams.shape.ref }, output: z.object({ deleted: z.string() }).strict() },
  sandbox_metrics: {
    description: 'Status, limits and current usage (memory, CPU seconds, processes) of a sandbox.',
    input: { sandbox },
    output: z.object({
      name: z.string(), status: SandboxView.shape.status, limits: Limits, usage: SandboxView.shape.usage.unwrap().nullable(),
      started_at: z.string().nullable(), expires_at: z.string().nullable(), idle_expires_at: z.string().nullable(),
    }).strict(),
  },
} as const;

export type ToolName = keyof typeof TOOLS;
