/**
 * One sandbox engine, real helper, real sandboxes: throwaway runs and persistent sandboxes through
 * the same engine; a persistent sandbox's state (definition with its key, cgroup plan, seccomp
 * program) built once at start and never per exec; a sandbox adopted by a new engine (a restarted
 * daemon) still execs, its state rebuilt once.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { newSandboxId, type SandboxDefinition } from '../../src/runtime/definition.js';
import { SandboxEngine, type SandboxHandle } from '../../src/runtime/engine.js';
import { detectHost, type HostInfo } from '../../src/runtime/host.js';
import { withDefaults } from '../../src/runtime/limits.js';
import type { SeccompProfile, SeccompSyscallRule } from '../../src/runtime/seccomp/profile.js';
import { sandboxSkipReason } from '../helpers/sandbox.js';

const skip = sandboxSkipReason();
const host = detectHost();
const log = createLogger({ level: 'silent' });
const started: { engine: SandboxEngine; h: SandboxHandle }[] = [];

afterAll(async () => {
  for (const { engine, h } of started) await engine.stop(h);
});

/**
 * Where definitions come from, as the daemon's come from its database: each build counted, and
 * the sandbox's key read as it is at that moment (the daemon decrypts the current one).
 */
function definitionSource() {
  const s = {
    key: 'key-1',
    builds: 0,
    define: (id: string): SandboxDefinition => {
      s.builds++;
      return { id, argv: [], env: { BKG_API_KEY: s.key }, limits: withDefaults({ memoryBytes: 128 << 20, pids: 64 }), network: 'none', hostname: 'kept' };
    },
  };
  return s;
}

async function exec(engine: SandboxEngine, h: SandboxHandle, script: string): Promise<{ exitCode: number | null; stdout: string; stderr: string }> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const r = await engine.exec(h, { argv: ['/bin/sh', '-c', script] }, { stdio: ['ignore', 'pipe', 'pipe'], onStdout: (c) => out.push(c), onStderr: (c) => err.push(c) });
  return { exitCode: r.exitCode, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

async function startOn(engine: SandboxEngine, def: SandboxDefinition): Promise<SandboxHandle> {
  const h = await engine.start(def);
  started.push({ engine, h });
  return h;
}

describe.skipIf(skip)('SandboxEngine', () => {
  it('runs a throwaway sandbox and a persistent one, through the same engine', async () => {
    const source = definitionSource();
    const engine = new SandboxEngine({ host, log, definitionOf: source.define });
    const out: Buffer[] = [];
    const once = await engine.run(
      { id: newSandboxId(), argv: ['/bin/sh', '-c', 'hostname; echo hi > /tmp/x; cat /tmp/x'], limits: withDefaults({ memoryBytes: 64 << 20 }), network: 'none', hostname: 'once' },
      { stdio: ['ignore', 'pipe', 'ignore'], onStdout: (c) => out.push(c) },
    );
    expect(once).toMatchObject({ exitCode: 0, timedOut: false, changes: [], applied: false });
    expect(Buffer.concat(out).toString()).toBe('once\nhi\n');

    const h = await startOn(engine, source.define(newSandboxId()));
    expect(engine.isRunning(h)).toBe(true);
    expect(await exec(engine, h, 'hostname; echo $BKG_API_KEY; echo kept > /tmp/state')).toMatchObject({ exitCode: 0, stdout: 'kept\nkey-1\n' });
    expect((await exec(engine, h, 'cat /tmp/state')).stdout).toBe('kept\n');
    await engine.stop(h);
    expect(engine.isRunning(h)).toBe(false);
    await expect(engine.exec(h, { argv: ['/bin/true'] }, { stdio: ['ignore', 'ignore', 'ignore'] })).rejects.toMatchObject({ code: 'SANDBOX_NOT_RUNNING' });
  });

  it('builds a sandbox\'s state once, at start: no exec re-reads its key, re-plans its cgroups or recompiles its seccomp profile', async () => {
    const source = definitionSource();
    const engineHost: HostInfo = { ...host };
    const engine = new SandboxEngine({ host: engineHost, log, definitionOf: source.define });
    const rules: SeccompSyscallRule[] = [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }];
    const profile: SeccompProfile = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: rules };
    const h = await startOn(engine, { ...source.define(newSandboxId()), seccomp: profile });
    expect(source.builds).toBe(1);
    const denied = await exec(engine, h, 'mkdir /tmp/d && echo made; echo $BKG_API_KEY');
    expect(denied.stdout).toBe('key-1\n');
    expect(denied.stderr).toMatch(/mkdir/);

    // after the start: the key is rotated, the profile edited, the host's cgroups swapped for none
    source.key = 'key-2';
    rules.length = 0; // the profile object the definition holds now denies nothing
    engineHost.cgroups = { version: 0, root: '/sys/fs/cgroup', problems: ['no cgroups (swapped out by the test)'] };
    // a fresh start would now be refused: the plan with a memory limit cannot be made
    await expect(engine.start(source.define(newSandboxId()))).rejects.toMatchObject({ code: 'LIMIT_UNENFORCEABLE' });
    const buildsBefore = source.builds;
    for (let i = 0; i < 3; i++) {
      const r = await exec(engine, h, 'mkdir /tmp/d && echo made; echo $BKG_API_KEY');
      expect(r.stdout).toBe('key-1\n'); // the key, the program and the plan of the start
      expect(r.exitCode).toBe(0);
    }
    expect(source.builds).toBe(buildsBefore);
  });

  it('execs into a sandbox adopted by a new engine, as after a daemon restart: given its definition, or rebuilding it once', async () => {
    const source = definitionSource();
    const first = new SandboxEngine({ host, log, definitionOf: source.define });
    const id = newSandboxId();
    const h = await startOn(first, source.define(id));
    expect(source.builds).toBe(1);

    // the restarted daemon's reconcile hands the new engine the definition
    const adopting = new SandboxEngine({ host, log, definitionOf: source.define });
    adopting.adopt(source.define(id), h);
    expect(source.builds).toBe(2);
    expect(await exec(adopting, h, 'hostname; echo $BKG_API_KEY')).toMatchObject({ exitCode: 0, stdout: 'kept\nkey-1\n' });
    expect(source.builds).toBe(2);

    // an engine that was not given it rebuilds it at the first exec, once for concurrent execs
    source.key = 'key-3';
    const lazy = new SandboxEngine({ host, log, definitionOf: source.define });
    const rs = await Promise.all([exec(lazy, h, 'echo $BKG_API_KEY'), exec(lazy, h, 'echo $BKG_API_KEY')]);
    expect(rs.map((r) => r.stdout)).toEqual(['key-3\n', 'key-3\n']);
    expect(source.builds).toBe(3);
    expect((await exec(lazy, h, 'echo again')).stdout).toBe('again\n');
    expect(source.builds).toBe(3);

    // without a definition source, an exec into a sandbox it never saw says so
    const blind = new SandboxEngine({ host, log });
    await expect(blind.exec(h, { argv: ['/bin/true'] }, { stdio: ['ignore', 'ignore', 'ignore'] })).rejects.toMatchObject({ code: 'INTERNAL' });
  });
});
