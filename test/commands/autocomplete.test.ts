/**
 * `bkg autocomplete`: the bash script loaded into a real bash (COMP_LINE/COMP_WORDS set, the
 * completion function called, COMPREPLY printed), the zsh script checked by a real zsh and driven
 * with a stand-in compadd, and both pressed Tab in a real terminal (tmux). Commands, subcommands
 * and flags are compared with the build's manifest (the completion follows it, no list of its own);
 * sandbox names come from a real daemon with real sandboxes, and none when no daemon runs — which
 * a completion never starts.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bashScript, zshScript } from '../../src/cli/completion-scripts.js';
import { loadManifest, type Manifest } from '../../src/cli/fast/manifest.js';
import { BIN, bkg } from '../helpers/cli.js';
import { sandboxSkipReason } from '../helpers/sandbox.js';

const manifest = loadManifest() as Manifest;

/** Whether a program is installed; under CI=true it must be (the CI installs bash-completion, zsh and tmux). */
function have(bin: string): boolean {
  const found = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', bin]).status === 0;
  if (!found && process.env.CI === 'true') throw new Error(`CI=true but ${bin} is not installed`);
  return found;
}
const hasZsh = have('zsh');
const hasTmux = have('tmux');

/** A directory with `bkg` on PATH, as an installed bkg would be: the scripts call it back by that name. */
function shimDir(dir: string): string {
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'bkg'), `#!/bin/sh\nexec '${process.execPath}' '${BIN}' "$@"\n`);
  chmodSync(join(bin, 'bkg'), 0o755);
  return bin;
}

/** The bash harness: sets what bash sets for a completion (the line up to the cursor, split into words), calls the function, prints COMPREPLY. */
const BASH_DRIVER = `
drive() {
  COMP_LINE="$1"; COMP_POINT=\${#1}; COMP_TYPE=9; COMP_KEY=9
  read -r -a COMP_WORDS <<< "$1"; [[ "$1" == *" " ]] && COMP_WORDS+=("")
  COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 ))
  COMPREPLY=()
  _bkg_complete bkg "\${COMP_WORDS[COMP_CWORD]}" "\${COMP_WORDS[COMP_CWORD-1]}"
  printf '%s\\n' "@@ $1" "\${COMPREPLY[@]}"
}
`;

