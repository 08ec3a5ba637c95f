/**
 * The CLI's front door (bin/run.js): answers --version and the root help, runs the everyday
 * commands (exec, run, ls, start, stop, rm, dashboard/top) without loading oclif, suggests the nearest command for
 * a slip, answers the shell completion scripts (`__complete`), and hands everything else to oclif — with `help CMD` and `-h` rewritten to `CMD --help`.
 */
import type { DaemonClient } from '../../client/daemon-client.js';
import { reportError } from '../errors.js';
import { findCommand, loadCommand, loadIndex, loadManifest, versionLine } from './manifest.js';
import { parseArgs, type Parsed } from './parse.js';

type Action = (p: Parsed) => Promise<number>;

async function withClient(fn: (c: DaemonClient) => Promise<number>): Promise<number> {
  const { withDaemonClient } = await import('../client.js');
  return withDaemonClient(fn);
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** The commands the fast path runs itself; each is the same code its oclif command runs. */
const FAST: Record<string, () => Promise<Action>> = {
  ls: async () => {
    const { lsCommand } = await import('../sandbox-commands.js');
    return (p) => withClient((c) => lsCommand(c, p.flags.json === true, p.flags['all-hosts'] === true));
  },
  stop: async () => {
    const { stopCommand } = await import('../sandbox-commands.js');
    return (p) => withClient((c) => stopCommand(c, p.args.name as string, p.flags.json === true));
  },
  start: async () => {
    const { startCommand } = await import('../sandbox-commands.js');
    return (p) => withClient((c) => startCommand(c, p.argv, { json: p.flags.json === true, configPath: str(p.flags.file) ?? 'cave.yaml' }));
  },
  rm: async () => {
    const { rmCommand } = await import('../sandbox-commands.js');
    return (p) => withClient((c) => rmCommand(c, p.args.name as string, { json: p.flags.json === true, force: p.flags.force === true }));
  },
  exec: async () => {
    const { execFromArgs } = await import('../exec-command.js');
    return (p) => execFromArgs(p);
  },
  run: async () => {
    const { runFromArgs } = await import('../run-command.js');
    return (p) => runFromArgs(p);
  },
  dashboard: async () => {
    const { dashboard } = await import('../../ui/launch.js');
    return (p) => dashboard({ once: p.flags.once === true, json: p.flags.json === true, sort: str(p.flags.sort), filter: str(p.flags.filter) });
  },
  autocomplete: async () => {
    const { autocompleteCommand } = await import('../completion-scripts.js');
    return async (p) => autocompleteCommand(str(p.args.shell), p.flags.json === true);
  },
};

/** `help X` → `X --help`; `-h` → `--help` (never after `--`: that belongs to the sandboxed command). */
export function rewriteHelp(argv: string[]): string[] {
  const dashes = argv.indexOf('--');
  const head = dashes === -1 ? argv : argv.slice(0, dashes);
  const tail = dashes === -1 ? [] : argv.slice(dashes);
  const words = head[0] === 'help' ? [...head.slice(1), ...(head.length > 1 ? ['--help'] : [])] : head;
  return [...(head[0] === 'help' && head.length === 1 ? ['--help'] : words.map((w) => (w === '-h' ? '--help' : w))), ...tail];
}

/** The exit code when handled here; otherwise the arguments to give oclif. */
export async function fastCli(input: string[]): Promise<number | string[]> {
  if (input[0] === '__complete') return (await import('../completion.js')).completeMain(loadManifest(), input.slice(1)); // the shells' completion scripts
  const argv = rewriteHelp(input);
  const m = loadIndex();
  if (!m) return argv;
  const first = argv[0];
  if (first === undefined || first === '--help') {
    const full = loadManifest();
    if (!full) return argv;
    process.stdout.write((await import('./help.js')).rootHelp(full));
    return 0;
  }
  if (first === '--version' || first === '-v' || first === 'version') {
    process.stdout.write(`${versionLine(m)}\n`);
    return 0;
  }
  const words: string[] = [];
  for (const w of argv) {
    if (w.startsWith('-')) break;
    words.push(w);
  }
  const found = findCommand(m, words);
  const dashes = argv.indexOf('--');
  const json = (dashes === -1 ? argv : argv.slice(0, dashes)).includes('--json');
  if (!found) {
    if (words[0] !== undefined && m.topics[words[0]] && words.length === 1) return argv; // oclif shows the topic's commands
    const full = loadManifest();
    if (!full) return argv;
    return reportError((await import('./help.js')).unknownCommand(full, words.length ? words : [first], argv), json);
  }
  const rest = argv.slice(found.used);
  const load = FAST[found.command.id];
  if (!load || rest.slice(0, rest.indexOf('--') === -1 ? undefined : rest.indexOf('--')).includes('--help')) return argv;
  const command = loadCommand(found.command.id);
  if (!command) return argv;
  try {
    const action = await load();
    return await action(parseArgs(command, rest, m.bin));
  } catch (err) {
    return reportError(err, json);
  }
}
