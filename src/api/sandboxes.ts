/**
 * The sandbox wire contract, shared by the daemon (validation) and the CLI client (types):
 * request schemas and response shapes of /api/v1/sandboxes.
 */
import type { Change } from '../runtime/changes.js';
import type { Infer } from './validate.js';

export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const RUNTIMES = ['shell', 'python', 'node'] as const;
export const NETWORKS = ['none', 'host'] as const;

const env = { type: 'object', additionalProperties: { type: 'string', maxLength: 32_768 } } as const;

export const LimitsSchema = {
  type: 'object',
  properties: {
    memory_mb: { type: 'integer', min: 16, max: 1_048_576 },
    cpus: { type: 'number', min: 0.01, max: 1024 },
    pids: { type: 'integer', min: 1, max: 4_194_304 },
    disk_mb: { type: 'integer', min: 1, max: 4_194_304 },
    timeout_s: { type: 'integer', min: 1, max: 30 * 86_400 },
    idle_timeout_s: { type: 'integer', min: 1, max: 30 * 86_400 },
  },
} as const;

export const CreateSandboxSchema = {
  type: 'object',
  properties: {
    name: { type: 'string', required: true, pattern: NAME_PATTERN },
    project: { type: 'string', pattern: NAME_PATTERN },
    namespace: { type: 'string', pattern: NAME_PATTERN },
    runtime: { type: 'enum', values: RUNTIMES },
    limits: LimitsSchema,
    network: { type: 'enum', values: NETWORKS },
    env,
    workspace: { type: 'string', minLength: 1, maxLength: 4096 },
    /** Let the sandbox create nested namespaces (a privilege). */
    allow_nested_namespaces: { type: 'boolean' },
    /** An OCI seccomp profile (the "seccomp" object of an OCI runtime spec) instead of the default (a privilege). */
    seccomp: { type: 'object', additionalProperties: true },
  },
} as const;

export const ExecSchema = {
  type: 'object',
  properties: {
    cmd: { type: 'array', required: true, items: { type: 'string', maxLength: 131_072 }, maxLength: 4096 },
    env,
    cwd: { type: 'string', pattern: /^\//, maxLength: 4096 },
    stdin: { type: 'string', maxLength: 1_048_576 },
    timeout_ms: { type: 'integer', min: 1, max: 86_400_000 },
  },
} as const;

export type LimitsInput = Infer<typeof LimitsSchema>;
export type CreateSandboxRequest = Infer<typeof CreateSandboxSchema>;
export type ExecRequest = Infer<typeof ExecSchema>;
export type SandboxStatus = 'created' | 'running' | 'stopped' | 'failed';

export interface SandboxView {
  id: string;
  name: string;
  namespace: string;
  project: string | null;
  status: SandboxStatus;
  runtime: string;
  network: string;
  limits: LimitsInput;
  env: string[];
  workspace: string | null;
  allow_nested_namespaces: boolean;
  /** Which seccomp profile confines it: bkg's default, or a custom one given at create. */
  seccomp: 'default' | 'custom';
  /** The sandbox's own API key, masked (shown in full only once, in the create response's `api_key_secret`). */
  api_key: string;
  created_at: string;
  started_at: string | null;
  expires_at: string | null;
  idle_expires_at: string | null;
  last_activity_at: string | null;
  /** Live usage while running. */
  usage?: { memory_bytes: number | null; cpu_seconds: number | null; pids: number | null };
}

/** A limit a command ran into: memory (OOM kill), pids (a fork refused), disk (writable space full), time (killed at its timeout). */
export type LimitHit = 'memory' | 'pids' | 'disk' | 'time';

export interface ExecResponse {
  exit_code: number | null;
  signal: number | null;
  stdout: string;
  stderr: string;
  timed_out: boolean;
  oom_killed: boolean;
  duration_ms: number;
  /** Output past 1 MiB per stream was dropped (REST exec only; streamed execs are never cut): either stream, */
  truncated: boolean;
  /** ... stdout, and stderr. */
  stdout_truncated?: boolean;
  stderr_truncated?: boolean;
  /** The limits the command ran into (empty when none). */
  limits_hit: LimitHit[];
  exec_error?: string;
}

export interface ChangesResponse {
  changes: Change[];
}

/** Output kept per stream in an exec response; more is dropped and `truncated` set. */
export const EXEC_OUTPUT_CAP = 1024 * 1024;
/** Largest file moved by GET/PUT /files. */
export const FILE_CAP = 16 * 1024 * 1024;
