/**
 * The real `bkg dashboard` (bin/run.js over dist/) in a real terminal (tmux) against a real daemon
 * with real running sandboxes: it shows them with their memory, stops one with a key press and shows
 * the new state, opens a shell and comes back from it, quits leaving the terminal as it was; with a
 * read-only key over TCP the actions are hidden. And without a terminal: --once, --once --json, and
 * the error that names them.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DaemonClient } from '../../src/client/daemon-client.js';
import { resolveEndpoint } from '../../src/client/endpoint.js';
import { BIN, bkg } from '../helpers/cli.js';
import { freePort, removeHome, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { sandboxSkipReason } from '../helpers/sandbox.js';

/** Why no terminal can be driven here, or null. Under CI=true nothing may skip. */
function tmuxSkipReason(): string | null {
  if (spawnSync('tmux', ['-V']).status === 0) return null;
  if (process.env.CI === 'true') throw new Error('CI=true but tmux is missing: the dashboard\'s end-to-end test may not skip in CI (.ci/run installs it)');
  console.warn('skipping the dashboard end-to-end test: tmux is not installed');
  return 'tmux is missing';
}

const skip = sandboxSkipReason() ?? tmuxSkipReason();

/** One tmux server of our own (-L), one window of 100×30 running a plain shell. */
class Tmux {
  private readonly server = `bkg-e2e-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  constructor(private readonly env: Record<string, string>) {}

  private tmux(...args: string[]): string {
    const r = spawnSync('tmux', ['-L', this.server, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  }

  start(): void {
    const env = Object.entries({ NO_COLOR: '', ...this.env, PS1: 'e2e$ ', TERM: 'xterm-256color' }).map(([k, v]) => `${k}=${v}`);
    this.tmux('new-session', '-d', '-s', 'e2e', '-x', '100', '-y', '30', 'env', ...env, 'bash', '--norc', '--noprofile');
  }

  keys(...keys: string[]): void {
    this.tmux('send-keys', '-t', 'e2e', ...keys);
  }

  /** Type text literally (no key names). */
  type(text: string): void {
    this.tmux('send-keys', '-t', 'e2e', '-l', text);
  }

  screen(): string {
    return this.tmux('capture-pane', '-p', '-t', 'e2e');
  }

  async until(what: string, test: (screen: string) => boolean, ms = 20_000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const s = this.screen();
      if (test(s)) return s;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; the screen:\n${s}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  stop(): void {
    spawnSync('tmux', ['-L', this.server, 'kill-server']);
  }
}

const row = (screen: string, name: string): string => screen.split('\n').find((l) => l.slice(2).startsWith(`${name} `)) ?? '';

describe.skipIf(skip)('bkg dashboard, end to end', () => {
  let d: TestDaemon;
  let client: DaemonClient;
  let port: number;
  let env: Record<string, string>;

  beforeAll(async () => {
    port = await freePort();
    d = await startTestDaemon({ port });
    client = new DaemonClient({ endpoint: resolveEndpoint({ BKG_HOME: d.home }) });
    for (const [name, memory_mb] of [['web', 256], ['api', 128]] as const) {
      await client.createSandbox({ name, limits: { memory_mb } });
      await client.startSandbox(name);
    }
    env = { BKG_HOME: d.home, BKG_API_URL: '', BKG_API_KEY: '' };
  });
  afterAll(async () => {
    for (const name of ['web', 'api']) await client.removeSandbox(name).catch(() => {});
    await client.close();
    await d.stop();
    removeHome(d.home);
  });

  it('shows the running sandboxes with their memory, stops one with x, opens a shell with t and comes back, quits cleanly with q', async () => {
    const t = new Tmux(env);
    t.start();
    try {
      await t.until('the shell prompt', (s) => s.includes('e2e$'));
      const t0 = Date.now();
      t.type(`${process.execPath} ${BIN} dashboard; echo "exit=$?"`);
      t.keys('Enter');
      let s = await t.until('both sandboxes with their memory', (x) => /\d+(\.\d)?[KM]\/256M/.test(row(x, 'web')) && /\/128M/.test(row(x, 'api')));
      console.log(`dashboard: first frame with both sandboxes ${Date.now() - t0} ms after the command was typed (tmux polled every 25 ms)`);
      expect(s.split('\n')[0]).toMatch(/^bkg \[1 Sandboxes\] 2 Keys {2}3 Audit {2}4 Models\s+2\/2 running · /);
      expect(row(s, 'web')).toMatch(/^ {2}web\s+default\s+running\s+shell/);
      expect(row(s, 'api')).toMatch(/^> api\s+default\s+running/); // sorted by name: api first, selected

      // stop web: select it, press x
      t.keys('j');
      await t.until('web selected', (x) => row(x, 'web').startsWith('> '));
      t.keys('x');
      s = await t.until('web stopped', (x) => /^> web\s+default\s+stopped/.test(row(x, 'web')));
      expect(s).toContain('1/2 running');
      expect((await client.getSandbox('web')).status).toBe('stopped');

      // a shell in api: the dashboard gives the terminal to `bkg shell api` and takes it back
      t.keys('k');
      await t.until('api selected', (x) => row(x, 'api').startsWith('> '));
      t.keys('t');
      await t.until('the sandbox shell', (x) => /root@api/.test(x) && !x.includes('[1 Sandboxes]'));
      t.type('echo inside-$((6*7))');
      t.keys('Enter');
      s = await t.until('the command output', (x) => /^inside-42$/m.test(x));
      t.type('exit');
      t.keys('Enter');
      s = await t.until('the dashboard again', (x) => x.includes('[1 Sandboxes]') && x.includes('the shell in api exited (0)'));
      expect(row(s, 'api')).toMatch(/running/);
      expect(row(s, 'web')).toMatch(/stopped/);

      // q: the terminal as it was (the main screen, its prompt), the command's exit code 0
      t.keys('q');
      s = await t.until('the exit code', (x) => x.includes('exit=0'));
      expect(s).not.toContain('[1 Sandboxes]');
      expect(s).not.toContain('inside-42'); // the shell ran on the dashboard's screen, gone with it
      expect(s.trimEnd().split('\n').slice(-2)).toEqual(['exit=0', 'e2e$']);
    } finally {
      t.stop();
    }
  });

  it('with a read-only key over TCP (BKG_API_URL): the sandboxes show, the actions are hidden, admin views need an admin key', async () => {
    const { secret } = await client.createKey({ name: 'dash-ro', role: 'readonly' });
    const t = new Tmux({ BKG_HOME: d.home, BKG_API_URL: `http://127.0.0.1:${port}`, BKG_API_KEY: secret, NO_COLOR: '1' });
    t.start();
    try {
      await t.until('the shell prompt', (s) => s.includes('e2e$'));
      t.type(`${process.execPath} ${BIN} top; echo "exit=$?"`);
      t.keys('Enter');
      const s = await t.until('the dashboard, live', (x) => row(x, 'api').includes('running') && !x.includes('connecting…'));
      expect(s.split('\n')[0]).toMatch(new RegExp(`1/2 running · read-only key · http://127\\.0\\.0\\.1:${port}$`));
      expect(s.trimEnd().split('\n').at(-1)).toBe('/ filter  o sort  ? help  q quit');
      t.keys('x');
      t.keys('2');
      await t.until('the keys view refused', (x) => x.includes('API keys: this view needs an admin key.'));
      expect((await client.getSandbox('api')).status).toBe('running');
      t.keys('C-c');
      await t.until('the exit code', (x) => x.includes('exit=0'));
    } finally {
      t.stop();
    }
  });

  it('--once prints the table, --once --json the same as JSON, and without a terminal it says to use them', async () => {
    const table = await bkg(['dashboard', '--once'], { env });
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+NAMESPACE\s+STATE\s+RUNTIME\s+CPU%\s+MEMORY\s+PIDS\s+UP\s+IDLE$/);
    expect(lines.find((l) => l.startsWith('api '))).toMatch(/^api\s+default\s+running\s+shell\s+\d+(\.\d)?\s+\d+(\.\d)?[KM]\/128M\s+\d+\s+\d+[smh]\s+-$/);
    expect(lines.find((l) => l.startsWith('web '))).toMatch(/^web\s+default\s+stopped\s+shell\s+-\s+256M\s+-\s+-\s+-$/);

    const json = await bkg(['top', '--once', '--json', '--sort', 'memory'], { env });
    expect(json.code).toBe(0);
    const body = JSON.parse(json.stdout) as { at: string; sandboxes: Record<string, unknown>[] };
    expect(body.sandboxes.map((x) => x.name)).toEqual(['api', 'web']);
    expect(body.sandboxes[0]).toMatchObject({ name: 'api', status: 'running', memory_limit_bytes: 128 * 1024 * 1024, cpu_percent: expect.any(Number), memory_bytes: expect.any(Number) });
    expect(body.sandboxes[1]).toMatchObject({ name: 'web', status: 'stopped', cpu_percent: null, memory_bytes: null, memory_limit_bytes: 256 * 1024 * 1024 });

    const piped = await bkg(['dashboard'], { env });
    expect(piped.code).toBe(2);
    expect(piped.stdout).toBe('');
    expect(piped.stderr).toContain('bkg: bkg dashboard needs a terminal');
    expect(piped.stderr).toContain('`bkg dashboard --once`');
    const asJson = await bkg(['dashboard', '--json'], { env });
    expect(asJson.code).toBe(2);
    expect(JSON.parse(asJson.stdout)).toMatchObject({ error: { code: 'INVALID_ARGUMENT', message: expect.stringContaining('--json needs --once') } });
    const badSort = await bkg(['dashboard', '--once', '--sort', 'size'], { env });
    expect(badSort.code).toBe(2);
    expect(badSort.stderr).toContain('--sort: "size" is not a column to sort by');
  });
});
