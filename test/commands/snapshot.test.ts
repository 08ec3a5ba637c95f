/**
 * `bkg snapshot NAME [--tag]`, `bkg snapshot ls|rm`, `bkg fork` and `bkg run --from` through the real
 * CLI (bin/run.js, fast path and oclif) against a daemon it starts, with real sandboxes.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bkg, type CliResult } from '../helpers/cli.js';
import { freePort } from '../helpers/daemon.js';
import { sandboxSkipReason } from '../helpers/sandbox.js';

const skip = sandboxSkipReason();

describe.skipIf(skip)('bkg snapshot, fork, run --from', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const run = (args: string[]): Promise<CliResult> => bkg(args, { cwd: dir, env });
  const ok = async (args: string[]): Promise<CliResult> => {
    const r = await run(args);
    expect(r.code, `${args.join(' ')}: ${r.stderr}${r.stdout}`).toBe(0);
    return r;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bkg-snapshot-cli-'));
    chmodSync(dir, 0o755);
    env = { BKG_HOME: join(dir, 'home'), BKG_PORT: String(await freePort()), BKG_API_URL: '', BKG_API_KEY: '' };
    await ok(['init']);
    await ok(['add', 'web', '--memory', '128m']);
    await ok(['run', 'web', '--', 'sh', '-c', 'echo hello > /workspace/hello.txt']);
  });
  afterAll(async () => {
    await bkg(['daemon', 'stop'], { cwd: dir, env });
    rmSync(dir, { recursive: true, force: true });
  });

  it('snapshots a running sandbox with a tag, lists it, forks, starts another from it and removes it', async () => {
    const taken = await ok(['snapshot', 'web', '--tag', 'v1']);
    expect(taken.stdout).toMatch(/^Saved snapshot snap_\w+ \(web:v1\) of sandbox web: .+\. Start from it: bkg run --from web:v1 NAME\n$/);
    const json = JSON.parse((await ok(['snapshot', 'web', '--json'])).stdout) as { id: string; tag: string | null; sandbox: string };
    expect(json).toMatchObject({ sandbox: 'web', tag: null });

    const ls = await ok(['snapshot', 'ls']);
    expect(ls.stdout).toMatch(/^ID\s+SANDBOX\s+TAG\s+NAMESPACE\s+SIZE\s+CREATED\n/);
    expect(ls.stdout).toContain(json.id);
    expect(ls.stdout).toMatch(/web\s+v1\s+default/);

    const fork = await ok(['fork', 'web', 'web-fork']);
    expect(fork.stdout).toMatch(/^Forked web into web-fork \(\w+, running\)\.\n$/);
    await ok(['exec', 'web-fork', '--', 'sh', '-c', 'echo fork >> /workspace/hello.txt']);
    expect((await ok(['exec', 'web', '--', 'cat', '/workspace/hello.txt'])).stdout).toBe('hello\n');
    expect((await ok(['exec', 'web-fork', '--', 'cat', '/workspace/hello.txt'])).stdout).toBe('hello\nfork\n');

    const from = await ok(['run', '--from', 'web:v1', 'web-2', '--memory', '64m', '--', 'cat', '/workspace/hello.txt']);
    expect(from.stdout).toBe('hello\n');
    const view = JSON.parse((await ok(['ls', '--json'])).stdout) as { sandboxes: { name: string; status: string; limits: { memory_mb?: number } }[] } | { name: string; status: string; limits: { memory_mb?: number } }[];
    const list = Array.isArray(view) ? view : view.sandboxes;
    expect(list.find((s) => s.name === 'web-2')).toMatchObject({ status: 'running', limits: { memory_mb: 64 } });

    const noName = await run(['run', '--from', 'web:v1', '--json']);
    expect(noName.code).toBe(2);
    expect(noName.stdout).toContain('--from needs the new sandbox\'s NAME');

    await ok(['snapshot', 'rm', 'web:v1']);
    const gone = await run(['snapshot', 'rm', 'web:v1', '--json']);
    expect(gone.code).toBe(2);
    expect((JSON.parse(gone.stdout) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
    expect((await ok(['snapshot', 'ls'])).stdout).not.toMatch(/web\s+v1/);
  });
});
