/** `bkg policy set|show` and what a namespace key meets at the terminal: the real CLI against a daemon it starts. */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bkg } from '../helpers/cli.js';
import { freePort } from '../helpers/daemon.js';
import { sandboxSkipReason } from '../helpers/sandbox.js';

const skip = sandboxSkipReason();

describe.skipIf(skip)('bkg policy', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let asKey: (key: string) => NodeJS.ProcessEnv;
  const run = (args: string[], e: NodeJS.ProcessEnv = env) => bkg(args, { cwd: dir, env: e });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bkg-policy-'));
    chmodSync(dir, 0o755);
    const port = await freePort();
    env = { BKG_HOME: join(dir, 'home'), BKG_PORT: String(port), BKG_API_URL: '', BKG_API_KEY: '' };
    asKey = (key) => ({ ...env, BKG_API_URL: `http://127.0.0.1:${port}`, BKG_API_KEY: key });
  });
  afterAll(async () => {
    await run(['daemon', 'stop']);
    rmSync(dir, { recursive: true, force: true });
  });

  it('sets only the settings given, shows them with what the namespace uses, and prints JSON', async () => {
    const set = await run(['policy', 'set', 'ci', '--max-sandboxes', '2', '--networks', 'none,host', '--max-memory', '1g', '--max-total-memory', 'unlimited', '--json']);
    expect(set.stderr).toMatch(/started the daemon|^$/);
    expect(set.code).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({
      namespace: 'ci', default: false, updated_by: 'host',
      policy: { networks: ['none', 'host'], max_sandboxes: 2, max_memory_mb: 1024, max_total_memory_mb: null, max_pids: 4096 },
      usage: { sandboxes: 0, running: 0 },
    });
    const show = await run(['policy', 'show', 'ci']);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain('namespace ci\n');
    expect(show.stdout).toMatch(/networks +none, host\n/);
    expect(show.stdout).toMatch(/per sandbox +memory 1 GiB, cpus unlimited, pids 4096, disk 4 GiB\n/);
    expect(show.stdout).toMatch(/sandboxes +0 of 2\n/);
    expect(show.stdout).toMatch(/running memory +0 MiB of unlimited\n/);
    const all = await run(['policy', 'show']);
    expect(all.stdout).toMatch(/^NAMESPACE +POLICY +NETWORKS/);
    expect(all.stdout).toMatch(/\nci +own +none,host +1 GiB +0\/2 /);
  });

  it('refuses bad settings before asking the daemon, naming the flag', async () => {
    const half = await run(['policy', 'set', 'ci', '--max-memory', '1536k']);
    expect(half.code).toBe(2);
    expect(half.stderr).toContain('--max-memory: "1536k" must be a whole number of MiB');
    const none = await run(['policy', 'set', 'ci']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('name at least one setting');
    const net = await run(['policy', 'set', 'ci', '--networks', 'host,bridge']);
    expect(net.stderr).toContain('--networks: "bridge" is not a network (none, host, allow, or allow:ENTRY');
    const noNone = await run(['policy', 'set', 'ci', '--networks', 'host']);
    expect(noNone.code).toBe(2);
    expect(noNone.stderr).toContain('networks: must include "none"');
  });

  it('a namespace key meets its policy: privileges are FORBIDDEN (exit 4), quotas QUOTA_EXCEEDED (exit 5), both saying what to do', async () => {
    const created = await run(['key', 'create', 'ci-job', '--role', 'namespace', '--namespace', 'ci']);
    expect(created.code).toBe(0);
    const key = created.stdout.trim();
    const ci = asKey(key);
    writeFileSync(join(dir, 'cave.yaml'), 'project: p\nversion: 1\nsandboxes:\n  - name: a\n  - name: b\n  - name: c\n  - name: big\n    limits:\n      memory_mb: 2048\n');
    const big = await run(['run', 'big'], ci);
    expect(big.code).toBe(4);
    expect(big.stderr).toContain('bkg: limits.memory_mb 2048 MiB is above the 1024 MiB that namespace "ci" allows per sandbox');
    expect(big.stderr).toContain('hint: Ask an admin to grant it (`bkg policy set ci --max-memory 2048m`)');
    expect((await run(['run', 'a'], ci)).code).toBe(0);
    expect((await run(['run', 'b'], ci)).code).toBe(0);
    const third = await run(['run', 'c'], ci);
    expect(third.code).toBe(5);
    expect(third.stderr).toContain('bkg: namespace "ci" already has 2 of its 2 sandboxes (quota max_sandboxes)');
    expect(third.stderr).toContain('`bkg policy set ci --max-sandboxes N`');
    const show = await run(['policy', 'show', 'ci'], ci);
    expect(show.stdout).toMatch(/sandboxes +2 of 2\n/);
    expect(show.stdout).toMatch(/running +2 of unlimited\n/);
    const change = await run(['policy', 'set', 'ci', '--max-sandboxes', '99'], ci);
    expect(change.code).toBe(4);
    expect(change.stderr).toContain('bkg: namespace keys cannot change namespace policies');
    for (const n of ['a', 'b']) expect((await run(['rm', '--force', n], ci)).code).toBe(0);
    expect((await run(['run', 'c'], ci)).code).toBe(0);
    await run(['rm', '--force', 'c'], ci);
  });
});
