/**
 * A throwaway run waited for in one blocking call (RunOptions.block, what `bkg run --rm` asks for):
 * taken (the event loop stands still while it runs), with the same verdicts as the evented run —
 * exit code, deadline, memory limit, workspace changes listed — through the real helper; no
 * descriptor or file left behind; and the evented run taken where blocking cannot serve (--apply,
 * output captured by the caller, no unnamed file to be had).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { newSandboxId, type SandboxDefinition } from '../../src/runtime/definition.js';
import { SandboxEngine } from '../../src/runtime/engine.js';
import { runHelperBlocking } from '../../src/runtime/helper-blocking.js';
import { prepareSandbox } from '../../src/runtime/prepared.js';
import { SeccompPrograms } from '../../src/runtime/seccomp/programs.js';
import { buildHelperSpec, encodeSpec } from '../../src/runtime/spec.js';
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

/** Event-loop turns (a 10 ms interval's ticks) while `fn` runs. */
async function turnsDuring(fn: () => Promise<unknown>): Promise<number> {
  let turns = 0;
  const tick = setInterval(() => turns++, 10);
  try {
    await fn();
  } finally {
    clearInterval(tick);
  }
  return turns;
}

describe.skipIf(skip)('a blocking throwaway run', () => {
  const host = detectHost();
  const engine = new SandboxEngine({ host, log: createLogger({ level: 'silent' }) });

  it('is what block asks for: the event loop stands still while the sandbox runs, and turns under the evented run', async () => {
    await engine.run(def('true'), INHERIT); // the seccomp program compiled and cached (from src/ there is no precompiled one): what is left is the run
    expect(await turnsDuring(() => engine.run(def('sleep 0.4'), INHERIT, { block: true }))).toBeLessThanOrEqual(1);
    expect(await turnsDuring(() => engine.run(def('sleep 0.4'), INHERIT, { block: false }))).toBeGreaterThanOrEqual(10);
  });

  it('starts nothing and says so (null) when no unnamed file can be made: the engine then takes the evented run', async () => {
    const state = await prepareSandbox(def('true'), host, new SeccompPrograms());
    const spec = encodeSpec(buildHelperSpec(state.def, host, state.plan));
    expect(runHelperBlocking({ helperPath: host.helperPath, spec, seccomp: state.seccomp, listChanges: false, dirs: ['/nonexistent-bkg-dir', '/proc'] })).toBeNull();
    const r = runHelperBlocking({ helperPath: host.helperPath, spec, seccomp: state.seccomp, listChanges: false });
    expect(r?.code).toBe(0);
    expect(r?.events.find((e) => e.type === 'exited')).toMatchObject({ exit_code: 0 });
  });

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
