/** Names and enumerations of the wire contract, without zod (the CLI's fast path imports these). */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const RUNTIMES = ['shell', 'python', 'node'] as const;
export const NETWORKS = ['none', 'host'] as const;
/** Where a fleet runs a new sandbox: the host asked, or the least-loaded live one. */
export const PLACEMENTS = ['local', 'auto'] as const;
export const ROLES = ['admin', 'namespace', 'readonly'] as const;
export type Role = (typeof ROLES)[number];
/**
 * The kinds of API key, as the rights table (src/daemon/auth/rights.ts) and whoami name them: the
 * roles a key is made with, and `sandbox`, the key bkg injects into a sandbox (that sandbox only).
 */
export const KEY_KINDS = [...ROLES, 'sandbox'] as const;
export type KeyKind = (typeof KEY_KINDS)[number];
/** What a model-access key may be used for. */
export const SCOPES = ['chat', 'completion', 'embed'] as const;
export type Scope = (typeof SCOPES)[number];
export const SANDBOX_STATUSES = ['created', 'running', 'stopped', 'failed'] as const;
export const LIMIT_HITS = ['memory', 'pids', 'disk', 'time'] as const;

/** Output kept per stream in a one-shot REST exec; more is dropped and flagged. */
export const EXEC_OUTPUT_CAP = 1024 * 1024;
/** Largest file moved by GET/PUT /files. */
export const FILE_CAP = 16 * 1024 * 1024;
/** The namespace header of the model-access flow (the seed's name, on the wire). */
export const NAMESPACE_HEADER = 'x-cave-namespace';

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}
