/**
 * The compiled seccomp program a sandbox runs under. bkg's default profile (with and without nested
 * namespaces) is compiled at build time into default-programs.json beside this file, keyed by the
 * profile file's size and mtime so that an edited profile is never served stale; anything else, or
 * a build without it, is compiled here on first use (the compiler loads only then: the CLI's
 * start-up does not pay for it).
 */
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defaultSeccompProfilePath } from './default-path.js';
import type { SeccompProfile } from './profile.js';

export const PRECOMPILED_FILE = fileURLToPath(new URL('./default-programs.json', import.meta.url));

interface Precompiled {
  /** Of the profile file compiled: `${size}:${mtimeMs}`. */
  profile: string;
  default: string;
  nested: string;
}

/** What identifies the profile file's content for the cache. */
export function profileStamp(): string {
  const st = statSync(defaultSeccompProfilePath());
  return `${st.size}:${st.mtimeMs}`;
}

function precompiled(): Precompiled | null {
  try {
    const file = JSON.parse(readFileSync(PRECOMPILED_FILE, 'utf8')) as Precompiled;
    return file.profile === profileStamp() ? file : null;
  } catch {
    return null;
  }
}

/** One per runtime: caches bkg's default programs. */
export class SeccompPrograms {
  private readonly cache = new Map<'default' | 'nested', Buffer>();

  /** The program for a custom profile, or bkg's default (which allows unshare/setns when nested namespaces are allowed). */
  async program(custom: SeccompProfile | undefined, allowNestedNamespaces: boolean): Promise<Buffer> {
    const { compileSeccomp, sandboxSeccompProfile } = custom ? await import('./index.js') : { compileSeccomp: null, sandboxSeccompProfile: null };
    if (custom && compileSeccomp && sandboxSeccompProfile) return compileSeccomp(sandboxSeccompProfile(custom, allowNestedNamespaces), { allowNestedNamespaces });
    const key = allowNestedNamespaces ? 'nested' : 'default';
    let p = this.cache.get(key);
    if (!p) {
      const built = precompiled();
      p = built ? Buffer.from(built[key], 'base64') : await compileDefault(allowNestedNamespaces);
      this.cache.set(key, p);
    }
    return p;
  }
}

/** bkg's default program, compiled now (also what the build writes into default-programs.json). */
export async function compileDefault(allowNestedNamespaces: boolean): Promise<Buffer> {
  const { compileSeccomp, sandboxSeccompProfile } = await import('./index.js');
  return compileSeccomp(sandboxSeccompProfile(undefined, allowNestedNamespaces), { allowNestedNamespaces });
}
