/** Facts about the host that shape every sandbox's spec, gathered once by the composition root. */
import { lstatSync, readlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { detectCgroups, type CgroupLayout } from './cgroups.js';
import { detectIdentity, type Identity } from './identity.js';

export type RootEntry = { path: string; kind: 'bind' } | { path: string; kind: 'symlink'; target: string };

export interface HostInfo {
  /** True when bkg runs as host root: each sandbox then claims its own unprivileged id range. */
  privileged: boolean;
  /** Which host ids a sandbox's ids are (identity.ts). */
  identity: Identity;
  /** How /usr and the top-level binary and library directories appear in the sandbox. */
  rootEntries: RootEntry[];
  cgroups: CgroupLayout;
  helperPath: string;
}

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

export function detectHost(opts: { prepareCgroups?: boolean; helperPath?: string; idPoolDir?: string } = {}): HostInfo {
  const uid = process.getuid?.() ?? 0;
  const privileged = uid === 0;
  return {
    privileged,
    identity: detectIdentity({ uid, gid: process.getgid?.() ?? 0, ...(opts.idPoolDir ? { poolDir: opts.idPoolDir } : {}) }),
    rootEntries: detectRootEntries(),
    cgroups: detectCgroups({ prepare: opts.prepareCgroups ?? privileged, uid }),
    helperPath: opts.helperPath ?? defaultHelperPath(),
  };
}
