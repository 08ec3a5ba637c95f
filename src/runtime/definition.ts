/** What a caller asks for: one sandbox running one command (its id, its workspace, its limits). */
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { BkgError } from '../api/errors.js';
import type { LimitHit } from '../api/sandboxes.js';
import type { Limits } from './limits.js';
import type { SeccompProfile } from './seccomp/profile.js';

export type NetworkMode = 'none' | 'host';

export interface SandboxDefinition {
  /** Unique id: names the sandbox's cgroups and hostname. */
  id: string;
  argv: string[];
  env?: Record<string, string>;
  cwd?: string;
  limits: Limits;
  network: NetworkMode;
  /** Absolute host directory mounted copy-on-write at /workspace. */
  workspace?: string;
  hostname?: string;
  /** Let the sandbox create nested namespaces (off by default). */
  allowNestedNamespaces?: boolean;
  /** A custom seccomp profile instead of bkg's default (persistent sandboxes: for every exec). */
  seccomp?: SeccompProfile;
  /** Keep the sandbox up with no command of its own (argv is ignored); commands arrive by exec.
      It then outlives its starter: only a stop or its lifetime (limits.timeoutMs) ends it. */
  persist?: boolean;
  /** Bind a host unix socket into the sandbox (the daemon's API, for code that calls bkg from inside). */
  apiSocket?: { host: string; inside: string };
  /** Persistent sandboxes: a host directory saved by a previous stop, copied into the new writable layer. */
  restoreFrom?: string;
  /** Persistent sandboxes: end with the process that started it all the same (an interactive `bkg run`). */
  dieWithParent?: boolean;
}

/** One command run inside a running sandbox. */
export interface ExecDefinition {
  argv: string[];
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
  /** Give the command a terminal of this size (output then arrives on stdout only). */
  tty?: { rows: number; cols: number };
}

export type { LimitHit } from '../api/sandboxes.js';

export const WORKSPACE_MOUNT = '/workspace';

export function newSandboxId(): string {
  return randomBytes(6).toString('hex');
}

/** The absolute workspace directory; refused when it is / or not an existing directory. */
export function validateWorkspace(dir: string): string {
  const abs = resolve(dir);
  if (abs === '/') throw new BkgError('WORKSPACE_INVALID', '--workspace: / cannot be a workspace');
  const st = statSync(abs, { throwIfNoEntry: false });
  if (!st?.isDirectory()) throw new BkgError('WORKSPACE_INVALID', `--workspace: ${abs} is not an existing directory`);
  return abs;
}

/** The limits a finished command ran into, from what the helper and the cgroups report. */
export function limitsHit(r: { oomKilled: boolean; timedOut: boolean; pidsRefused: boolean; diskFull: boolean }): LimitHit[] {
  return [...(r.oomKilled ? ['memory' as const] : []), ...(r.pidsRefused ? ['pids' as const] : []), ...(r.diskFull ? ['disk' as const] : []), ...(r.timedOut ? ['time' as const] : [])];
}
