/** The sandbox lives no longer than whoever started it; missing interpreters are named. */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BkgError } from '../../src/api/errors.js';
import { resolveInterpreter, runtimeCommand, loadRuntime } from '../../src/runtime/runtimes.js';
import { makeRuntime, sandboxSkipReason } from '../helpers/sandbox.js';
import { BIN } from '../helpers/cli.js';

const skip = sandboxSkipReason();
const { host } = makeRuntime();

function sandboxCgroups(): string[] {
  const layout = host.cgroups;
  const bases = layout.version === 2 ? [layout.base] : layout.version === 1 ? [...layout.bases.values()] : [];
  return bases.flatMap((b) => readdirSync(b, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(b, e.name))).sort();
}

describe.skipIf(skip)('sandbox lifetime', () => {
  it('dies with its parent: killing bkg with SIGKILL ends every process inside', async () => {
    const tag = `${(process.pid % 800) + 100}.${Date.now() % 997}`;
    const child = spawn(process.execPath, [BIN, 'run', '--', 'sh', '-c', `sleep ${tag} & sleep ${tag}`], { stdio: 'ignore' });
    const cgroupsBefore = sandboxCgroups();
    const seen = async (): Promise<boolean> => spawnSync('pgrep', ['-f', `^sleep ${tag}$`]).stdout.toString().trim() !== '';
    for (let i = 0; i < 100 && !(await seen()); i++) await new Promise((r) => setTimeout(r, 50));
    expect(await seen()).toBe(true);
    child.kill('SIGKILL');
    for (let i = 0; i < 100 && (await seen()); i++) await new Promise((r) => setTimeout(r, 50));
    expect(await seen()).toBe(false);
    // the helper outlives bkg just long enough to remove the sandbox's cgroups
    for (let i = 0; i < 100 && sandboxCgroups().length > cgroupsBefore.length; i++) await new Promise((r) => setTimeout(r, 50));
    expect(sandboxCgroups()).toEqual(cgroupsBefore);
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
