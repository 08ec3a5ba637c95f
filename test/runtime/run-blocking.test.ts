/**
 * A throwaway run waited for in one blocking call (RunOptions.block, what `bkg run --rm` asks for):
 * the same verdicts as the evented run — exit code, deadline, memory limit, workspace changes
 * listed — through the real helper; no descriptor or file left behind; and the evented run taken
 * where blocking cannot serve (--apply, output captured by the caller).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { newSandboxId, type SandboxDefinition } from '../../src/runtime/definition.js';
import { SandboxEngine } from '../../src/runtime/engine.js';
import type { RunIO } from '../../src/runtime/io.js';
import { detectHost } from '../../src/runtime/host.js';
import { withDefaults } from '../../src/runtime/limits.js';
import { sandboxSkipReason } from '../helpers/sandbox.js';

const skip = sandboxSkipReason();
const INHERIT: RunIO = { stdio: ['inherit', 'inherit', 'inherit'] };
const def = (script: string, more: Partial<SandboxDefinition> = {}): SandboxDefinition => ({
  id: newSandboxId(),
  argv: ['/bin/sh', '-c', script],
  limits: withDefaults({ memoryBytes: 64 << 20 }),
  network: 'none',
  ...more,
});
const openFds = (): number => readdirSync('/proc/self/fd').length;

let workspace: string;
beforeAll(() => {
  workspace = mkdtempSync(join(tmpdir(), 'bkg-block-ws-'));
  writeFileSync(join(workspace, 'old.txt'), 'old\n');
});
afterAll(() => rmSync(workspace, { recursive: true, force: true }));

describe.skipIf(skip)('a blocking throwaway run', () => {
  const engine = new SandboxEngine({ host: detectHost(), log: createLogger({ level: 'silent' }) });

  it('gives the evented run\'s verdicts: exit code, deadline, memory limit', async () => {
    for (const block of [true, false]) {
      expect((await engine.run(def('exit 5'), INHERIT, { block })).exitCode, `block ${block}`).toBe(5);
      const late = await engine.run(def('sleep 5', { limits: withDefaults({ timeoutMs: 300 }) }), INHERIT, { block });
      expect(late.timedOut, `block ${block}`).toBe(true);
      const big = await engine.run(def('x=$(head -c 100000000 /dev/zero | tr "\\0" a); echo ${#x} > /dev/null', { limits: withDefaults({ memoryBytes: 16 << 20 }) }), INHERIT, { block });
      expect(big.oomKilled, `block ${block}`).toBe(true);
    }
  });

  it('lists the workspace changes and leaves the host directory alone', async () => {
    const r = await engine.run(def('echo new > /workspace/new.txt; rm /workspace/old.txt', { workspace }), INHERIT, { block: true });
    expect(r.exitCode).toBe(0);
    expect(r.changes.map((c) => `${c.kind} ${c.path}`).sort()).toEqual(['added new.txt', 'deleted old.txt']);
    expect(r.applied).toBe(false);
    expect(readdirSync(workspace)).toEqual(['old.txt']);
  });

  it('takes the evented run where blocking cannot serve: --apply, and output the caller captures', async () => {
    const applied = await engine.run(def('echo kept > /workspace/kept.txt', { workspace }), INHERIT, { block: true, apply: true });
    expect(applied.applied).toBe(true);
    expect(readFileSync(join(workspace, 'kept.txt'), 'utf8')).toBe('kept\n');
    const out: Buffer[] = [];
    const piped = await engine.run(def('echo captured'), { stdio: ['ignore', 'pipe', 'ignore'], onStdout: (c) => out.push(c) }, { block: true });
    expect(piped.exitCode).toBe(0);
    expect(Buffer.concat(out).toString()).toBe('captured\n');
  });

  it('leaves no descriptor open and no file behind (its spec, program and status are unnamed files)', async () => {
    const dir = tmpdir();
    const before = new Set(readdirSync(dir));
    const fds = openFds();
    for (let i = 0; i < 3; i++) expect((await engine.run(def('true'), INHERIT, { block: true })).exitCode).toBe(0);
    expect(openFds()).toBe(fds);
    expect(readdirSync(dir).filter((f) => !before.has(f) && f.startsWith('.bkg-'))).toEqual([]);
  });

  it('fails as the evented run does when the helper is not there', async () => {
    const missing = new SandboxEngine({ host: { ...detectHost(), helperPath: '/nonexistent/bkg-helper' }, log: createLogger({ level: 'silent' }) });
    await expect(missing.run(def('true'), INHERIT, { block: true })).rejects.toMatchObject({ code: 'HELPER_MISSING' });
    await expect(missing.run(def('true'), INHERIT, { block: false })).rejects.toMatchObject({ code: 'HELPER_MISSING' });
  });
});
