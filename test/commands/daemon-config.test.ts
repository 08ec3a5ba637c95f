/** `bkg daemon config show|set`: the real CLI against a daemon it starts; CAVE_OTEL_SAMPLING_RATE fatal at start when invalid. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bkg } from '../helpers/cli.js';
import { freePort } from '../helpers/daemon.js';

describe('bkg daemon config', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const run = (args: string[], extra: NodeJS.ProcessEnv = {}) => bkg(args, { env: { ...env, ...extra } });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bkg-dcfg-'));
    env = { BKG_HOME: join(dir, 'home'), BKG_PORT: String(await freePort()), BKG_API_URL: '', BKG_API_KEY: '', CAVE_OTEL_SAMPLING_RATE: '0.5', OTEL_EXPORTER_OTLP_ENDPOINT: '' };
  });

  afterAll(async () => {
    await run(['daemon', 'stop']);
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows the rate the daemon started with and changes it without a restart', async () => {
    const shown = await run(['daemon', 'config', 'show', '--json']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(JSON.parse(shown.stdout)).toEqual({ otel_sampling_rate: 0.5, otel_exporting: false });
    const pid = (JSON.parse((await run(['daemon', 'status', '--json'])).stdout) as { pid: number }).pid;

    const set = await run(['daemon', 'config', 'set', 'otel_sampling_rate', '0.1']);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toMatch(/^otel_sampling_rate {2}0\.1 {2}\(no traces exported/);
    expect(JSON.parse((await run(['daemon', 'config', 'show', '--json'])).stdout)).toMatchObject({ otel_sampling_rate: 0.1 });
    expect((JSON.parse((await run(['daemon', 'status', '--json'])).stdout) as { pid: number }).pid).toBe(pid); // the same daemon

    const audit = await run(['audit', 'ls', '--json']);
    expect(audit.stdout).toContain('daemon.configure');
  });

  it('refuses a bad value or an unknown setting with INVALID_ARGUMENT (exit 2), before asking the daemon', async () => {
    for (const args of [['otel_sampling_rate', '2'], ['otel_sampling_rate', 'half'], ['sampling', '0.5']]) {
      const r = await run(['daemon', 'config', 'set', ...args, '--json']);
      expect(r.code, args.join(' ')).toBe(2);
      expect((JSON.parse(r.stdout || r.stderr) as { error: { code: string } }).error.code).toBe('INVALID_ARGUMENT');
    }
  });

  it('a daemon started with an invalid CAVE_OTEL_SAMPLING_RATE does not start: INVALID_CONFIG', async () => {
    const home = join(dir, 'other');
    const r = await bkg(['daemon', 'start', '--foreground', '--json'], { env: { ...env, BKG_HOME: home, BKG_PORT: '0', CAVE_OTEL_SAMPLING_RATE: '1.5' } });
    expect(r.code).toBe(2);
    expect(`${r.stdout}${r.stderr}`).toMatch(/INVALID_CONFIG/);
    expect(`${r.stdout}${r.stderr}`).toMatch(/CAVE_OTEL_SAMPLING_RATE/);
  });
});
