/** What a caller asks for: one sandbox running one command (its id, its workspace, its limits). */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { NetworkString } from '../api/egress.js';
import { BkgError } from '../api/errors.js';
import type { LimitHit } from '../api/sandboxes.js';
import type { Limits } from './limits.js';
import type { SecretFiles } from './secret-files.js';
import type { SeccompProfile } from './seccomp/profile.js';

/**
 * The file a persistent sandbox's exec server listens on (in the daemon's run directory), named for
 * the frames it speaks (helper/src/execserver.h): new frames, a new name, so a supervisor started by an
 * older helper and still running is reached by a spawned helper instead of a protocol it does not speak.
 */
export function execSocketName(id: string): string {
  return `${id}.x2.sock`;
}

/** `none`: loopback only; `host`: the host's network; `allow:ENTRY,…`: loopback and an egress proxy that lets through only those hosts (src/api/egress.ts). */
export type NetworkMode = NetworkString;

export interface SandboxDefinition {
  /** Unique id: names the sandbox's cgroups and hostname. */
  id: string;
  argv: string[];
  env?: Record<string, string>;
  cwd?: string;
  limits: Limits;
  network: NetworkMode;
  /** Absolute host directory mounted copy-on-write at /workspace (without one, /workspace starts empty). */
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
  /** Persistent sandboxes: where their supervisor takes exec requests (exec-socket.ts); without it, every exec spawns a helper. */
  execSocket?: string;
  /** Persistent sandboxes: a host directory saved by a previous stop, copied into the new writable layer. */
  restoreFrom?: string;
  /** Persistent sandboxes: end with the process that started it all the same (an interactive `bkg run`). */
  dieWithParent?: boolean;
  /** Persistent sandboxes: files written at start onto a memory file system of their own (secrets: /run/secrets). */
  secretFiles?: SecretFiles;
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

/** Every sandbox's working directory: the host workspace copy-on-write, or an empty one on its writable layer. */
export const WORKSPACE_MOUNT = '/workspace';

/** Applying changes needs a host directory to copy them to; a sandbox without one keeps its /workspace to itself. */
export function noHostWorkspace(sandbox: string): BkgError {
  return new BkgError('NO_HOST_WORKSPACE', `${sandbox} has no host workspace: its ${WORKSPACE_MOUNT} started empty and lives only in the sandbox, so there is nothing to apply its changes to`);
}

/** 12 random hex digits, read from the kernel's source itself: node:crypto would cost every CLI start ~4 ms to load. */
export function newSandboxId(): string {
  const buf = Buffer.alloc(6);
  const fd = openSync('/dev/urandom', 'r');
  try {
    readSync(fd, buf);
  } finally {
    closeSync(fd);
  }
  return buf.toString('hex');
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