/** Complete each line (up to the cursor) in one real bash; what COMPREPLY holds for each, sorted. */
function bashComplete(env: NodeJS.ProcessEnv, cwd: string, script: string, lines: string[]): Map<string, string[]> {
  const file = join(cwd, 'bkg.bash');
  writeFileSync(file, script);
  const calls = lines.map((l) => `drive '${l.replace(/'/g, `'\\''`)}'`).join('\n');
  const out = execFileSync('bash', ['--norc', '--noprofile', '-c', `source '${file}'\n${BASH_DRIVER}\n${calls}`], { cwd, env, encoding: 'utf8' });
  const result = new Map<string, string[]>();
  let current: string[] = [];
  for (const l of out.split('\n')) {
    if (l.startsWith('@@ ')) result.set(l.slice(3), (current = []));
    else if (l) current.push(l);
  }
  for (const v of result.values()) v.sort();
  return result;
}

/** The zsh harness: `compadd`, `_files` and `compdef` stand-ins that print what the completion function asked for. */
const ZSH_DRIVER = `
compadd() { local -a o; while (( $# )); do if [[ $1 == -- ]]; then shift; print -r -- "compadd(\${o[*]}) \${(j:|:)@}"; return 0; fi; o+=("$1"); shift; done }
_files() { print -r -- "_files" }
compdef() { print -r -- "compdef $*" }
drive() {
  words=(\${(z)1}); [[ $1 == *" " ]] && words+=("")
  CURRENT=\${#words}
  print -r -- "@@ $1"
  _bkg
}
`;

function zshComplete(env: NodeJS.ProcessEnv, cwd: string, lines: string[]): { sourced: string; results: Map<string, string[]> } {
  const file = join(cwd, '_bkg');
  writeFileSync(file, zshScript());
  const calls = lines.map((l) => `drive '${l.replace(/'/g, `'\\''`)}'`).join('\n');
  const out = execFileSync('zsh', ['-f', '-c', `${ZSH_DRIVER}\nsource '${file}'\n${calls}`], { cwd, env, encoding: 'utf8' });
  const [sourced = '', ...rest] = out.split('\n@@ ');
  const results = new Map<string, string[]>();
  for (const block of rest) {
    const [line = '', ...calls2] = block.split('\n').filter(Boolean);
    results.set(line, calls2);
  }
  return { sourced, results };
}

/** Type `keys` and Tab in an interactive shell in a tmux terminal; the screen's last line afterwards. */
async function pressTab(socket: string, session: string, typed: string): Promise<string> {
  const tmux = (...args: string[]) => execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
  tmux('send-keys', '-t', session, 'C-u');
  tmux('send-keys', '-t', session, '-l', typed);
  tmux('send-keys', '-t', session, 'Tab');
  let last = '';
  for (let i = 0; i < 100; i++) {
    await sleep(100);
    const screen = tmux('capture-pane', '-p', '-t', session).split('\n').filter((l) => l.trim());
    const now = screen.at(-1) ?? '';
    if (now !== `$ ${typed}` && now === last) return now; // changed by the completion, and settled
    last = now;
  }
  return last;
}

async function startShell(socket: string, session: string, shell: 'bash' | 'zsh', env: NodeJS.ProcessEnv, cwd: string, script: string): Promise<void> {
  const file = join(cwd, `completion.${shell}`);
  writeFileSync(file, script);
  const rc = shell === 'bash' ? `PS1='$ '; source '${file}'` : `PS1='$ '; autoload -Uz compinit; compinit -u -D; source '${file}'`;
  const argv = shell === 'bash' ? ['bash', '--norc', '--noprofile', '-i'] : ['zsh', '-f', '-i'];
  const vars = ['PATH', 'HOME', 'BKG_HOME', 'BKG_PORT'].map((k) => `${k}=${env[k] ?? ''}`);
  execFileSync('tmux', ['-L', socket, 'new-session', '-d', '-s', session, '-x', '160', '-y', '40', '-c', cwd, 'env', '-i', 'TERM=xterm', ...vars, ...argv]);
  execFileSync('tmux', ['-L', socket, 'send-keys', '-t', session, '-l', rc]);
  execFileSync('tmux', ['-L', socket, 'send-keys', '-t', session, 'Enter', 'C-l']);
  for (let i = 0; i < 50; i++) {
    await sleep(100);
    const screen = execFileSync('tmux', ['-L', socket, 'capture-pane', '-p', '-t', session], { encoding: 'utf8' }).split('\n').filter((l) => l.trim());
    if (screen.length === 1 && screen[0] === '$') return;
  }
  throw new Error(`the ${shell} in tmux did not come up`);
}

const subcommandsOf = (topic: string): string[] =>
  [...new Set(Object.values(manifest.commands).filter((c) => !c.hidden && c.id.startsWith(`${topic}:`)).map((c) => c.id.slice(topic.length + 1).split(':')[0] as string))].sort();
const flagsOf = (id: string): string[] => {
  const c = manifest.commands[id];
  if (!c) throw new Error(`no ${id} in the manifest`);
  return [...Object.values(c.flags).filter((f) => !f.hidden).flatMap((f) => [`--${f.name}`, ...(f.type === 'boolean' && f.allowNo ? [`--no-${f.name}`] : [])]), '--help'].sort();
};

describe('bkg autocomplete: the command', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'bkg-complete-cmd-'));
    env = { BKG_HOME: join(dir, 'home'), BKG_PORT: '0', BKG_API_URL: '', BKG_API_KEY: '' };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints the script for the shell named, or for $SHELL; says how to install it', async () => {
    const bash = await bkg(['autocomplete', 'bash'], { env });
    expect(bash.code).toBe(0);
    expect(bash.stdout).toBe(bashScript());
    expect(bash.stderr).toBe(''); // not a terminal: the script only
    expect(spawnSync('bash', ['-n'], { input: bash.stdout }).status).toBe(0);
    expect((await bkg(['autocomplete'], { env: { ...env, SHELL: '/usr/bin/zsh' } })).stdout).toBe(zshScript());
    expect((await bkg(['autocomplete'], { env: { ...env, SHELL: '/bin/bash' } })).stdout).toBe(bashScript());
    const fish = await bkg(['autocomplete'], { env: { ...env, SHELL: '/usr/bin/fish' } });
    expect(fish.code).toBe(2);
    expect(fish.stderr).toContain('cannot tell your shell from $SHELL ("/usr/bin/fish")');
    expect(fish.stderr).toContain('bkg autocomplete bash');
    const other = await bkg(['autocomplete', 'tcsh', '--json'], { env });
    expect(JSON.parse(other.stdout)).toMatchObject({ error: { code: 'INVALID_ARGUMENT' } });
    const json = await bkg(['autocomplete', 'zsh', '--json'], { env });
    expect(JSON.parse(json.stdout)).toEqual({ shell: 'zsh', script: zshScript(), install: expect.stringContaining('fpath') });
    const help = await bkg(['autocomplete', '--help'], { env });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('source <(bkg autocomplete bash)');
    expect(help.stdout).toContain('bkg autocomplete zsh > ~/.zsh/completions/_bkg');
    expect(help.stdout).toContain('compinit');
  });

  it('is a command of the manifest (root help, the fast path) and `__complete` answers from it', async () => {
    expect(manifest.commands.autocomplete?.args.shell).toBeDefined();
    expect((await bkg(['--help'], { env })).stdout).toMatch(/\n {2}autocomplete +Print the shell completion script/);
    const r = await bkg(['__complete', 'key', ''], { env });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t')[0])).toEqual(subcommandsOf('key'));
    expect(r.stdout).toContain('create\tCreate an API key');
  });
});

