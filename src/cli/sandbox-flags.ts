/**
 * Sandbox settings given as flags (`bkg add NAME --memory 256m --timeout 1h ...`) → one cave.yaml
 * entry in the API's units (memory_mb, timeout_s, ...). Errors name the flag, not the field.
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { CaveSandboxSchema, type CaveSandbox } from '../api/cave-config.js';
import { BkgError } from '../api/errors.js';
import type { LimitsInput } from '../api/sandboxes.js';
import { MIN_DISK_BYTES, MIN_MEMORY_BYTES, parseCpus, parseDuration, parseLimitSize, parsePositiveInt } from '../api/units.js';
import { validate } from '../api/validate.js';
import { parseEnv } from './env-flags.js';

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
  workspace?: string | undefined;
}

const MiB = 1024 * 1024;

/** Which flag sets which field, for error messages. */
const FLAG_OF: Record<string, keyof SandboxFlags | 'NAME'> = {
  name: 'NAME',
  runtime: 'runtime',
  network: 'network',
  workspace: 'workspace',
  env: 'env',
  'limits.memory_mb': 'memory',
  'limits.cpus': 'cpus',
  'limits.pids': 'pids',
  'limits.disk_mb': 'disk',
  'limits.timeout_s': 'timeout',
  'limits.idle_timeout_s': 'idle-timeout',
};

function wholeMiB(value: string, flag: string, min: number): number {
  const bytes = parseLimitSize(value, flag, min);
  if (bytes % MiB !== 0) throw new BkgError('INVALID_ARGUMENT', `${flag}: "${value}" is not a whole number of MiB (examples: 256m, 1g)`);
  return bytes / MiB;
}

function wholeSeconds(value: string, flag: string): number {
  const ms = parseDuration(value, flag);
  if (ms % 1000 !== 0) throw new BkgError('INVALID_ARGUMENT', `${flag}: "${value}" is not a whole number of seconds (examples: 30s, 10m, 1h)`);
  return ms / 1000;
}

/** KEY=VALUE pairs; the same rules and messages as `bkg run --env`. */
export async function envFromFlags(pairs: string[] | undefined): Promise<Record<string, string> | undefined> {
  return pairs?.length ? parseEnv(pairs) : undefined;
}

export function limitsFromFlags(flags: SandboxFlags): LimitsInput | undefined {
  const limits: LimitsInput = {
    ...(flags.memory === undefined ? {} : { memory_mb: wholeMiB(flags.memory, '--memory', MIN_MEMORY_BYTES) }),
    ...(flags.cpus === undefined ? {} : { cpus: parseCpus(flags.cpus, '--cpus') }),
    ...(flags.pids === undefined ? {} : { pids: parsePositiveInt(flags.pids, '--pids', 4_194_304) }),
    ...(flags.disk === undefined ? {} : { disk_mb: wholeMiB(flags.disk, '--disk', MIN_DISK_BYTES) }),
    ...(flags.timeout === undefined ? {} : { timeout_s: wholeSeconds(flags.timeout, '--timeout') }),
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

/** The cave.yaml entry for NAME and the flags (workspace absolute), validated like the file. */
export async function sandboxFromFlags(name: string, flags: SandboxFlags, cwd = process.cwd()): Promise<CaveSandbox> {
  const env = await envFromFlags(flags.env);
  const limits = limitsFromFlags(flags);
  const entry = {
    name,
    ...(flags.runtime === undefined ? {} : { runtime: flags.runtime }),
    ...(flags.network === undefined ? {} : { network: flags.network }),
    ...(flags.workspace === undefined ? {} : { workspace: workspaceFromFlag(flags.workspace, cwd) }),
    ...(env === undefined ? {} : { env }),
    ...(limits === undefined ? {} : { limits }),
  };
  try {
    return validate(CaveSandboxSchema, entry);
  } catch (err) {
    if (!(err instanceof BkgError) || err.code !== 'INVALID_ARGUMENT') throw err;
    const field = typeof err.details?.field === 'string' ? err.details.field : '';
    const flag = FLAG_OF[field] ?? FLAG_OF[field.split(/[.[]/)[0] ?? ''];
    if (flag === undefined) throw err;
    const problem = err.message.slice(err.message.indexOf(': ') + 2);
    const label = flag === 'NAME' ? 'NAME' : `--${flag}`;
    const raw = flag === 'NAME' ? name : flags[flag];
    const given = typeof raw === 'string' ? ` "${raw}"` : '';
    const converted = field.startsWith('limits.') ? ` gives ${field.slice('limits.'.length)} = ${String((limits as Record<string, unknown> | undefined)?.[field.slice('limits.'.length)])}, which` : '';
    throw new BkgError('INVALID_ARGUMENT', `${label}:${given}${converted} ${problem}`, { details: { field, flag: label } });
  }
}
