/** Facts about the host that shape every sandbox's spec, gathered once by the composition root. */
import { lstatSync, readlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { detectCgroups, type CgroupLayout } from './cgroups.js';

export interface IdMap {
  inside: number;
  outside: number;
  count: number;
}

export type RootEntry = { path: string; kind: 'bind' } | { path: string; kind: 'symlink'; target: string };

export interface HostInfo {
  /** True when bkg runs as host root: sandboxes then map to an unprivileged id range. */
  privileged: boolean;
  uidMap: IdMap;
  gidMap: IdMap;
  /** How /usr and the top-level binary and library directories appear in the sandbox. */
  rootEntries: RootEntry[];
  cgroups: CgroupLayout;
  helperPath: string;
}

/** The sandbox's uid 0 maps here when bkg runs as root: never host root itself. */
export const DEFAULT_ID_BASE = 100_000;
export const DEFAULT_ID_COUNT = 65_536;

/** The package root (works from src/ under vitest and from dist/ after the build). */
export function packageRoot(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

export function defaultHelperPath(): string {
  return process.env.BKG_HELPER ?? join(packageRoot(), 'helper', 'build', 'bkg-helper');
}

const TOP_LEVEL = ['/usr', '/bin', '/sbin', '/lib', '/lib64', '/lib32', '/libx32'];

export function detectRootEntries(): RootEntry[] {
  const entries: RootEntry[] = [];
  for (const path of TOP_LEVEL) {
    try {
      const st = lstatSync(path);
      if (st.isSymbolicLink()) entries.push({ path, kind: 'symlink', target: readlinkSync(path) });
      else if (st.isDirectory()) entries.push({ path, kind: 'bind' });
    } catch {
      /* absent on this host */
    }
  }
  return entries;
}

export function detectHost(opts: { prepareCgroups?: boolean; helperPath?: string; idBase?: number } = {}): HostInfo {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const privileged = uid === 0;
  const base = opts.idBase ?? DEFAULT_ID_BASE;
  return {
    privileged,
    uidMap: privileged ? { inside: 0, outside: base, count: DEFAULT_ID_COUNT } : { inside: 0, outside: uid, count: 1 },
    gidMap: privileged ? { inside: 0, outside: base, count: DEFAULT_ID_COUNT } : { inside: 0, outside: gid, count: 1 },
    rootEntries: detectRootEntries(),
    cgroups: detectCgroups({ prepare: opts.prepareCgroups ?? privileged }),
    helperPath: opts.helperPath ?? defaultHelperPath(),
  };
}