describe('completion in bash and zsh', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'bkg-complete-'));
    env = { ...process.env, PATH: `${shimDir(dir)}:${process.env.PATH ?? ''}`, BKG_HOME: join(dir, 'home'), BKG_PORT: '0', BKG_API_URL: '', BKG_API_KEY: '' };
    writeFileSync(join(dir, 'model.gguf'), '');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('bash: commands, topics and their subcommands, as the manifest has them', () => {
    const r = bashComplete(env, dir, bashScript(), ['bkg ', 'bkg k', 'bkg key ', 'bkg key r', 'bkg llm ', 'bkg llm p', 'bkg llm trust ', 'bkg help po', 'bkg nope ']);
    const visible = Object.values(manifest.commands).filter((c) => !c.hidden);
    const top = [...new Set([...visible.map((c) => c.id.split(':')[0] as string), ...visible.flatMap((c) => c.aliases ?? []).filter((a) => !a.includes(':'))])].sort();
    expect(r.get('bkg ')).toEqual(top);
    expect(top).toEqual(expect.arrayContaining(['autocomplete', 'exec', 'key', 'llm', 'run']));
    expect(r.get('bkg k')).toEqual(['key']);
    expect(r.get('bkg key ')).toEqual(subcommandsOf('key'));
    expect(r.get('bkg key ')).toEqual(['create', 'ls', 'revoke', 'rotate']);
    expect(r.get('bkg key r')).toEqual(['revoke', 'rotate']);
    expect(r.get('bkg llm ')).toEqual(subcommandsOf('llm'));
    expect(r.get('bkg llm p')).toEqual(['pull']);
    expect(r.get('bkg llm trust ')).toEqual(['add']);
    expect(r.get('bkg help po')).toEqual(['policy']);
    expect(r.get('bkg nope ')).toEqual([]);
  });

  it('bash: every command\'s flags, option values (also after =), file names where a path goes', () => {
    const visible = Object.values(manifest.commands).filter((c) => !c.hidden);
    // every command by its id and by each alias (`top` for dashboard)
    const named = visible.flatMap((c) => [c.id, ...(c.aliases ?? [])].map((word) => ({ id: c.id, word })));
    const ids = named.map((n) => n.id);
    const lines = named.map((n) => `bkg ${n.word.replace(/:/g, ' ')} --`);
    const r = bashComplete(env, dir, bashScript(), [...lines, 'bkg run --me', 'bkg add --runtime ', 'bkg add --runtime=', 'bkg add --runtime=p', 'bkg key create --role ', 'bkg llm pull ./mo', 'bkg llm pull --sig ', 'bkg exec web -- ./mo']);
    ids.forEach((id, i) => expect(r.get(lines[i] as string), id).toEqual(flagsOf(id)));
    expect(r.get('bkg run --me')).toEqual(['--memory']);
    // (--network takes allow:HOST,… lists too: it has no fixed values to offer)
    expect(r.get('bkg add --runtime ')).toEqual([...(manifest.commands.add?.flags.runtime?.options ?? [])].sort());
    expect(r.get('bkg add --runtime ')).toEqual(['node', 'python', 'shell']);
    expect(r.get('bkg add --runtime=')).toEqual(['node', 'python', 'shell']); // bash replaces what follows the =
    expect(r.get('bkg add --runtime=p')).toEqual(['python']);
    expect(r.get('bkg key create --role ')).toEqual([...(manifest.commands['key:create']?.flags.role?.options ?? [])].sort());
    expect(r.get('bkg llm pull ./mo')).toEqual(['./model.gguf']);
    expect(r.get('bkg llm pull --sig ')).toEqual(expect.arrayContaining(['model.gguf', 'bkg.bash']));
    expect(r.get('bkg exec web -- ./mo')).toEqual(['./model.gguf']); // the command to run: local words
  });

  it.skipIf(!hasZsh)('zsh: the script parses, registers itself with compdef, and completes commands, flags and values', () => {
    expect(spawnSync('zsh', ['-n'], { input: zshScript() }).status).toBe(0);
    const { sourced, results } = zshComplete(env, dir, ['bkg key cr', 'bkg llm ', 'bkg add --runtime=p', 'bkg ls --', 'bkg llm pull ']);
    expect(sourced.trim()).toBe('compdef _bkg bkg cavectl');
    expect(results.get('bkg key cr')).toEqual(['compadd(-l -d shown) create']);
    expect(results.get('bkg llm ')).toEqual([`compadd(-l -d shown) ${subcommandsOf('llm').join('|')}`]);
    expect(results.get('bkg add --runtime=p')).toEqual(['compadd(-d shown) --runtime=python']);
    expect(results.get('bkg ls --')).toEqual([`compadd(-l -d shown) ${flagsOf('ls').filter((f) => f !== '--help').join('|')}|--help`]);
    expect(results.get('bkg llm pull ')).toEqual(['_files']);
  });
});

