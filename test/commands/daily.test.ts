/**
 * The CLI in daily use, through bin/run.js, a real daemon and real sandboxes: streamed exec that
 * real signals stop, nothing lost on stop, errors that say what to do, limits that are named.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, bkg } from '../helpers/cli.js';
import { sandboxSkipReason } from '../helpers/sandbox.js';

const skip = sandboxSkipReason();

/** The CLI as a child process we can signal, with its output as it arrives. */
function start(args: string[], env: NodeJS.ProcessEnv, cwd: string): { child: ChildProcess; out: () => string; err: () => string; exit: Promise<number | null>; firstOut: Promise<number> } {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let sawOut: (t: number) => void = () => {};
  const firstOut = new Promise<number>((r) => (sawOut = r));
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
    sawOut(Date.now());
  });
  child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  const exit = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  return { child, out: () => out, err: () => err, exit, firstOut };
}

const until = async (what: () => boolean, ms = 10_000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!what()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 25));
  }
};

describe.skipIf(skip)('the CLI in daily use', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const run = (args: string[], input?: string) => bkg(args, { cwd: dir, env, ...(input === undefined ? {} : { input }) });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bkg-daily-'));
    chmodSync(dir, 0o755);
    env = { BKG_HOME: join(dir, 'home'), BKG_PORT: '0', BKG_API_URL: '', BKG_API_KEY: '' };
    writeFileSync(join(dir, 'data.txt'), 'from the host\n');
    expect((await run(['init', '--project', 'daily'])).code).toBe(0);
    expect((await run(['add', 'web', '--workspace', '.'])).code).toBe(0);
    expect((await run(['run', 'web'])).code).toBe(0);
  });
  afterAll(async () => {
    await run(['rm', '--force', 'web']);
    await run(['daemon', 'stop']);
    rmSync(dir, { recursive: true, force: true });
  });

  it('streams output live: the first line arrives while the command still runs', async () => {
    const t0 = Date.now();
    const p = start(['exec', 'web', '--', 'sh', '-c', 'echo first; sleep 2; echo second'], env, dir);
    const first = await p.firstOut;
    expect(await p.exit).toBe(0);
    const end = Date.now();
    expect(p.out()).toBe('first\nsecond\n');
    expect(end - first).toBeGreaterThan(1500); // "first" was on our stdout well before the end
    expect(first - t0).toBeLessThan(end - t0 - 1500);
  });

  it('keeps every byte of large output (3 MB), streamed and with --json', async () => {
    const cmd = ['sh', '-c', 'i=0; while [ $i -lt 3000 ]; do printf "%01023d\\n" $i; i=$((i+1)); done'];
    const expected = Array.from({ length: 3000 }, (_, i) => `${String(i).padStart(1023, '0')}\n`).join('');
    const streamed = spawnSync(process.execPath, [BIN, 'exec', 'web', '--', ...cmd], { env: { ...process.env, ...env }, cwd: dir, maxBuffer: 64 << 20 });
    expect(streamed.status).toBe(0);
    expect(streamed.stdout.length).toBe(3_072_000);
    expect(createHash('sha256').update(streamed.stdout).digest('hex')).toBe(createHash('sha256').update(expected).digest('hex'));
    const json = spawnSync(process.execPath, [BIN, 'exec', 'web', '--json', '--', ...cmd], { env: { ...process.env, ...env }, cwd: dir, maxBuffer: 64 << 20 });
    const body = JSON.parse(json.stdout.toString()) as { stdout: string; truncated: boolean; exit_code: number };
    expect(body).toMatchObject({ exit_code: 0, truncated: false });
    expect(body.stdout === expected).toBe(true);
  });

  it('Ctrl-C reaches the command in the sandbox: it ends, exit 130, and nothing keeps running', async () => {
    const p = start(['exec', 'web', '--', 'sh', '-c', 'echo started; exec sleep 300'], env, dir);
    await p.firstOut;
    p.child.kill('SIGINT');
    expect(await p.exit).toBe(130);
    const ps = await run(['exec', 'web', '--', 'sh', '-c', 'ps -eo comm | grep -c "^sleep$" || true']);
    expect(ps.stdout.trim()).toBe('0');
    const logs = JSON.parse((await run(['logs', 'web', '--json'])).stdout) as { executions: { cmd: string[]; signal: string | null; exit_code: number | null }[] };
    expect(logs.executions.find((e) => e.cmd.includes('echo started; exec sleep 300'))).toMatchObject({ signal: '2', exit_code: null });
  });

  it('the command decides what Ctrl-C means; SIGTERM and SIGHUP of the CLI arrive too', async () => {
    const trap = start(['exec', 'web', '--', 'sh', '-c', 'trap "echo cleaned up; exit 7" INT; echo ready; sleep 30 & wait'], env, dir);
    await until(() => trap.out().includes('ready'));
    trap.child.kill('SIGINT');
    expect(await trap.exit).toBe(7);
    expect(trap.out()).toContain('cleaned up');
    for (const [sig, code] of [['SIGTERM', 143], ['SIGHUP', 129]] as const) {
      const p = start(['exec', 'web', '--', 'sh', '-c', 'echo up; exec sleep 300'], env, dir);
      await p.firstOut;
      p.child.kill(sig);
      expect(await p.exit, sig).toBe(code);
    }
  });

  it('keeps the writable state across stop, start and a daemon restart; only rm deletes it', async () => {
    expect((await run(['exec', 'web', '--', 'sh', '-c', 'echo kept > /workspace/new.txt; echo tmp > /tmp/t; echo home > ~/h; echo $HOME'])).stdout).toBe('/root\n');
    expect((await run(['stop', 'web'])).code).toBe(0);
    expect((await run(['diff', 'web'])).stdout).toBe('A  new.txt\n'); // a stopped sandbox still shows its changes
    expect((await run(['start', 'web'])).stdout).toBe('web: started\n');
    expect((await run(['exec', 'web', '--', 'cat', '/workspace/new.txt', '/tmp/t', '/root/h'])).stdout).toBe('kept\ntmp\nhome\n');
    expect((await run(['stop', 'web'])).code).toBe(0);
    expect((await run(['daemon', 'stop'])).code).toBe(0);
    expect((await run(['start', 'web'])).code).toBe(0); // starts the daemon again, then the sandbox
    expect((await run(['exec', 'web', '--', 'cat', '/workspace/new.txt'])).stdout).toBe('kept\n');
    const rm = await run(['rm', 'web']);
    expect(rm.code).toBe(2);
    expect(rm.stderr).toContain('sandbox "web" is running');
    expect((await run(['stop', 'web'])).code).toBe(0);
    const unapplied = await run(['rm', 'web']);
    expect(unapplied.code).toBe(2);
    expect(unapplied.stderr).toContain('has 1 workspace change not applied');
    expect(unapplied.stderr).toContain('A  new.txt');
    expect(unapplied.stderr).toContain('bkg apply web');
    expect((await run(['start', 'web'])).code).toBe(0);
  });

  it('HOME is outside /workspace, and after apply the diff is empty', async () => {
    await run(['exec', 'web', '--', 'sh', '-c', 'echo "ls" >> ~/.bash_history; mkdir -p ~/.config/procps; echo edited > /workspace/data.txt']);
    expect((await run(['diff', 'web'])).stdout).toBe('M  data.txt\nA  new.txt\n');
    expect((await run(['apply', 'web'])).code).toBe(0);
    expect(readFileSync(join(dir, 'data.txt'), 'utf8')).toBe('edited\n');
    expect((await run(['diff', 'web'])).stdout).toBe('');
    expect(JSON.parse((await run(['diff', 'web', '--json'])).stdout)).toEqual({ changes: [] });
  });

  it('passes TERM to a terminal exec, and `bkg shell` runs bash', () => {
    const t = spawnSync('script', ['-qfec', `${process.execPath} ${BIN} exec -t web -- sh -c 'echo "term=$TERM"; tput cols >/dev/null && echo tput-ok'`, '/dev/null'], { env: { ...process.env, ...env, TERM: 'xterm-256color' }, cwd: dir, encoding: 'utf8', timeout: 30_000 });
    expect(t.stdout).toContain('term=xterm-256color');
    expect(t.stdout).toContain('tput-ok');
    expect(t.status).toBe(0);
    const sh = spawnSync('script', ['-qfec', `${process.execPath} ${BIN} shell web`, '/dev/null'], { env: { ...process.env, ...env, TERM: 'xterm' }, cwd: dir, encoding: 'utf8', timeout: 30_000, input: 'echo "shell=$BASH_VERSION"\nexit 4\n' });
    expect(sh.stdout).toMatch(/shell=\d+\.\d+/);
    expect(sh.status).toBe(4);
  });

  it('`bkg run` with no command opens a throwaway shell on a terminal', () => {
    const r = spawnSync('script', ['-qfec', `${process.execPath} ${BIN} run --rm`, '/dev/null'], { env: { ...process.env, ...env, TERM: 'xterm' }, cwd: dir, encoding: 'utf8', timeout: 30_000, input: 'tty; echo "host=$(hostname)"; exit 3\n' });
    expect(r.stdout).toMatch(/\/dev\/pts\/\d+/);
    expect(r.stdout).toMatch(/host=bkg-[0-9a-f]+/);
    expect(r.status).toBe(3);
  });

  it('names the limits a command ran into, in words and in --json', async () => {
    const bomb = await run(['run', '--rm', '--pids', '16', '--json', '--', 'sh', '-c', 'for i in $(seq 40); do sleep 3 & done 2>/dev/null; wait']);
    expect(JSON.parse(bomb.stdout)).toMatchObject({ limits_hit: ['pids'] });
    const human = await run(['run', '--rm', '--pids', '16', '--', 'sh', '-c', 'for i in $(seq 40); do sleep 3 & done 2>/dev/null; wait']);
    expect(human.stderr).toContain('bkg: hit the pids limit (16)');
    const disk = await run(['run', '--rm', '--disk', '1m', '--json', '--', 'sh', '-c', 'head -c 3000000 /dev/zero > /tmp/big']);
    expect(JSON.parse(disk.stdout)).toMatchObject({ limits_hit: ['disk'] });
    const inExec = await run(['exec', 'web', '--json', '--', 'sh', '-c', 'head -c 100000000 /dev/zero > /tmp/big; rm -f /tmp/big']);
    expect(JSON.parse(inExec.stdout)).toMatchObject({ exit_code: 0, limits_hit: [] });
    const time = await run(['exec', 'web', '--json', '--timeout', '200ms', '--', 'sleep', '5']);
    expect(JSON.parse(time.stdout)).toMatchObject({ timed_out: true, limits_hit: ['time'], bkg_exit_code: 124 });
  });

  it('names a memory limit hit in --json and in words, in a throwaway sandbox and in a running one', async () => {
    // tail keeps the whole "line" of zeros it reads in memory: it grows until the OOM killer ends it
    const hog = ['sh', '-c', 'head -c 1000000000 /dev/zero | tail'];
    const json = await run(['run', '--rm', '--memory', '32m', '--json', '--', ...hog]);
    expect(JSON.parse(json.stdout)).toMatchObject({ oom_killed: true, limits_hit: ['memory'], bkg_exit_code: 125 });
    expect(json.code).toBe(125);
    const human = await run(['run', '--rm', '--memory', '32m', '--', ...hog]);
    expect(human.code).toBe(125);
    expect(human.stderr).toContain('bkg: out of memory: a process exceeded the 32 MiB limit and was killed');
    const inExec = await run(['exec', 'web', '--json', '--', ...hog]); // web: the default 512 MiB
    expect(JSON.parse(inExec.stdout)).toMatchObject({ oom_killed: true, limits_hit: ['memory'], bkg_exit_code: 125 });
    expect(JSON.parse((await run(['exec', 'web', '--json', '--', 'true'])).stdout)).toMatchObject({ exit_code: 0, oom_killed: false, limits_hit: [] }); // and the sandbox lives on
  });

  it.each([
    [['--memory', '64'], '--memory: "64" is 64 B, below the minimum of 16 MiB', 'Did you mean 64m?'],
    [['--memory', '1k'], '--memory: "1k" is 1 KiB, below the minimum of 16 MiB', 'a number without a unit is bytes'],
    [['--disk', '100k'], '--disk: "100k" is 100 KiB, below the minimum of 1 MiB', 'binary unit'],
    [['--timeout', '3 days'], '--timeout: "3 days" is not a duration', 'ms, s, m, h'],
  ])('refuses %j before anything starts, with the minimum and the grammar', async (flags, message, hint) => {
    const r = await run(['run', '--rm', ...flags, '--', 'true']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`bkg: ${message}`);
    expect(r.stderr).toContain(hint);
  });

  it.each([
    [['run', '--rm', 'ls', '-la'], 2, 'bkg: unknown flag -la for bkg run', 'go after `--`: `bkg run --rm -- ls -la`'],
    [['sl'], 2, 'bkg: "sl" is not a bkg command', 'Did you mean `bkg ls`?'],
    [['exce', 'web', '--', 'ls'], 2, 'bkg: "exce" is not a bkg command', 'Did you mean `bkg exec web -- ls`?'],
    [['key', 'craete', 'ci'], 2, 'bkg: "key craete" is not a bkg command', 'Did you mean `bkg key create ci`?'],
    [['exec'], 2, 'bkg: missing NAME (Sandbox name or id)', 'Usage: `bkg exec NAME -- CMD...`'],
    [['exec', 'web'], 2, 'bkg: give the command to run after --', 'bkg shell web'],
    [['mcp', 'config'], 2, 'bkg: Missing required flag client', 'bkg mcp config --help'],
    [['policy', 'set', 'ci', '--max-memory'], 2, 'bkg: --max-memory needs a value', 'bkg policy set --help'],
  ])('%j says what is wrong, whole, and what to do', async (args, code, message, hint) => {
    const r = await run(args);
    expect(r.code).toBe(code);
    expect(r.stderr).toContain(message);
    expect(r.stderr).toContain(hint);
    expect(r.stderr).not.toMatch(/The following error occurred:\n/);
  });

  it('help: `bkg help CMD`, `-h`, `--help`, and the root help', async () => {
    for (const args of [['help', 'run'], ['run', '-h'], ['run', '--help']]) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout).toContain('USAGE');
      expect(r.stdout).toContain('--memory');
    }
    const root = await run(['help']);
    expect(root.stdout).toMatch(/COMMANDS\n/);
    expect(root.stdout.match(/^ {2}cp /gm)).toHaveLength(1);
    expect(root.stdout).toMatch(/^ {2}start /m);
    expect((await run(['exec', 'web', '--', 'sh', '-c', 'echo "$1"', 'sh', '-h'])).stdout).toBe('-h\n'); // after --, -h is the command's
  });
});
