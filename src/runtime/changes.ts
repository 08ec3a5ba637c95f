/** Workspace changes: the overlay's upper layer, listed by the helper and applied back here. */
import { chmod, copyFile, lstat, mkdir, readlink, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { BkgError } from '../api/errors.js';
import type { ChangeEvent, HelperEvent } from './helper-events.js';

export interface Change {
  path: string;
  kind: 'added' | 'modified' | 'deleted';
  type: 'file' | 'dir' | 'symlink' | 'other';
}

export function toChange(ev: ChangeEvent): Change {
  return { path: ev.path, kind: ev.kind, type: ev.file_type };
}

/** The changes among the helper's status events. */
export function changesOf(events: HelperEvent[]): Change[] {
  return events.filter((e): e is ChangeEvent => e.type === 'change').map(toChange);
}

/** Stable order for people and tests: by path, parents before children. */
export function sortChanges(changes: Change[]): Change[] {
  return [...changes].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Every existing parent of `rel` under `root` must be a real directory: never follow a symlink out. */
async function safeTarget(root: string, rel: string): Promise<string> {
  const parts = rel.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) throw new BkgError('INVALID_ARGUMENT', `unsafe change path "${rel}"`);
  let cur = root;
  for (const part of parts.slice(0, -1)) {
    cur = join(cur, part);
    const st = await lstat(cur).catch(() => null);
    if (st && !st.isDirectory()) throw new BkgError('INVALID_ARGUMENT', `cannot apply "${rel}": ${cur} is not a directory`);
  }
  return join(root, ...parts);
}

/** Permission bits that may travel from a sandbox to the host: never setuid, setgid or sticky. */
const SAFE_MODE = 0o777;

/** Copy the listed changes from the upper layer into the host workspace. */
export async function applyChanges(upper: string, workspace: string, changes: Change[]): Promise<void> {
  for (const c of sortChanges(changes)) {
    const target = await safeTarget(workspace, c.path);
    const source = join(upper, ...c.path.split('/'));
    if (c.kind === 'deleted') {
      await rm(target, { recursive: true, force: true });
      continue;
    }
    const existing = await lstat(target).catch(() => null);
    if (c.type === 'dir') {
      if (existing && !existing.isDirectory()) await rm(target, { recursive: true, force: true });
      await mkdir(target, { recursive: true });
      await chmod(target, (await lstat(source)).mode & SAFE_MODE);
    } else if (c.type === 'symlink') {
      if (existing) await rm(target, { recursive: true, force: true });
      await symlink(await readlink(source), target);
    } else if (c.type === 'file') {
      if (existing && !existing.isFile()) await rm(target, { recursive: true, force: true });
      await copyFile(source, target);
      await chmod(target, (await lstat(source)).mode & SAFE_MODE);
    }
  }
}

export const UPPER_DIR = 'upper';
