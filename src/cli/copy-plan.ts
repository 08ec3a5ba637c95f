/** `bkg cp SRC DST`: exactly one side is NAME:/abs/path inside a sandbox; the other a local file (or - for stdin/stdout). */
import { statSync } from 'node:fs';
import { basename, join, posix, resolve } from 'node:path';
import { BkgError } from '../api/errors.js';

export type CopyPlan =
  | { direction: 'in'; local: string; sandbox: string; path: string }
  | { direction: 'out'; sandbox: string; path: string; local: string };

const REMOTE = /^([A-Za-z0-9][A-Za-z0-9_.-]{0,62}):(.*)$/s;

function remote(arg: string): { sandbox: string; path: string } | null {
  const m = REMOTE.exec(arg);
  if (!m) return null;
  const [, sandbox = '', path = ''] = m;
  if (!path.startsWith('/')) throw new BkgError('INVALID_ARGUMENT', `"${arg}": the path inside the sandbox must be absolute, as in ${sandbox}:/workspace/file (write ./${arg} for a local file)`);
  if (path.includes('\0')) throw new BkgError('INVALID_ARGUMENT', `"${arg}": invalid path`);
  return { sandbox, path };
}

/** Resolve SRC and DST; a directory destination (existing, or ending in /) gets the source's file name. */
export function planCopy(src: string, dst: string, cwd = process.cwd()): CopyPlan {
  const from = remote(src);
  const to = remote(dst);
  if (from && to) throw new BkgError('INVALID_ARGUMENT', 'bkg cp copies between the host and one sandbox: one of SRC and DST must be a local path');
  if (!from && !to) throw new BkgError('INVALID_ARGUMENT', 'one of SRC and DST must be NAME:/path inside a sandbox');
  if (to) {
    const local = src === '-' ? '-' : resolve(cwd, src);
    const path = to.path.endsWith('/') ? (local === '-' ? null : posix.join(to.path, basename(local))) : to.path;
    if (path === null) throw new BkgError('INVALID_ARGUMENT', 'copying stdin (-) needs a file name inside the sandbox, not a directory');
    return { direction: 'in', local, sandbox: to.sandbox, path };
  }
  const f = from as { sandbox: string; path: string };
  if (dst === '-') return { direction: 'out', sandbox: f.sandbox, path: f.path, local: '-' };
  const abs = resolve(cwd, dst);
  const isDir = dst.endsWith('/') || statSync(abs, { throwIfNoEntry: false })?.isDirectory() === true;
  const name = posix.basename(f.path);
  if (isDir && !name) throw new BkgError('INVALID_ARGUMENT', `"${src}" names a directory; bkg cp copies single files`);
  return { direction: 'out', sandbox: f.sandbox, path: f.path, local: isDir ? join(abs, name) : abs };
}
