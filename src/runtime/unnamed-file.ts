/**
 * Unnamed files: what a blocking run of the helper hands it instead of pipes (nothing could write a
 * pipe while the call blocks). The data is written at position 0, so the descriptor's offset stays
 * at the start and the helper reads it from there.
 */
import { closeSync, constants, openSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** Linux's O_TMPFILE (a file with no name, in a directory's filesystem), which Node does not export. */
const O_TMPFILE = 0o20000000 | constants.O_DIRECTORY;

function filled(fd: number, data: Buffer | undefined): number {
  try {
    if (data?.length) writeSync(fd, data, 0, data.length, 0); // at a position: the offset stays at the start
    return fd;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** An O_TMPFILE file in `dir` holding `data`; throws where the filesystem has none (or `dir` is not writable). */
export function tmpfileIn(dir: string, data?: Buffer): number {
  return filled(openSync(dir, O_TMPFILE | constants.O_RDWR, 0o600), data);
}

/** A file created in `dir` and unlinked at once, holding `data`: for a filesystem without O_TMPFILE. */
export function unlinkedFileIn(dir: string, data?: Buffer): number {
  const path = join(dir, `.bkg-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`);
  const fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    unlinkSync(path);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return filled(fd, data);
}

/** An unnamed file holding `data` in the first of `dirs` that can have one (O_TMPFILE, else a file unlinked at once); null when none can. */
export function unnamedFile(dirs: readonly string[], data?: Buffer): number | null {
  for (const dir of dirs) {
    for (const make of [tmpfileIn, unlinkedFileIn]) {
      try {
        return make(dir, data);
      } catch {
        /* the next way, or the next directory */
      }
    }
  }
  return null;
}
