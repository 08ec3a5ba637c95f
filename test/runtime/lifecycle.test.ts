/** The sandbox lives no longer than whoever started it; missing interpreters are named. */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BkgError } from '../../src/api/errors.js';
import { resolveInterpreter, runtimeCommand, loadRuntime } from '../../src/runtime/runtimes.js';
import { makeRuntime, sandboxSkipReason } from '../helpers/sandbox.js';
import { BIN } from '../helpers/cli.js';

const skip = sandboxSkipReason();
const { host } = makeRuntime();

/** The cgroup directories of the sandbox that `pid` runs in (found by its name under bkg's parents: other tests' sandboxes come and go meanwhile). */
function cgroupsOf(pid: string): string[] {
  const layout = host.cgroups;
  const bases = layout.version === 2 ? [layout.base] : layout.version === 1 ? [...layout.bases.values()] : [];
  const id = /\/([0-9a-f]{12})$/m.exec(readFileSync(`/proc/${pid}/cgroup`, 'utf8'))?.[1];
  if (!id) return [];
  return bases.map((b) => join(b, id)).filter((d) => existsSync(d));
}

describe.skipIf(skip)('sandbox lifetime', () => {
  it('dies with its parent: killing bkg with SIGKILL ends every process inside', async () => {
    const tag = `${(process.pid % 800) + 100}.${Date.now() % 997}`;
    const child = spawn(process.execPath, [BIN, 'run', '--', 'sh', '-c', `sleep ${tag} & sleep ${tag}`], { stdio: 'ignore' });
    const sleepers = (): string[] => spawnSync('pgrep', ['-f', `^sleep ${tag}$`]).stdout.toString().trim().split('\n').filter(Boolean);
    const seen = async (): Promise<boolean> => sleepers().length > 0;
    for (let i = 0; i < 100 && !(await seen()); i++) await new Promise((r) => setTimeout(r, 50));
    expect(await seen()).toBe(true);
    const cgroups = cgroupsOf(sleepers()[0] as string);
    if (host.cgroups.version !== 0) expect(cgroups.length).toBeGreaterThan(0);
    child.kill('SIGKILL');
    for (let i = 0; i < 100 && (await seen()); i++) await new Promise((r) => setTimeout(r, 50));
    expect(await seen()).toBe(false);
    // the helper outlives bkg just long enough to remove the sandbox's cgroups
    for (let i = 0; i < 100 && cgroups.some((d) => existsSync(d)); i++) await new Promise((r) => setTimeout(r, 50));
    expect(cgroups.filter((d) => existsSync(d))).toEqual([]);
  });
});

describe('runtime templates', () => {
  it('resolves interpreters only where the sandbox can see them', () => {
    expect(resolveInterpreter('sh', 'shell')).toMatch(/^\/(usr\/)?bin\/sh$/);
    expect(runtimeCommand(loadRuntime('python'), ['-c', 'x']).slice(1)).toEqual(['-c', 'x']);
  });

  it('names a missing interpreter with RUNTIME_NOT_FOUND', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bkg-rt-'));
    try {
      writeFileSync(join(dir, 'ghost.json'), JSON.stringify({ name: 'ghost', description: 'x', interpreter: ['ghost-lang-9'], env: {} }));
      const t = loadRuntime('ghost', dir);
      expect(() => runtimeCommand(t, [])).toThrowError(BkgError);
      try {
        runtimeCommand(t, []);
      } catch (e) {
        expect((e as BkgError).code).toBe('RUNTIME_NOT_FOUND');
        expect((e as BkgError).message).toContain('ghost-lang-9');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
