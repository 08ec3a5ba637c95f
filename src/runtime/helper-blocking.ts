/**
 * A throwaway run waited for in one blocking call (the CLI's `bkg run --rm`, RunOptions.block):
 * the helper launched with the same arguments as every other launch (helper-process.ts), through
 * spawnSync, its inputs and its status on unnamed files (unnamed-file.ts).
 */
import { spawnSync } from 'node:child_process';
import { closeSync, fstatSync, readSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { parseStatusLine, type HelperEvent } from './helper-events.js';
import { helperArgv, notRunnable } from './helper-process.js';
import { unnamedFile } from './unnamed-file.js';

/** Where a blocking run's unnamed files go: memory first (the spec holds the command's environment, which should not reach a disk), then the temporary directory. */
const UNNAMED_FILE_DIRS = (): string[] => ['/dev/shm', tmpdir()];

/**
 * A throwaway run waited for in one blocking call (spawnSync), for a process that has nothing else
 * to do meanwhile (the CLI's `bkg run --rm`): no event loop turns, no pipe streams, about 5 ms less
 * than `spawnHelper` on a start. The command's stdio is this process's own; the spec and the seccomp
 * program are unnamed files (nothing could write a pipe while the call blocks), and the status
 * lines go to a third, read when the helper is gone. There is no hold: nothing reads the scratch
 * layer afterwards (no --apply), and no egress socket (no allowlist). Signals to this process act
 * as they do on `spawnHelper`'s: the helper dies with its parent and takes the sandbox with it.
 * Null, with nothing started, when no unnamed file can be made (the caller then takes the evented run).
 */
export function runHelperBlocking(opts: { helperPath: string; spec: Buffer; seccomp: Buffer | null; listChanges: boolean; dirs?: readonly string[] }): { events: HelperEvent[]; code: number | null; signal: NodeJS.Signals | null } | null {
  const dirs = opts.dirs ?? UNNAMED_FILE_DIRS();
  const fds: number[] = [];
  try {
    const spec = unnamedFile(dirs, opts.spec);
    if (spec === null) return null;
    fds.push(spec);
    const seccomp = opts.seccomp ? unnamedFile(dirs, opts.seccomp) : null;
    if (opts.seccomp && seccomp === null) return null;
    if (seccomp !== null) fds.push(seccomp);
    const status = unnamedFile(dirs);
    if (status === null) return null;
    fds.push(status);
    const argv = helperArgv({ specFd: 3, statusFd: 5, ...(seccomp === null ? {} : { seccompFd: 4 }), args: opts.listChanges ? ['--list-changes'] : [] });
    const r = spawnSync(opts.helperPath, argv, { stdio: ['inherit', 'inherit', 'inherit', spec, seccomp ?? 'ignore', status], env: {}, argv0: 'bkg-helper' });
    if (r.error) throw notRunnable(opts.helperPath, r.error as NodeJS.ErrnoException);
    const out = Buffer.alloc(fstatSync(status).size);
    readSync(status, out, 0, out.length, 0);
    return { events: out.toString('utf8').split('\n').filter(Boolean).map(parseStatusLine), code: r.status, signal: r.signal };
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}
