/**
 * Every sandbox's /workspace, through bin/run.js, a real daemon and real sandboxes: the working
 * directory of `run`, `exec` and `shell`; without a host directory an empty one on the sandbox's
 * writable, disk-capped layer that survives stop and start, shows in `diff`, and cannot be applied.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, bkg } from '../helpers/cli.js';
import { sandboxSkipReason } from '../helpers/sandbox.js';

const skip = sandboxSkipReason();

describe.skipIf(skip)('/workspace in every sandbox, through the CLI', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const run = (args: string[], input?: string) => bkg(args, { cwd: dir, env, ...(input === undefined ? {} : { input }) });
  /** The CLI on a terminal (script(1)), fed `input`. */
  const onTerminal = (args: string, input: string) =>
    spawnSync('script', ['-qfec', `${process.execPath} ${BIN} ${args}`, '/dev/null'], { env: { ...process.env, ...env, TERM: 'xterm' }, cwd: dir, encoding: 'utf8', timeout: 30_000, input });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bkg-wsp-'));
    chmodSync(dir, 0o755);
    env = { BKG_HOME: join(dir, 'home'), BKG_PORT: '0', BKG_API_URL: '', BKG_API_KEY: '' };
    expect((await run(['init', '--project', 'wsp'])).code).toBe(0);
    expect((await run(['add', 'web', '--runtime', 'python', '--disk', '8m'])).code).toBe(0); // no --workspace
    expect((await run(['run', 'web'])).code).toBe(0);
  });
  afterAll(async () => {
    await run(['rm', '--force', 'web']);
    await run(['daemon', 'stop']);
    rmSync(dir, { recursive: true, force: true });
  });

  it('bkg run --rm runs CMD in an empty, writable /workspace, which never reaches the host', async () => {
    const before = readdirSync(dir).sort();
    const r = await run(['run', '--rm', '--', 'sh', '-c', 'pwd; ls -A | wc -l; echo hi > f && cat /workspace/f']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('/workspace\n0\nhi\n');
    expect(r.code).toBe(0);
    const j = JSON.parse((await run(['run', '--rm', '--json', '--', 'sh', '-c', 'echo x > f'])).stdout) as { exit_code: number; changes: unknown[] };
    expect(j).toMatchObject({ exit_code: 0, changes: [] }); // nothing to apply, so nothing listed or "discarded"
    expect(readdirSync(dir).sort()).toEqual(before);
  });

  it('bkg run --rm on a terminal opens its shell in /workspace', () => {
    const r = onTerminal('run --rm', 'pwd; exit 3\n');
    expect(r.stdout).toMatch(/^\/workspace\r?$/m);
    expect(r.status).toBe(3);
  });

  it('run NAME, exec and shell start in /workspace; --cwd wins', async () => {
    expect((await run(['run', 'web', '--', 'pwd'])).stdout).toBe('/workspace\n');
    expect((await run(['exec', 'web', '--', 'pwd'])).stdout).toBe('/workspace\n');
    expect((await run(['exec', 'web', '--cwd', '/tmp', '--', 'pwd'])).stdout).toBe('/tmp\n');
    const sh = onTerminal('shell web', 'pwd\nexit 4\n');
    expect(sh.stdout).toMatch(/^\/workspace\r?$/m);
    expect(sh.status).toBe(4);
    const there = onTerminal('shell web --cwd /tmp', 'pwd\nexit 0\n');
    expect(there.stdout).toMatch(/^\/tmp\r?$/m);
    expect(there.stdout).not.toMatch(/^\/workspace\r?$/m);
  });

  it('keeps /workspace files across stop and start, lists them in diff, and refuses apply with NO_HOST_WORKSPACE', async () => {
    expect((await run(['exec', 'web', '--', 'sh', '-c', 'echo "print(6 * 7)" > main.py'])).code).toBe(0);
    expect((await run(['stop', 'web'])).code).toBe(0);
    expect((await run(['diff', 'web'])).stdout).toBe('A  main.py\n'); // from the files the stopped sandbox kept
    expect((await run(['start', 'web'])).code).toBe(0);
    expect((await run(['exec', 'web', '--', 'python3', 'main.py'])).stdout).toBe('42\n');
    const apply = await run(['apply', 'web', '--json']);
    expect(apply.code).toBe(2);
    const body = JSON.parse(apply.stdout) as { error: { code: string; message: string; hint: string } };
    expect(body.error.code).toBe('NO_HOST_WORKSPACE');
    expect(body.error.message).toContain('sandbox "web" has no host workspace');
    expect(body.error.hint).toContain('--workspace DIR');
    const human = await run(['apply', 'web']);
    expect(human.code).toBe(2);
    expect(human.stderr).toMatch(/^bkg: sandbox "web" has no host workspace/);
  });

  it('counts /workspace against the disk limit', async () => {
    const r = await run(['exec', 'web', '--json', '--', 'sh', '-c', 'head -c 20000000 /dev/zero > big; echo "rc=$?"']);
    const body = JSON.parse(r.stdout) as { stdout: string; stderr: string; limits_hit: string[] };
    expect(body.stdout).toBe('rc=1\n');
    expect(body.stderr).toContain('No space left on device');
    expect(body.limits_hit).toContain('disk');
    expect((await run(['exec', 'web', '--', 'sh', '-c', 'rm big && echo fits > small && cat small'])).stdout).toBe('fits\n'); // freed again
  });

  it('rm does not hold back a stopped sandbox for /workspace files it has nowhere to apply', async () => {
    expect((await run(['stop', 'web'])).code).toBe(0);
    const rm = await run(['rm', 'web']);
    expect(rm.stderr).toBe('');
    expect(rm.code).toBe(0);
  });
});
