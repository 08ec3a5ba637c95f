/**
 * Sandbox settings given as flags → the API's create request (memory_mb, timeout_s, ...), with one
 * set of units and rules for every command: `bkg add` stores it in cave.yaml, `bkg run --rm` turns
 * it into a definition through the runtime's one conversion (src/runtime/from-request.ts), just as
 * the daemon does with what REST and MCP receive. Errors name the flag, not the field.
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { CaveSandbox } from '../api/cave-config.js';
import { networkFromFlag } from '../api/egress.js';
import { BkgError } from '../api/errors.js';
import type { CreateSandboxRequest, LimitsInput } from '../api/sandboxes.js';
import { MIN_DISK_BYTES, MIN_MEMORY_BYTES, parseCpus, parseDuration, parseLimitSize, parsePositiveInt } from '../api/units.js';
import { parseEnv } from './env-flags.js';
import { parseSecretFlags } from './secret-flags.js';

export interface SandboxFlags {
  runtime?: string | undefined;
  memory?: string | undefined;
  cpus?: string | undefined;
  pids?: string | undefined;
  disk?: string | undefined;
  timeout?: string | undefined;
  'idle-timeout'?: string | undefined;
  network?: string | undefined;
  env?: string[] | undefined;
  secret?: string[] | undefined;
  workspace?: string | undefined;
  seccomp?: string | undefined;
  'allow-nested-namespaces'?: boolean | undefined;
  placement?: string | undefined;
}

/** The flags that describe a sandbox (for "does not apply here" errors). */
export const SANDBOX_FLAGS = ['runtime', 'memory', 'cpus', 'pids', 'disk', 'timeout', 'idle-timeout', 'network', 'workspace', 'secret', 'seccomp', 'allow-nested-namespaces', 'placement'] as const;

const MiB = 1024 * 1024;

/** A size in whole MiB (the API's unit), at least `min` bytes. */
function wholeMiB(value: string, flag: string, min: number): number {
  const bytes = parseLimitSize(value, flag, min);
  if (bytes % MiB !== 0) throw new BkgError('INVALID_ARGUMENT', `${flag}: "${value}" is not a whole number of MiB (examples: 256m, 1.5g)`, { details: { field: flag } });
  return bytes / MiB;
}

function wholeSeconds(value: string, flag: string): number {
  const ms = parseDuration(value, flag);
  if (ms % 1000 !== 0) throw new BkgError('INVALID_ARGUMENT', `${flag}: "${value}" is not a whole number of seconds (examples: 30s, 10m, 1h)`, { details: { field: flag } });
  return ms / 1000;
}

/** The limits the flags name, in the API's units; `timeout` too unless the caller takes it as a command's deadline. */
export function limitsFromFlags(flags: SandboxFlags, opts: { timeout: boolean } = { timeout: true }): LimitsInput | undefined {
  const limits: LimitsInput = {
    ...(flags.memory === undefined ? {} : { memory_mb: wholeMiB(flags.memory, '--memory', MIN_MEMORY_BYTES) }),
    ...(flags.cpus === undefined ? {} : { cpus: parseCpus(flags.cpus, '--cpus') }),
    ...(flags.pids === undefined ? {} : { pids: parsePositiveInt(flags.pids, '--pids', 4_194_304) }),
    ...(flags.disk === undefined ? {} : { disk_mb: wholeMiB(flags.disk, '--disk', MIN_DISK_BYTES) }),
    ...(flags.timeout === undefined || !opts.timeout ? {} : { timeout_s: wholeSeconds(flags.timeout, '--timeout') }),
    ...(flags['idle-timeout'] === undefined ? {} : { idle_timeout_s: wholeSeconds(flags['idle-timeout'], '--idle-timeout') }),
  };
  return Object.keys(limits).length ? limits : undefined;
}

