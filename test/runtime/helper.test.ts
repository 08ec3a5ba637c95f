/** The helper's own contract: spec on a descriptor, JSON status lines, failures reported, never hidden. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BkgError } from '../../src/api/errors.js';
import { defaultHelperPath, detectHost } from '../../src/runtime/host.js';
import { spawnHelper } from '../../src/runtime/helper-process.js';
import { withDefaults } from '../../src/runtime/limits.js';
import { buildHelperSpec, encodeSpec } from '../../src/runtime/spec.js';
import { makeRuntime, sandboxSkipReason } from '../helpers/sandbox.js';

const skip = sandboxSkipReason();
const helper = defaultHelperPath();

function runHelper(args: string[]): { status: number | null; lines: Record<string, unknown>[] } {
  const r = spawnSync(helper, ['--json-status-fd', '3', ...args], { stdio: ['ignore', 'ignore', 'ignore', 'pipe'] });
  const out = (r.output[3] as Buffer | null)?.toString() ?? '';
  return { status: r.status, lines: out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('bkg-helper protocol', () => {
  it('answers --version with its protocol', () => {
    const r = spawnSync(helper, ['--version']);
    expect(JSON.parse(r.stdout.toString())).toEqual({ name: 'bkg-helper', protocol: 1 });
  });

  it.each([
    [['--frobnicate', '--', 'true'], /unknown option '--frobnicate'/],
    [['--uid-map', '0', '100000', '65536', '--gid-map', '0', '100000', '65536'], /no command given/],
    [['--ro-bind', 'relative', '/x', '--', 'true'], /not an absolute path/],
    [['--overlay', '/tmp', '/workspace', '--uid-map', '0', '1', '1', '--gid-map', '0', '1', '1', '--', 'true'], /need --scratch/],
    [['--scratch-upper', '/workspace', '--uid-map', '0', '1', '1', '--gid-map', '0', '1', '1', '--', 'true'], /need --scratch/],
    [['--scratch', '65536', '--overlay', '/tmp', '/workspace', '--scratch-upper', '/w2', '--uid-map', '0', '1', '1', '--gid-map', '0', '1', '1', '--', 'true'], /at most one --overlay or --scratch-upper/],
    [['--scratch', '65536', '--scratch-upper', '/workspace', '--restore', '/tmp', '--uid-map', '0', '1', '1', '--gid-map', '0', '1', '1', '--', 'true'], /--restore must come before/],
    [['--bind', '/a/../etc', '/x', '--', 'true'], /contains '\.\.'/],
    [['--', 'true'], /--uid-map and --gid-map are required/],
  ])('rejects a bad spec %j with a JSON error and exit 125', (args, message) => {
    const r = runHelper(args);
    expect(r.status).toBe(125);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatchObject({ type: 'error', stage: 'spec' });
    expect(String(r.lines[0]?.message)).toMatch(message);
  });

  it.skipIf(skip)('refuses to start when a cgroup limit cannot be written, and cleans up', async () => {
    const { runtime } = makeRuntime({ ...detectHost(), cgroups: { version: 1, root: '/sys/fs/cgroup', bases: new Map([['pids', '/nonexistent/cgroup/base']]), memsw: false, problems: [] } });
    const run = runtime.run({ id: 'cgfail', argv: ['/bin/true'], limits: withDefaults({ pids: 10, memoryBytes: undefined }), network: 'none' }, { stdio: ['ignore', 'ignore', 'ignore'] });
    await expect(run).rejects.toBeInstanceOf(BkgError);
    await expect(run).rejects.toMatchObject({ code: 'LIMIT_UNENFORCEABLE' });
  });

  it.skipIf(skip)('refuses limits on a host without the controller instead of running unlimited', async () => {
    const { runtime } = makeRuntime({ ...detectHost(), cgroups: { version: 0, root: '/sys/fs/cgroup', problems: ['no cgroup filesystem found under /sys/fs/cgroup'] } });
    const run = runtime.run({ id: 'nocg', argv: ['/bin/true'], limits: { memoryBytes: 1 << 26, diskBytes: 1 << 20 }, network: 'none' }, { stdio: ['ignore', 'ignore', 'ignore'] });
    await expect(run).rejects.toMatchObject({ code: 'LIMIT_UNENFORCEABLE', message: expect.stringContaining('memory') });
  });
});

describe.skipIf(skip || !existsSync('/sys/fs/cgroup/unified/cgroup.procs') || process.getuid?.() !== 0)('cgroup v2 through the helper', () => {
  it('creates the cgroup, writes its knobs, starts the sandbox inside it (clone3 CLONE_INTO_CGROUP) and removes it', async () => {
    const base = `/sys/fs/cgroup/unified/bkg-test-${process.pid}`;
    mkdirSync(base, { recursive: true });
    try {
      const dir = `${base}/v2run`;
      const host = detectHost();
      const spec = encodeSpec(
        buildHelperSpec({ id: 'v2run', argv: ['/bin/sh', '-c', 'echo started; sleep 0.4'], limits: { diskBytes: 1 << 20 }, network: 'none' }, host, {
          dirs: [dir],
          sets: [[`${dir}/cgroup.max.descendants`, '0']],
          reports: { descendants: `${dir}/cgroup.max.descendants` },
        }),
      );
      const run = spawnHelper({ helperPath: host.helperPath, spec, seccomp: null, stdio: ['ignore', 'pipe', 'ignore'], listChanges: false });
      let members = '';
      run.stdout?.once('data', () => {
        members = readFileSync(`${dir}/cgroup.procs`, 'utf8');
      });
      const { events } = await run.done;
      expect(members.trim().split('\n').length).toBeGreaterThanOrEqual(2); // init and the command
      const exited = events.find((e) => e.type === 'exited');
      expect(exited).toMatchObject({ exit_code: 0, files: { descendants: '0\n' } });
      expect(existsSync(dir)).toBe(false);
    } finally {
      rmdirSync(base);
    }
  });
});
