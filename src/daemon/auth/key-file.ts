/**
 * The daemon's private key files under BKG_HOME (the master key, the secrets keypair): read only
 * when they are regular files that no other user can read (mode 0600), created whole or not at all
 * (a private temporary file, fsynced, linked into place), and never overwritten — a file created
 * concurrently by another process wins and is the one used.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { BkgError } from '../../api/errors.js';

/** `label` names the file in messages ("master key file"); `hint` is the advice for a file that cannot be used. */
export interface KeyFileKind {
  label: string;
  hint?: string;
  /** Follow a symbolic link at `path` (the master key may be a mounted secret); default: refuse one. */
  followLinks?: boolean;
}

function invalid(kind: KeyFileKind, path: string, what: string, hint = kind.hint, cause?: unknown): BkgError {
  return new BkgError('INVALID_CONFIG', `${kind.label} ${path} ${what}`, { ...(hint ? { hint } : {}), ...(cause ? { cause } : {}) });
}

/** The text of the key file at `path`, or null when there is none. */
export function readKeyFile(path: string, kind: KeyFileKind): string | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (kind.followLinks ? 0 : constants.O_NOFOLLOW));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw invalid(kind, path, `cannot be read: ${(err as Error).message}`, kind.hint, err);
  }
  try {
    // fstat the open descriptor, so the file checked is the file read
    const st = fstatSync(fd);
    if (!st.isFile()) throw invalid(kind, path, 'is not a regular file');
    if ((st.mode & 0o077) !== 0) {
      throw invalid(kind, path, `is accessible to other users (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')})`, `Run \`chmod 600 ${path}\`, and consider the key compromised if others could read it.`);
    }
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** Create the key file with `text` (mode 0600); false when another process created one first (read that one). */
export function createKeyFile(path: string, text: string): boolean {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(tmp, path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      return false;
    }
  } finally {
    unlinkSync(tmp);
  }
  syncDir(dir);
  return true;
}

function syncDir(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
