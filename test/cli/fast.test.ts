/** The CLI's fast path: arguments parsed from the real manifest as oclif parses them, help rewriting, suggestions. */
import { describe, expect, it } from 'vitest';
import { BkgError } from '../../src/api/errors.js';
import { unknownCommand } from '../../src/cli/fast/help.js';
import { rewriteHelp } from '../../src/cli/fast/index.js';
import { findCommand, loadCommand, loadIndex, loadManifest, type Manifest } from '../../src/cli/fast/manifest.js';
import { parseArgs } from '../../src/cli/fast/parse.js';

const manifest = loadManifest() as Manifest;
const cmd = (id: string) => {
  const c = manifest.commands[id];
  if (!c) throw new Error(`no ${id} in the manifest`);
  return c;
};
const failure = (fn: () => unknown): BkgError => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BkgError);
    return err as BkgError;
  }
  throw new Error('expected a BkgError');
};

describe('the fast path', () => {
  it('reads the manifest the build wrote, with topics and every command', () => {
    expect(manifest).not.toBeNull();
    expect(Object.keys(manifest.commands)).toEqual(expect.arrayContaining(['exec', 'run', 'ls', 'start', 'stop', 'rm', 'key:create', 'policy:set', 'llm:chat']));
    expect(findCommand(manifest, ['key', 'create', 'ci'])).toMatchObject({ command: { id: 'key:create' }, used: 2 });
    expect(findCommand(manifest, ['nope'])).toBeNull();
  });

  it('has the build\'s split of the manifest for a start: an index of every command and alias, and each command\'s args and flags as the manifest has them', () => {
    const index = loadIndex();
    expect(index).toMatchObject({ version: manifest.version, bin: manifest.bin, topics: manifest.topics });
    expect(Object.keys(index?.commands ?? {}).sort()).toEqual(Object.keys(manifest.commands).sort());
    for (const [id, c] of Object.entries(manifest.commands)) {
      expect(index?.commands[id]?.aliases ?? [], id).toEqual(c.aliases ?? []);
      expect(loadCommand(id), id).toEqual(c);
    }
    expect(findCommand(index as NonNullable<typeof index>, ['top'])).toMatchObject({ command: { id: 'dashboard' }, used: 1 });
    expect(loadCommand('no-such-command')).toBeNull();
  });

  it('parses flags as oclif does: values, =, short flags, repeats, options, defaults, --', () => {
    const p = parseArgs(cmd('run'), ['--rm', '--memory=64m', '-e', 'A=1', '--env', 'B=2', '--network', 'host', '--', 'ls', '-la']);
    expect(p.flags).toMatchObject({ rm: true, memory: '64m', env: ['A=1', 'B=2'], network: 'host', file: 'cave.yaml', apply: false, json: false });
    expect(p.argv).toEqual(['ls', '-la']);
    const e = parseArgs(cmd('exec'), ['web', '-i', '--', 'cat']);
    expect(e.args).toMatchObject({ name: 'web' });
    expect(e.argv).toEqual(['web', 'cat']);
    expect(e.flags).toMatchObject({ interactive: true, tty: false });
    expect(parseArgs(cmd('policy:set'), ['ci', '--no-allow-nested-namespaces']).flags['allow-nested-namespaces']).toBe(false);
  });

  it('names the problem: unknown flags (with the `--` slip), missing values and arguments, bad options, stray arguments', () => {
    expect(failure(() => parseArgs(cmd('run'), ['--rm', 'ls', '-la'])).hint).toContain('`bkg run --rm -- ls -la`');
    expect(failure(() => parseArgs(cmd('exec'), ['web', 'ls', '-la'])).hint).toContain('`bkg exec web -- ls -la`');
    expect(failure(() => parseArgs(cmd('ls'), ['--all'])).message).toBe('unknown flag --all for bkg ls');
    expect(failure(() => parseArgs(cmd('run'), ['--memory'])).message).toBe('--memory needs a value');
    expect(failure(() => parseArgs(cmd('add'), ['web', '--runtime', 'ruby'])).message).toBe('--runtime: "ruby" is not one of shell, python, node');
    expect(failure(() => parseArgs(cmd('stop'), [])).message).toBe('missing NAME (Sandbox name or id)');
    expect(failure(() => parseArgs(cmd('stop'), ['a', 'b'])).message).toBe('unexpected argument "b"');
    expect(failure(() => parseArgs(cmd('ls'), ['--json=yes'])).message).toBe('--json takes no value');
  });

  it('rewrites help, but never after `--`', () => {
    expect(rewriteHelp(['help'])).toEqual(['--help']);
    expect(rewriteHelp(['help', 'key', 'create'])).toEqual(['key', 'create', '--help']);
    expect(rewriteHelp(['run', '-h'])).toEqual(['run', '--help']);
    expect(rewriteHelp(['exec', 'web', '--', 'ls', '-h'])).toEqual(['exec', 'web', '--', 'ls', '-h']);
  });

  it('suggests the nearest command, keeping the rest of the line', () => {
    expect(unknownCommand(manifest, ['sl'], ['sl', '--json']).hint).toContain('`bkg ls --json`');
    expect(unknownCommand(manifest, ['exce', 'web'], ['exce', 'web', '--', 'ls']).hint).toContain('`bkg exec web -- ls`');
    expect(unknownCommand(manifest, ['polcy', 'show'], ['polcy', 'show']).hint).toContain('`bkg policy show`');
    expect(unknownCommand(manifest, ['key', 'remove'], ['key', 'remove', 'x']).hint).toContain('`bkg key revoke x`');
    expect(unknownCommand(manifest, ['key', 'frobnicate'], ['key', 'frobnicate']).hint).toBe('`bkg --help` lists the commands.');
    expect(unknownCommand(manifest, ['zzzzzz']).code).toBe('NOT_FOUND');
  });
});
