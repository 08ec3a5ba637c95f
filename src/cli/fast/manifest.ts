/**
 * oclif.manifest.json (written by scripts/gen-manifest.mjs at build time): every command's id,
 * summary, args and flags. The fast path parses arguments and prints help from it without loading
 * oclif; oclif itself uses it to load only the command it runs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ManifestFlag {
  name: string;
  type: 'boolean' | 'option';
  char?: string;
  description?: string;
  multiple?: boolean;
  options?: string[];
  default?: unknown;
  allowNo?: boolean;
  required?: boolean;
  hidden?: boolean;
}

export interface ManifestArg {
  name: string;
  description?: string;
  required?: boolean;
}

export interface ManifestCommand {
  id: string;
  summary?: string;
  description?: string;
  strict?: boolean;
  hidden?: boolean;
  aliases?: string[];
  args: Record<string, ManifestArg>;
  flags: Record<string, ManifestFlag>;
}

export interface Manifest {
  version: string;
  commands: Record<string, ManifestCommand>;
  topics: Record<string, { description: string }>;
  bin: string;
}

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');

/** The package's manifest and oclif topics; null when the build has not written it (then oclif decides). */
export function loadManifest(): Manifest | null {
  try {
    const m = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')) as Omit<Manifest, 'topics' | 'bin'>;
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; oclif: { bin: string; topics?: Manifest['topics'] } };
    if (pkg.version !== m.version) return null; // a manifest of another build
    return { ...m, topics: pkg.oclif.topics ?? {}, bin: pkg.oclif.bin };
  } catch {
    return null;
  }
}

/** What `--version` prints (as oclif does). */
export function versionLine(m: Pick<Manifest, 'bin' | 'version'>): string {
  return `${m.bin}/${m.version} ${process.platform}-${process.arch} node-${process.version}`;
}

/** The command a user's words name (`key create` → key:create; an alias such as `top` → dashboard), and how many words that took. */
export function findCommand(m: Manifest, words: readonly string[]): { command: ManifestCommand; used: number } | null {
  for (let n = Math.min(3, words.length); n >= 1; n--) {
    const id = words.slice(0, n).join(':');
    const command = m.commands[id] ?? Object.values(m.commands).find((c) => c.aliases?.includes(id));
    if (command) return { command, used: n };
  }
  return null;
}
