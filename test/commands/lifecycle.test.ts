/** The CLI's whole lifecycle through bin/run.js and a real daemon it starts on demand. */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, bkg } from '../helpers/cli.js';
import { sandboxSkipReason } from '../helpers/sandbox.js';

const skip = sandboxSkipReason();

describe.skipIf(skip)('bkg lifecycle commands', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const run = (args: string[], input?: string) => bkg(args, { cwd: dir, env, ...(input === undefined ? {} : { input }) });
  const json = async (args: string[]) => {
    const dashes = args.indexOf('--');
    const r = await run(dashes === -1 ? [...args, '--json'] : [...args.slice(0, dashes), '--json', ...args.slice(dashes)]);
    return { ...r, body: JSON.parse(r.stdout) as Record<string, unknown> };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bkg-life-'));
    chmodSync(dir, 0o755);
    env = { BKG_HOME: join(dir, 'home'), BKG_PORT: '0' };
    writeFileSync(join(dir, 'data.txt'), 'from the host\n');
    expect((await run(['init', '--project', 'life'])).code).toBe(0);
    expect((await run(['add', 'web', '--runtime', 'python', '--memory', '128m', '--workspace', '.'])).code).toBe(0);
  });
  afterAll(async () => {
    await run(['rm', '--force', 'web']);
    await run(['daemon', 'stop']);
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts the daemon on demand and runs the project sandbox', async () => {
    expect((await run(['daemon', 'status'])).code).toBe(3);
    const r = await run(['run', 'web', '--', 'python3', '-c', 'print(open("/workspace/data.txt").read().strip())']);
    expect(r.stdout).toBe('from the host\n');
    expect(r.code).toBe(0);
    const status = await json(['daemon', 'status']);
    expect(status.code).toBe(0);
    expect(status.body).toMatchObject({ home: join(dir, 'home') });
  });

  it('exec propagates exit codes, forwards stdin with -i, and prints JSON', async () => {
    expect((await run(['exec', 'web', '--', 'sh', '-c', 'echo out; echo err >&2; exit 6'])).code).toBe(6);
    const piped = await run(['exec', '-i', 'web', '--', 'cat'], 'through stdin');
    expect(piped.stdout).toBe('through stdin');
    const j = await json(['exec', 'web', '--', 'sh', '-c', 'kill -TERM $$']);
    expect(j.code).toBe(143);
    expect(j.body).toMatchObject({ signal: 15 });
    expect((await run(['exec', 'web', '--timeout', '300ms', '--', 'sleep', '5'])).code).toBe(124);
  });

  it('exec opens its stream without a probe: it starts the daemon only when nothing listens', async () => {
    expect((await run(['daemon', 'stop'])).code).toBe(0);
    const r = await run(['exec', '-i', 'web', '--', 'cat'], 'after a restart\n');
    expect(r.stderr).toContain('started the daemon');
    expect(r.stdout).toBe('after a restart\n'); // the sandbox ran on, the new daemon took it over, and stdin went through the second stream
    expect(r.code).toBe(0);
    const probes = (): number => readFileSync(join(dir, 'home', 'logs', 'daemon.log'), 'utf8').split('\n').filter((l) => l.includes('"route":"/healthz"')).length;
    const before = probes();
    const again = await run(['exec', 'web', '--', 'true']);
    expect(again.stderr).not.toContain('started the daemon');
    expect(again.code).toBe(0);
    expect(probes()).toBe(before); // with a daemon running, no health probe went before the stream
    // an address given by BKG_API_URL is never started: nothing listening there is an error, exit 3
    const remote = await bkg(['exec', 'web', '--', 'true'], { cwd: dir, env: { ...env, BKG_API_URL: 'http://127.0.0.1:1' } });
    expect(remote.code).toBe(3);
    expect(remote.stderr).toContain('nothing is listening');
  });

  it('runs on a terminal with exec -t', async () => {
    const script = spawnSync('script', ['-qfec', `${process.execPath} ${BIN} exec -t web -- sh -c 'tty; exit 5'`, '/dev/null'], { env: { ...process.env, ...env }, cwd: dir, encoding: 'utf8', timeout: 30_000 });
    expect(script.stdout).toMatch(/\/dev\/pts\/\d+/);
    expect(script.status).toBe(5);
    // with no daemon, exec -t starts it (its notice on the terminal) and then runs on the terminal
    expect((await run(['daemon', 'stop'])).code).toBe(0);
    const started = spawnSync('script', ['-qfec', `${process.execPath} ${BIN} exec -t web -- sh -c 'tty; exit 4'`, '/dev/null'], { env: { ...process.env, ...env }, cwd: dir, encoding: 'utf8', timeout: 30_000 });
    expect(started.stdout).toContain('started the daemon');
    expect(started.stdout).toMatch(/\/dev\/pts\/\d+/);
    expect(started.status).toBe(4);
  });

  it('lists, diffs, copies, applies and shows logs', async () => {
    const ls = await json(['ls']);
    expect((ls.body as { sandboxes: { name: string; status: string }[] }).sandboxes.find((s) => s.name === 'web')).toMatchObject({ status: 'running' });
    await run(['exec', 'web', '--', 'sh', '-c', 'echo changed > /workspace/new.txt']);
    const diff = await json(['diff', 'web']);
    expect(JSON.stringify(diff.body)).toContain('new.txt');
    expect(readFileSync(join(dir, 'data.txt'), 'utf8')).toBe('from the host\n');
    writeFileSync(join(dir, 'in.txt'), 'copied in');
    expect((await run(['cp', join(dir, 'in.txt'), 'web:/tmp/in.txt'])).code).toBe(0);
    expect((await run(['exec', 'web', '--', 'cat', '/tmp/in.txt'])).stdout).toBe('copied in');
    expect((await run(['cp', 'web:/workspace/new.txt', join(dir, 'out.txt')])).code).toBe(0);
    expect(readFileSync(join(dir, 'out.txt'), 'utf8')).toBe('changed\n');
    expect((await run(['apply', 'web'])).code).toBe(0);
    expect(readFileSync(join(dir, 'new.txt'), 'utf8')).toBe('changed\n');
    const logs = await json(['logs', 'web']);
    expect(JSON.stringify(logs.body)).toContain('new.txt');
  });

  it('manages keys, and audit verify fails after a row is edited', async () => {
    const created = await json(['key', 'create', 'ci', '--role', 'namespace', '--namespace', 'default']);
    const secret = (created.body as { secret: string }).secret;
    expect(secret).toMatch(/^bkg_/);
    const list = await run(['key', 'ls']);
    expect(list.stdout).not.toContain(secret);
    const withKey = await bkg(['ls', '--json'], { cwd: dir, env: { BKG_API_URL: `unix://${join(dir, 'home', 'sandbox.sock')}`, BKG_API_KEY: secret } });
    expect(withKey.code).toBe(0);
    const id = (created.body as { key: { id: string } }).key.id;
    expect((await run(['key', 'revoke', id])).code).toBe(0);
    const revoked = await bkg(['ls', '--json'], { cwd: dir, env: { BKG_API_URL: `unix://${join(dir, 'home', 'sandbox.sock')}`, BKG_API_KEY: secret } });
    expect(revoked.code).toBe(4);
    expect(JSON.parse(revoked.stdout)).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
    // by name too, as the hint says; two live keys of one name need the id
    await json(['key', 'create', 'twice', '--role', 'readonly']);
    await json(['key', 'create', 'twice', '--role', 'readonly']);
    const ambiguous = await run(['key', 'revoke', 'twice']);
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toContain('2 keys are named "twice"');
    const once = await json(['key', 'create', 'once', '--role', 'readonly']);
    expect((await run(['key', 'rotate', 'once'])).code).toBe(0);
    expect((await json(['key', 'revoke', 'once'])).body).toMatchObject({ id: (once.body as { key: { id: string } }).key.id, revoked_at: expect.any(String) });
    expect((await run(['key', 'revoke', 'once'])).stderr).toContain('no API key named "once" that is not revoked');
    expect((await run(['audit', 'verify'])).code).toBe(0);
    const audit = await json(['audit', 'ls', '--since', '1h']);
    expect(JSON.stringify(audit.body)).toContain('sandbox.exec');
    const db = new Database(join(dir, 'home', 'bkg.db'));
    db.prepare("UPDATE audit_events SET actor = 'someone-else' WHERE seq = 2").run();
    db.close();
    const tampered = await json(['audit', 'verify']);
    expect(tampered.code).toBe(6);
    expect(tampered.body).toMatchObject({ error: { code: 'AUDIT_TAMPERED' } });
  });

  it('stops and removes', async () => {
    expect((await json(['stop', 'web'])).body).toMatchObject({ status: 'stopped' });
    expect((await run(['exec', 'web', '--', 'true'])).code).toBe(2); // SANDBOX_NOT_RUNNING
    expect((await run(['rm', 'web'])).code).toBe(0);
    expect((await json(['ls'])).body).toEqual({ sandboxes: [] });
    expect((await run(['daemon', 'stop'])).code).toBe(0);
  });
});
