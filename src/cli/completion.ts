/**
 * What to offer at the cursor, for the shell completion scripts (completion-scripts.ts): they run
 * `bkg __complete WORD...` (the words after `bkg`, the last one the word being completed) on the
 * fast path and print what comes back. Commands, topics and flags come from the build's command
 * manifest, so completion follows the commands without a list of its own; sandbox names come from a
 * daemon that is already running (never started for this) with a short timeout.
 *
 * Output: one candidate a line, `VALUE` or `VALUE<TAB>DESCRIPTION`; directive lines start with ':'
 * (`:files`: also complete local file names; `:nospace`: no space after the value, as after `web:`).
 */
import type { Manifest, ManifestCommand, ManifestFlag } from './fast/manifest.js';

export interface Candidate {
  value: string;
  description?: string;
}

export interface Completion {
  candidates: Candidate[];
  /** Also offer local file names. */
  files: boolean;
  /** Do not add a space after the value (it goes on: `web:` + a path). */
  nospace: boolean;
}

/** Sandboxes to offer, by name, with a word about each (its status). */
export type SandboxLister = () => Promise<Candidate[]>;

/** Positionals that take a sandbox's name (the manifest's words for them: "Sandbox name or id.", "Sandbox names or ids."). */
const SANDBOX_ARG = /^sandbox names? or ids?\b/i;
/** Positionals that take NAME:/path or a local path (bkg cp). */
const SANDBOX_PATH_ARG = /\bNAME:\/path\b/;

const none = (): Completion => ({ candidates: [], files: false, nospace: false });
const files = (): Completion => ({ candidates: [], files: true, nospace: false });
const firstLine = (s: string | undefined): string | undefined => s?.split('\n')[0]?.trim() || undefined;

/** The next words under `prefix` (a topic's id, '' at the root): subcommands and subtopics, with their summaries. */
function nextWords(m: Manifest, prefix: string): Candidate[] {
  const out = new Map<string, string | undefined>();
  const depth = prefix ? prefix.split(':').length : 0;
  for (const c of Object.values(m.commands)) {
    if (c.hidden || (prefix && !c.id.startsWith(`${prefix}:`))) continue;
    const parts = c.id.split(':');
    const word = parts[depth];
    if (word === undefined) continue;
    const topicId = parts.slice(0, depth + 1).join(':');
    const isCommand = parts.length === depth + 1;
    const description = isCommand ? firstLine(c.summary ?? c.description) : m.topics[topicId]?.description;
    if (!out.has(word) || (description && !out.get(word))) out.set(word, description);
    // its aliases (`top` for dashboard) where they are words at this level
    for (const alias of isCommand ? (c.aliases ?? []) : []) {
      const a = alias.split(':');
      if (a.length === depth + 1 && a.slice(0, depth).join(':') === prefix) out.set(a[depth] as string, description ? `${description} (${c.id.replace(/:/g, ' ')})` : undefined);
    }
  }
  return [...out].sort(([a], [b]) => a.localeCompare(b)).map(([value, description]) => (description ? { value, description } : { value }));
}

const isTopic = (m: Manifest, id: string): boolean => Object.keys(m.commands).some((c) => c.startsWith(`${id}:`) && !m.commands[c]?.hidden);
/** The command `id` names, itself or as an alias. */
const commandOf = (m: Manifest, id: string): ManifestCommand | undefined => m.commands[id] ?? Object.values(m.commands).find((c) => c.aliases?.includes(id));

function flagOf(cmd: ManifestCommand, word: string): ManifestFlag | undefined {
  if (word.startsWith('--')) return cmd.flags[word.slice(2).split('=')[0] as string];
  if (/^-[^-]$/.test(word)) return Object.values(cmd.flags).find((f) => f.char === word.slice(1));
  return undefined;
}

function flagCandidates(cmd: ManifestCommand, used: ReadonlySet<string>, cur: string): Candidate[] {
  const out: Candidate[] = [];
  for (const f of Object.values(cmd.flags).sort((a, b) => a.name.localeCompare(b.name))) {
    if (f.hidden || (used.has(f.name) && !f.multiple)) continue;
    const description = firstLine(f.description);
    out.push({ value: `--${f.name}${f.type === 'option' && cur.includes('=') ? '=' : ''}`, ...(description ? { description } : {}) });
    if (f.type === 'boolean' && f.allowNo) out.push({ value: `--no-${f.name}` });
  }
  out.push({ value: '--help', description: 'Show how to use this command.' });
  return out;
}

/** The value of an option flag: its listed options, or a file name. */
function valueCompletion(f: ManifestFlag, prefix = ''): Completion {
  if (f.options?.length) return { candidates: f.options.map((o) => ({ value: `${prefix}${o}` })), files: false, nospace: false };
  return prefix ? none() : files();
}

