/**
 * The fast path's bundle (scripts/bundle-fast.mjs → dist/cli/fast/bundle/): bin/run.js loads it
 * while tsc has not written dist/ since it was made, and the CLI answers exactly as it does module
 * by module — the same output, exit codes and errors (the bundle's BkgError and dist/'s are one
 * class to `instanceof`), and a fast-path start never loads Node's ES module loader.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bkg, type CliResult } from '../helpers/cli.js';
import { sandboxSkipReason } from '../helpers/sandbox.js';

const ROOT = join(import.meta.dirname, '..', '..');
const BUNDLE = join(ROOT, 'dist', 'cli', 'fast', 'bundle');
const INPUTS = join(BUNDLE, 'inputs.json');
const skipSandboxes = sandboxSkipReason();

let home: string;
/** bkg with NODE_DEBUG=module: stderr then names the CommonJS files loaded (the bundle's chunks). */
const traced = (args: string[]) => bkg(args, { cwd: home, env: { BKG_HOME: home, BKG_PORT: '0', NODE_DEBUG: 'module' } });
const usedBundle = (r: CliResult) => r.stderr.includes(join(BUNDLE, 'index.cjs'));
/** The bundle's files a traced start loaded, by name (without their hashes). */
const chunksLoaded = (r: CliResult) => [...new Set([...r.stderr.matchAll(/load "[^"]*\/bundle\/([^"]+)"/g)].map((m) => (m[1] as string).replace(/-[\w-]{8}\.cjs$/, '')))].sort();
/** What the user sees: stderr without NODE_DEBUG's lines. */
const seen = (r: CliResult) => ({ code: r.code, stdout: r.stdout, stderr: r.stderr.split('\n').filter((l) => !/^MODULE \d+:/.test(l)).join('\n') });
/** Node's own modules a CLI start loaded, as `node -r` of this preload sees them at exit (on stderr, after a marker). */
const PRELOAD = "process.on('exit', () => process.stderr.write('\\nBUILTINS ' + JSON.stringify(process.moduleLoadList)))";

/** bin/run.js as it was before the bundle: made stale (inputs.json, the bundle's stamp, older than tsc's last build), then fresh again. */
async function withoutBundle<T>(fn: () => Promise<T>): Promise<T> {
  const made = statSync(INPUTS);
  utimesSync(INPUTS, new Date(0), new Date(0));
  try {
    return await fn();
  } finally {
    utimesSync(INPUTS, made.atime, made.mtime);
  }
}

beforeAll(() => {
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'bundle-fast.mjs')], { cwd: ROOT, stdio: 'pipe' });
  home = mkdtempSync(join(tmpdir(), 'bkg-fast-bundle-'));
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('the fast path bundle', () => {
  it('is made from the fast path and the commands it runs (the error registry too), with the dashboard left out', () => {
    const inputs = JSON.parse(readFileSync(INPUTS, 'utf8')) as string[];
    expect(inputs).toEqual(expect.arrayContaining(['cli/fast/index.js', 'cli/run-command.js', 'cli/run-sandbox.js', 'runtime/engine.js', 'client/daemon-client.js', 'api/errors.js']));
    expect(inputs.filter((f) => f.startsWith('ui/'))).toEqual([]);
    const code = readdirSync(BUNDLE).filter((f) => f.endsWith('.cjs')).map((f) => readFileSync(join(BUNDLE, f), 'utf8')).join('\n');
    expect(code).toMatch(/\bBkgError ?= ?class extends Error\b/);
    expect(code).not.toMatch(/require\("\.\.\/[^"]*\.js"\)/); // no ES module of dist/ is required
    expect(code).not.toMatch(/\bimport\.meta\b/);
  });

  it('starts without Node\'s ES module loader (bin/run.js and the bundle are CommonJS); module by module it needs it', async () => {
    const loaders = (r: CliResult) => (JSON.parse(r.stderr.slice(r.stderr.lastIndexOf('BUILTINS ') + 9)) as string[]).filter((m) => m.includes('internal/modules/esm/loader'));
    const args = ['--version'];
    const env = { BKG_HOME: home, NODE_OPTIONS: `--require ${join(home, 'builtins.cjs')}` };
    writeFileSync(join(home, 'builtins.cjs'), PRELOAD);
    const fresh = await bkg(args, { cwd: home, env });
    expect(fresh.code).toBe(0);
    expect(loaders(fresh)).toEqual([]);
    const stale = await withoutBundle(() => bkg(args, { cwd: home, env }));
    expect(stale.code).toBe(0);
    expect(loaders(stale).length).toBe(1);
  });

  it('is what bin/run.js loads while it is fresh, and not once tsc wrote dist/ after it', async () => {
    const fresh = await traced(['--version']);
    expect(fresh.code).toBe(0);
    expect(usedBundle(fresh)).toBe(true);
    const stale = await withoutBundle(() => traced(['--version']));
    expect(stale.code).toBe(0);
    expect(usedBundle(stale)).toBe(false);
    expect(seen(stale)).toEqual(seen(fresh));
    // tsc builds dist/ incrementally and rewrites its build info whenever it writes a file: that is what tells
    const info = join(ROOT, 'dist', '.tsbuildinfo');
    const before = statSync(info);
    try {
      utimesSync(info, new Date(), new Date(Date.now() + 5_000));
      expect(usedBundle(await traced(['--version']))).toBe(false);
    } finally {
      utimesSync(info, before.atime, before.mtime);
    }
    expect(usedBundle(await traced(['--version']))).toBe(true);
  });

  it('has chunks that each load on their own in a fresh Node (grouping kept every module after what it needs)', () => {
    for (const f of readdirSync(BUNDLE).filter((n) => n.endsWith('.cjs'))) {
      execFileSync(process.execPath, ['-e', `require(${JSON.stringify(join(BUNDLE, f))})`], { stdio: 'pipe' });
    }
  });

  it('is in ASCII, without comments, in a few chunks by command: --version loads the entry and the base', async () => {
    for (const f of readdirSync(BUNDLE).filter((n) => n.endsWith('.cjs'))) expect([...readFileSync(join(BUNDLE, f), 'utf8')].every((c) => c.charCodeAt(0) < 0x80), f).toBe(true);
    expect(chunksLoaded(await traced(['--version']))).toEqual(['base', 'index.cjs', 'rolldown-runtime']);
  });

  it('answers as the modules do: help, suggestions, parse errors, the dashboard\'s errors (one BkgError class)', async () => {
    const cases = [['--help'], ['run', '--help'], ['lss'], ['run', '--rm', 'ls', '-la'], ['run', '--rm', '--memory', '1k', '--', 'true'], ['run', '--rm', '--json', '--secret', 'S', '--', 'true'], ['dashboard', '--sort', 'bogus'], ['dashboard', '--json']];
    for (const args of cases) {
      const bundled = await traced(args);
      const modules = await withoutBundle(() => traced(args));
      expect(usedBundle(modules)).toBe(false);
      expect(seen(bundled), args.join(' ')).toEqual(seen(modules));
    }
    const dash = seen(await traced(['dashboard', '--sort', 'bogus']));
    expect(dash.code).toBe(2);
    expect(dash.stderr).toContain('bkg: --sort: "bogus" is not a column to sort by');
  });

  it.skipIf(skipSandboxes)('runs a throwaway sandbox: output, exit code, --json', async () => {
    const r = await traced(['run', '--rm', '--', 'sh', '-c', 'echo hello; echo oops >&2; exit 7']);
    expect(usedBundle(r)).toBe(true);
    expect(chunksLoaded(r)).toEqual(['base', 'engine', 'index.cjs', 'rolldown-runtime']);
    expect(seen(r)).toEqual({ code: 7, stdout: 'hello\n', stderr: 'oops\n' });
    const j = await traced(['run', '--rm', '--json', '--', 'sh', '-c', 'echo out; exit 3']);
    expect(j.code).toBe(3);
    expect(JSON.parse(j.stdout)).toMatchObject({ exit_code: 3, bkg_exit_code: 3, stdout: 'out\n', stderr: '', changes: [] });
  });
});