/** A host directory for --workspace: existing, not /; absolute. */
export function workspaceFromFlag(dir: string, cwd = process.cwd()): string {
  const abs = resolve(cwd, dir);
  if (abs === '/') throw new BkgError('WORKSPACE_INVALID', '--workspace: / cannot be a workspace');
  if (!statSync(abs, { throwIfNoEntry: false })?.isDirectory()) throw new BkgError('WORKSPACE_INVALID', `--workspace: ${abs} is not an existing directory`);
  return abs;
}

/** Flags → a create request's fields (a seccomp profile stays a file path here; run and cave.yaml load it later). */
export function requestFromFlags(flags: SandboxFlags, opts: { cwd?: string; timeout?: boolean } = {}): Omit<CreateSandboxRequest, 'name' | 'seccomp'> & { seccomp?: string } {
  const limits = limitsFromFlags(flags, { timeout: opts.timeout ?? true });
  const env = flags.env?.length ? parseEnv(flags.env) : undefined;
  const secrets = flags.secret?.length ? parseSecretFlags(flags.secret) : undefined;
  return {
    ...(flags.runtime === undefined ? {} : { runtime: flags.runtime as CreateSandboxRequest['runtime'] }),
    ...(flags.network === undefined ? {} : { network: networkFromFlag(flags.network) }),
    ...(flags.workspace === undefined ? {} : { workspace: workspaceFromFlag(flags.workspace, opts.cwd) }),
    ...(env === undefined ? {} : { env }),
    ...(secrets === undefined ? {} : { secrets }),
    ...(limits === undefined ? {} : { limits }),
    ...(flags['allow-nested-namespaces'] ? { allow_nested_namespaces: true } : {}),
    ...(flags.placement === undefined ? {} : { placement: flags.placement as CreateSandboxRequest['placement'] }),
    ...(flags.seccomp === undefined ? {} : { seccomp: resolve(opts.cwd ?? process.cwd(), flags.seccomp) }),
  };
}

/** Which flag sets which field, for error messages. */
const FLAG_OF: Record<string, keyof SandboxFlags | 'NAME'> = {
  name: 'NAME', runtime: 'runtime', network: 'network', workspace: 'workspace', env: 'env', secrets: 'secret', seccomp: 'seccomp', allow_nested_namespaces: 'allow-nested-namespaces', placement: 'placement',
  'limits.memory_mb': 'memory', 'limits.cpus': 'cpus', 'limits.pids': 'pids', 'limits.disk_mb': 'disk', 'limits.timeout_s': 'timeout', 'limits.idle_timeout_s': 'idle-timeout',
};

/** The cave.yaml entry for NAME and the flags (paths absolute), validated like the file, errors naming the flag. */
export async function sandboxFromFlags(name: string, flags: SandboxFlags, cwd = process.cwd()): Promise<CaveSandbox> {
  const entry = { name, ...requestFromFlags(flags, { cwd }) };
  const [{ CaveSandboxSchema }, { parse }] = await Promise.all([import('../api/cave-config.js'), import('../api/parse.js')]);
  try {
    return parse(CaveSandboxSchema, entry);
  } catch (err) {
    if (!(err instanceof BkgError) || err.code !== 'INVALID_ARGUMENT') throw err;
    const field = typeof err.details?.field === 'string' ? err.details.field : '';
    const flag = FLAG_OF[field] ?? FLAG_OF[field.split(/[.[]/)[0] ?? ''];
    if (flag === undefined) throw err;
    const problem = err.message.slice(err.message.indexOf(': ') + 2);
    const label = flag === 'NAME' ? 'NAME' : `--${flag}`;
    const raw = flag === 'NAME' ? name : flags[flag];
    const given = typeof raw === 'string' ? ` "${raw}"` : '';
    const value = field.startsWith('limits.') ? (entry.limits as Record<string, unknown> | undefined)?.[field.slice('limits.'.length)] : undefined;
    const converted = field.startsWith('limits.') ? ` gives ${field.slice('limits.'.length)} = ${String(value)}, which` : '';
    throw new BkgError('INVALID_ARGUMENT', `${label}:${given}${converted} ${problem}`, { details: { field, flag: label } });
  }
}
