/** `bkg run` end to end: the real CLI, the real helper, real sandboxes. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bkg } from '../helpers/cli.js';
import { sandboxSkipReason } from '../helpers/sandbox.js';

const skip = sandboxSkipReason();

describe.skipIf(skip)('bkg run', () => {
  it('streams output and returns the command\'s exit code', async () => {
    const r = await bkg(['run', '--rm', '--', 'sh', '-c', 'echo hello; echo oops >&2; exit 7']);
    expect(r.stdout).toBe('hello\n');
    expect(r.stderr).toBe('oops\n');
    expect(r.code).toBe(7);
  });

  it('returns 128+N when the command is killed by signal N', async () => {
    const r = await bkg(['run', '--', 'sh', '-c', 'kill -TERM $$']);
    expect(r.code).toBe(143);
  });

  it('uses distinct exit codes for timeout (124) and out-of-memory (125)', async () => {
    const t = await bkg(['run', '--timeout', '300ms', '--', 'sleep', '30']);
    expect(t.code).toBe(124);
    expect(t.stderr).toContain('timed out');
    const m = await bkg(['run', '--memory', '48m', '--runtime', 'python', '--', '-c', 'b = bytearray(200 << 20)']);
    expect(m.code).toBe(125);
    expect(m.stderr).toContain('out of memory');
  });

  it('prints one JSON result with --json', async () => {
    const r = await bkg(['run', '--json', '--memory', '128m', '--pids', '64', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(r.code).toBe(3);
    const body = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(body).toMatchObject({ exit_code: 3, signal: null, bkg_exit_code: 3, timed_out: false, oom_killed: false, stdout: 'out\n', stderr: 'err\n', changes: [] });
    expect(typeof body.duration_ms).toBe('number');
    expect(body.peak_memory_bytes).toBeGreaterThan(0);
  });

  it('runs the python and node runtimes, with stdin forwarded', async () => {
    const p = await bkg(['run', '--runtime', 'python'], { input: 'print(6 * 7)\n' });
    expect(p.stdout).toBe('42\n');
    const n = await bkg(['run', '--runtime', 'node', '--', '-e', 'console.log(process.version)']);
    expect(n.stdout.trim()).toBe(process.version);
    const s = await bkg(['run', '--runtime', 'shell', '--', '-c', 'echo $0']);
    expect(s.stdout.trim()).toMatch(/sh$/);
  });

  it('reports a missing command with exit 127', async () => {
    const r = await bkg(['run', '--', 'definitely-not-a-command']);
    expect(r.code).toBe(127);
    expect(r.stderr).toContain('definitely-not-a-command');
  });

  it('keeps the workspace untouched unless --apply', async () => {
    const ws = mkdtempSync(join(tmpdir(), 'bkg-cli-ws-'));
    try {
      chmodSync(ws, 0o755);
      writeFileSync(join(ws, 'f.txt'), 'one\n');
      const dry = await bkg(['run', '--workspace', ws, '--json', '--', 'sh', '-c', 'echo two >> f.txt']);
      expect(JSON.parse(dry.stdout).changes).toEqual([{ path: 'f.txt', kind: 'modified', type: 'file' }]);
      expect(readFileSync(join(ws, 'f.txt'), 'utf8')).toBe('one\n');
      const applied = await bkg(['run', '--workspace', ws, '--apply', '--', 'sh', '-c', 'echo two >> f.txt']);
      expect(applied.code).toBe(0);
      expect(readFileSync(join(ws, 'f.txt'), 'utf8')).toBe('one\ntwo\n');
    } finally {
      rmSync(ws, { recursive: true, force: true });
    }
  });

  it('loads a user seccomp profile', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bkg-seccomp-'));
    try {
      const profile = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'templates', 'seccomp', 'default.json'), 'utf8')) as { syscalls: { names: string[]; action: string }[] };
      profile.syscalls = [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }, ...profile.syscalls];
      writeFileSync(join(dir, 'p.json'), JSON.stringify(profile));
      const r = await bkg(['run', '--seccomp', join(dir, 'p.json'), '--', 'sh', '-c', 'mkdir /tmp/x; echo rc=$?']);
      expect(r.stdout).toContain('rc=1');
      expect(r.stderr).toContain('Operation not permitted');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bkg run input errors', () => {
  it.each([
    [['run', '--memory', 'lots', '--', 'true'], 'INVALID_ARGUMENT', 2, '--memory'],
    [['run', '--cpus', '0', '--', 'true'], 'INVALID_ARGUMENT', 2, '--cpus'],
    [['run', '--timeout', 'later', '--', 'true'], 'INVALID_ARGUMENT', 2, '--timeout'],
    [['run', '--env', 'NOEQUALS', '--', 'true'], 'INVALID_ARGUMENT', 2, '--env'],
    [['run', '--runtime', 'cobol', '--', 'true'], 'INVALID_ARGUMENT', 2, 'cobol'],
    [['run', '--network', 'bridge', '--', 'true'], 'INVALID_ARGUMENT', 2, 'network'],
    [['run', '--workspace', '/nonexistent/dir', '--', 'true'], 'WORKSPACE_INVALID', 2, '/nonexistent/dir'],
    [['run', '--workspace', '/', '--', 'true'], 'WORKSPACE_INVALID', 2, '/'],
    [['run', '--seccomp', '/nonexistent.json', '--', 'true'], 'INVALID_SECCOMP_PROFILE', 2, 'nonexistent'],
  ])('%j → %s', async (args, code, exit, mention) => {
    const dashes = args.indexOf('--');
    const r = await bkg([...args.slice(0, dashes), '--json', ...args.slice(dashes)]);
    expect(r.code).toBe(exit);
    const body = JSON.parse(r.stdout) as { error: { code: string; message: string; hint: string } };
    expect(body.error.code).toBe(code);
    expect(body.error.message).toContain(mention);
    expect(body.error.hint.length).toBeGreaterThan(10);
    const human = await bkg(args);
    expect(human.code).toBe(exit);
    expect(human.stdout).toBe('');
    expect(human.stderr).toMatch(/^bkg: /);
  });
});