async function positional(cmd: ManifestCommand, index: number, cur: string, sandboxes: SandboxLister): Promise<Completion> {
  const defs = Object.values(cmd.args);
  // a command whose last argument takes the rest (start NAME..., run CMD...) repeats it
  const def = defs[index] ?? (cmd.strict === false ? defs[defs.length - 1] : undefined);
  if (!def) return { candidates: flagCandidates(cmd, new Set(), cur), files: false, nospace: false };
  const description = def.description ?? '';
  if (SANDBOX_ARG.test(description)) return { candidates: await sandboxes(), files: false, nospace: false };
  if (SANDBOX_PATH_ARG.test(description)) {
    if (/^[A-Za-z0-9][A-Za-z0-9_.-]*:/.test(cur)) return none(); // a path inside a sandbox: nothing to list here
    return { candidates: (await sandboxes()).map((s) => ({ ...s, value: `${s.value}:` })), files: true, nospace: true };
  }
  return files();
}

/** What to offer for the words after `bkg` (the last one is being completed; '' for a new word). */
export async function complete(m: Manifest, words: readonly string[], sandboxes: SandboxLister): Promise<Completion> {
  const all = words.length ? [...words] : [''];
  const cur = all.pop() as string;
  const before = all[0] === 'help' ? all.slice(1) : all;
  const helpOnly = all[0] === 'help';
  // the command: the longest run of leading words that names a command or topic
  let id = '';
  let i = 0;
  while (i < before.length) {
    const w = before[i] as string;
    if (w.startsWith('-')) break;
    const next = id ? `${id}:${w}` : w;
    if (!commandOf(m, next) && !isTopic(m, next)) break;
    id = next;
    i++;
  }
  const cmd = id ? commandOf(m, id) : undefined;
  const subcommands = (!id || isTopic(m, id)) && i === before.length ? nextWords(m, id).filter((c) => c.value.startsWith(cur)) : [];
  if (!cmd || helpOnly) {
    if (i < before.length) return none(); // not a command
    return { candidates: subcommands, files: false, nospace: false };
  }

  // the command's own words so far: flags (and their values), positionals, `--`
  const used = new Set<string>();
  let positionals = 0;
  for (let j = i; j < before.length; j++) {
    const w = before[j] as string;
    if (w === '--') return files(); // the rest is a command to run in the sandbox
    const f = flagOf(cmd, w);
    if (f) {
      used.add(f.name);
      if (f.type === 'option' && !w.includes('=')) j++; // its value
      continue;
    }
    if (!w.startsWith('-')) positionals++;
  }
  const prev = before.length > i ? (before[before.length - 1] as string) : undefined;
  const prevFlag = prev !== undefined && !prev.includes('=') ? flagOf(cmd, prev) : undefined;
  let out: Completion;
  if (prevFlag?.type === 'option') out = valueCompletion(prevFlag);
  else if (cur.startsWith('-')) {
    const eq = cur.indexOf('=');
    const f = eq === -1 ? undefined : flagOf(cmd, cur.slice(0, eq));
    out = f?.type === 'option' ? valueCompletion(f, cur.slice(0, eq + 1)) : { candidates: flagCandidates(cmd, used, cur), files: false, nospace: false };
  } else out = await positional(cmd, positionals, cur, sandboxes);
  const candidates = [...subcommands, ...out.candidates.filter((c) => c.value.startsWith(cur))];
  return { ...out, candidates };
}

/** The lines `bkg __complete` prints. */
export function renderCompletion(c: Completion): string {
  const lines = c.candidates.map((x) => (x.description ? `${x.value}\t${x.description.replace(/[\t\n]/g, ' ')}` : x.value));
  if (c.files) lines.push(':files');
  if (c.nospace) lines.push(':nospace');
  return lines.length ? `${lines.join('\n')}\n` : '';
}

/** Long enough for a busy daemon, short enough for a Tab key. */
const LIST_TIMEOUT_MS = 3000;

/** The sandboxes of a daemon that is already running; none when it is not (it is never started for a completion). */
export function daemonSandboxes(env: NodeJS.ProcessEnv = process.env): SandboxLister {
  return async () => {
    const { DaemonClient } = await import('../client/daemon-client.js');
    const client = new DaemonClient({ env, autoStart: false });
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('timed out')), LIST_TIMEOUT_MS);
      });
      const { sandboxes } = await Promise.race([client.request('listSandboxes', {}, { timeoutMs: LIST_TIMEOUT_MS }), timeout]);
      return sandboxes.map((s) => ({ value: s.name, description: s.status }));
    } catch {
      return []; // no daemon, no rights, too slow: complete nothing rather than print an error into the prompt
    } finally {
      clearTimeout(timer);
      await client.close();
    }
  };
}

/** `bkg __complete WORD...` on the fast path: prints the candidates; never fails (exit 0, nothing on stderr). */
export async function completeMain(m: Manifest | null, words: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  if (!m) return 0;
  try {
    process.stdout.write(renderCompletion(await complete(m, words, daemonSandboxes(env))));
  } catch {
    /* a completion prints nothing rather than an error */
  }
  return 0;
}