const skipSandboxes = sandboxSkipReason();

describe.skipIf(skipSandboxes)('completion of sandbox names, from a real daemon', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const run = (args: string[]) => bkg(args, { cwd: dir, env });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bkg-complete-sb-'));
    chmodSync(dir, 0o755);
    env = { ...process.env, PATH: `${shimDir(dir)}:${process.env.PATH ?? ''}`, BKG_HOME: join(dir, 'home'), BKG_PORT: '0', BKG_API_URL: '', BKG_API_KEY: '' };
    writeFileSync(join(dir, 'notes.txt'), 'x\n');
    expect((await run(['init', '--project', 'complete'])).code).toBe(0);
    expect((await run(['add', 'web'])).code).toBe(0);
    expect((await run(['add', 'worker'])).code).toBe(0);
    expect((await run(['run', 'web'])).code).toBe(0);
    expect((await run(['run', 'worker'])).code).toBe(0);
    expect((await run(['stop', 'worker'])).code).toBe(0);
  });
  afterAll(async () => {
    await run(['rm', '--force', 'web']);
    await run(['rm', '--force', 'worker']);
    await run(['daemon', 'stop']);
    rmSync(dir, { recursive: true, force: true });
  });

  it('bash: the names for every command that takes one, NAME: for cp (with local files), nothing inside a sandbox path', () => {
    const takers = ['exec', 'shell', 'start', 'stop', 'rm', 'logs', 'diff', 'apply'];
    const r = bashComplete(env, dir, bashScript(), [...takers.map((c) => `bkg ${c} `), 'bkg exec we', 'bkg start web ', 'bkg exec web ', 'bkg cp w', 'bkg cp ', 'bkg cp notes.txt w', 'bkg cp web:/etc/']);
    for (const c of takers) expect(r.get(`bkg ${c} `), c).toEqual(['web', 'worker']);
    expect(r.get('bkg exec we')).toEqual(['web']);
    expect(r.get('bkg start web ')).toEqual(['web', 'worker']); // start takes several
    expect(r.get('bkg exec web ')).toEqual(expect.arrayContaining(['notes.txt'])); // then the command: local words
    expect(r.get('bkg exec web ')).not.toContain('worker');
    expect(r.get('bkg cp w')).toEqual(['web:', 'worker:']);
    expect(r.get('bkg cp ')).toEqual(expect.arrayContaining(['web:', 'worker:', 'notes.txt', 'cave.yaml']));
    expect(r.get('bkg cp notes.txt w')).toEqual(['web:', 'worker:']);
    expect(r.get('bkg cp web:/etc/')).toEqual([]);
    // the commands that take a name are found from the manifest's words for it, not a list: the same set
    const fromManifest = Object.values(manifest.commands).filter((c) => Object.values(c.args).some((a) => /^sandbox names? or ids?\b/i.test(a.description ?? ''))).map((c) => c.id).sort();
    expect(fromManifest).toEqual([...takers].sort());
  });

  it.skipIf(!hasZsh)('zsh: the names with their status, `web:` without a space after it', () => {
    const { results } = zshComplete(env, dir, ['bkg stop ', 'bkg cp w']);
    const stop = results.get('bkg stop ') ?? [];
    expect(stop).toEqual(['compadd(-l -d shown) web|worker']);
    const cp = results.get('bkg cp w') ?? [];
    expect(cp).toEqual(["compadd(-S  -l -d shown) web:|worker:", '_files']);
  });

  it.skipIf(!hasTmux || !hasZsh)('in a real terminal: Tab completes in an interactive bash and zsh', async () => {
    const socket = `bkg-complete-${process.pid}`;
    try {
      await startShell(socket, 'bash', 'bash', env, dir, bashScript());
      expect(await pressTab(socket, 'bash', 'bkg key cr')).toBe('$ bkg key create');
      expect(await pressTab(socket, 'bash', 'bkg exec we')).toBe('$ bkg exec web');
      expect(await pressTab(socket, 'bash', 'bkg run --netw')).toBe('$ bkg run --network');
      await startShell(socket, 'zsh', 'zsh', env, dir, zshScript());
      expect(await pressTab(socket, 'zsh', 'bkg llm pu')).toBe('$ bkg llm pull');
      expect(await pressTab(socket, 'zsh', 'bkg stop wo')).toBe('$ bkg stop worker');
      expect(await pressTab(socket, 'zsh', 'bkg cp notes.txt we')).toBe('$ bkg cp notes.txt web:');
    } finally {
      spawnSync('tmux', ['-L', socket, 'kill-server']);
    }
  });

  it('offers no names when no daemon runs, and never starts one', async () => {
    expect((await run(['daemon', 'stop'])).code).toBe(0);
    const socket = join(env.BKG_HOME as string, 'bkg.sock');
    const r = bashComplete(env, dir, bashScript(), ['bkg exec ', 'bkg k']);
    expect(r.get('bkg exec ')).toEqual([]);
    expect(r.get('bkg k')).toEqual(['key']); // commands still complete
    await sleep(300);
    expect(existsSync(socket)).toBe(false);
    const direct = await bkg(['__complete', 'stop', ''], { env });
    expect(direct).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(existsSync(socket)).toBe(false);
  });
});
