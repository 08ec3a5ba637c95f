/** One conversion from flags to a sandbox: one set of units and rules for `bkg add`, `bkg run --rm` and cave.yaml, errors naming the flag. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { limitsFromFlags, requestFromFlags, sandboxFromFlags } from '../../src/cli/sandbox-request.js';
import { settingsFromRequest } from '../../src/runtime/from-request.js';
import { bkg } from '../helpers/cli.js';
import { caught, rejection } from '../helpers/errors.js';

const MiB = 1024 * 1024;

describe('flags → request → definition', () => {
  it('converts sizes and durations to the API units, and those to what the runtime enforces', () => {
    const req = requestFromFlags({ memory: '1.5g', cpus: '0.5', pids: '64', disk: '64m', timeout: '2m', 'idle-timeout': '1h', network: 'none' });
    expect(req.limits).toEqual({ memory_mb: 1536, cpus: 0.5, pids: 64, disk_mb: 64, timeout_s: 120, idle_timeout_s: 3600 });
    const settings = settingsFromRequest(req);
    expect(settings.limits).toMatchObject({ memoryBytes: 1536 * MiB, diskBytes: 64 * MiB, pids: 64, cpus: 0.5, timeoutMs: 120_000, idleTimeoutMs: 3_600_000 });
    expect(settings.network).toBe('none');
  });

  it.each([
    [{ memory: '4k' }, /^--memory: "4k" is 4 KiB, below the minimum of 16 MiB$/],
    [{ memory: '16.5m' }, /^--memory: "16.5m" is not a whole number of MiB/],
    [{ memory: '64' }, /--memory/],
    [{ disk: '512k' }, /^--disk: "512k" is 512 KiB, below the minimum of 1 MiB$/],
    [{ timeout: '1500ms' }, /--timeout: "1500ms" is not a whole number of seconds/],
    [{ cpus: 'lots' }, /--cpus/],
    [{ pids: '0' }, /--pids/],
  ])('%j is refused with the same rule everywhere', (flags, message) => {
    const e = caught(() => limitsFromFlags(flags));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toMatch(message);
  });

  it('names the flag when the contract refuses what a flag gave', async () => {
    const e = await rejection(sandboxFromFlags('web', { network: 'bridge' }));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toMatch(/^--network: "bridge" is not a network \(none, host, or allow:HOST\[:PORT\],…\)/);
  });
});

describe('`bkg run NAME` and `bkg run` with cave.yaml refuse flags that cannot apply', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bkg-run-flags-'));
  writeFileSync(join(dir, 'cave.yaml'), 'project: p\nsandboxes:\n  - name: web\n    runtime: shell\n    limits:\n      memory_mb: 512\n');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    [['run', 'web', '--memory', '64m', '--', 'true'], '--memory does not apply to "bkg run web"'],
    [['run', 'web', '--cpus', '1'], '--cpus does not apply'],
    [['run', 'web', '--network', 'host'], '--network does not apply'],
    [['run', 'web', '--apply'], '--apply does not apply'],
    [['run', '--allow-nested-namespaces', '--', 'true'], '--allow-nested-namespaces does not apply to "bkg run" with cave.yaml'],
  ])('bkg %j', async (args, message) => {
    const r = await bkg(args, { cwd: dir, env: { BKG_HOME: join(dir, 'home') } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).toContain('hint:');
  });
});
