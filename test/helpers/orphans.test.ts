/** The teardown that stops sandboxes tests left running in homes they removed, and only those. */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { execSocketName, newSandboxId } from '../../src/runtime/definition.js';
import { isRunning } from '../../src/runtime/handle.js';
import { withDefaults } from '../../src/runtime/limits.js';
import { reapOrphanedTestSandboxes } from './orphans.js';
import { makeRuntime, sandboxSkipReason } from './sandbox.js';

describe.skipIf(sandboxSkipReason())('reapOrphanedTestSandboxes', () => {
  it('stops a supervisor whose home is gone, and leaves one whose home exists', async () => {
    const { runtime } = makeRuntime();
    const homes = [mkdtempSync(join(tmpdir(), 'bkg-orphan-')), mkdtempSync(join(tmpdir(), 'bkg-orphan-'))];
    const hs = await Promise.all(homes.map((home) => {
      mkdirSync(join(home, 'run'));
      const id = newSandboxId();
      return runtime.start({ id, argv: [], limits: withDefaults({}), network: 'none', execSocket: join(home, 'run', execSocketName(id)) });
    }));
    const [gone, kept] = hs as [typeof hs[0], typeof hs[0]];
    rmSync(homes[0] as string, { recursive: true, force: true });
    expect(reapOrphanedTestSandboxes()).toBeGreaterThanOrEqual(1);
    for (let i = 0; i < 100 && isRunning(gone); i++) await new Promise((r) => setTimeout(r, 50));
    expect(isRunning(gone)).toBe(false);
    expect(isRunning(kept)).toBe(true);
    await runtime.stop(kept);
    expect(existsSync(homes[1] as string)).toBe(true);
    rmSync(homes[1] as string, { recursive: true, force: true });
  });
});
