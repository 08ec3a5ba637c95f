/**
 * oclif.manifest.json (written by scripts/gen-manifest.mjs at build time): every command's id,
 * summary, args and flags. The fast path prints help and completes words from it without loading
 * oclif; oclif itself uses it to load only the command it runs.
 *
 * The same build splits it for the fast path's everyday start (dist/cli/fast/commands/): an index
 * of the commands' ids, aliases and topics, and one file per command with its args and flags. A
 * command then reads a few kilobytes, not the whole manifest (93 kB, parsed on every start).
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

/** What finding a command takes: every command's id and aliases, and the topics. */
export interface CommandIndex {
  version: string;
  commands: Record<string, Pick<ManifestCommand, 'id' | 'aliases' | 'hidden'>>;
  topics: Record<string, { description: string }>;
  bin: string;
}

export interface Manifest extends CommandIndex {
  commands: Record<string, ManifestCommand>;
}

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');
/** The build's split of the manifest (scripts/gen-manifest.mjs writes it there). */
export const COMMANDS_DIR = join(ROOT, 'dist', 'cli', 'fast', 'commands');
export const INDEX_FILE = 'index.json';
/** A command's file in COMMANDS_DIR (`key:create` → key:create.json). */
export const commandFile = (id: string): string => `${id}.json`;

const readJson = (file: string): unknown => JSON.parse(readFileSync(file, 'utf8'));
const packageVersion = (): string => (readJson(join(ROOT, 'package.json')) as { version: string }).version;

/** The package's manifest and oclif topics; null when the build has not written it (then oclif decides). */
export function loadManifest(): Manifest | null {
  try {
    const m = readJson(join(ROOT, 'oclif.manifest.json')) as Omit<Manifest, 'topics' | 'bin'>;
    const pkg = readJson(join(ROOT, 'package.json')) as { version: string; oclif: { bin: string; topics?: Manifest['topics'] } };
    if (pkg.version !== m.version) return null; // a manifest of another build
    return { ...m, topics: pkg.oclif.topics ?? {}, bin: pkg.oclif.bin };
  } catch {
    return null;
  }
}

/** The build's index of commands; null when it has not written one, or wrote it for another version. */
export function loadIndex(): CommandIndex | null {
  try {
    const index = readJson(join(COMMANDS_DIR, INDEX_FILE)) as CommandIndex;
    return index.version === packageVersion() ? index : null;
  } catch {
    return null;
  }
}

/** One command's args and flags, from its file next to the index (null: none). */
export function loadCommand(id: string): ManifestCommand | null {
  try {
    return readJson(join(COMMANDS_DIR, commandFile(id))) as ManifestCommand;
  } catch {
    return null;
  }
}

/** The index of a whole manifest (what the build writes as the index file). */
export function indexOf(m: Manifest): CommandIndex {
  const commands: CommandIndex['commands'] = {};
  for (const [id, c] of Object.entries(m.commands)) commands[id] = { id: c.id, ...(c.aliases?.length ? { aliases: c.aliases } : {}), ...(c.hidden ? { hidden: true } : {}) };
  return { version: m.version, bin: m.bin, topics: m.topics, commands };
}

/** What `--version` prints (as oclif does). */
export function versionLine(m: Pick<Manifest, 'bin' | 'version'>): string {
  return `${m.bin}/${m.version} ${process.platform}-${process.arch} node-${process.version}`;
}

/** The command a user's words name (`key create` → key:create; an alias such as `top` → dashboard), and how many words that took. */
export function findCommand<C extends Pick<ManifestCommand, 'id' | 'aliases'>>(m: { commands: Record<string, C> }, words: readonly string[]): { command: C; used: number } | null {
  for (let n = Math.min(3, words.length); n >= 1; n--) {
    const id = words.slice(0, n).join(':');
    const command = m.commands[id] ?? Object.values(m.commands).find((c) => c.aliases?.includes(id));
    if (command) return { command, used: n };
  }
  return null;
}
