/** Persistent sandboxes of the engine: start once, exec many times, list and apply changes, stop; survive their starter. */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { newSandboxId, type SandboxDefinition } from '../../src/runtime/definition.js';
import { SandboxEngine } from '../../src/runtime/engine.js';
import { processStartTime, type SandboxHandle } from '../../src/runtime/handle.js';
import { withDefaults } from '../../src/runtime/limits.js';
import { makeRuntime, sandboxSkipReason } from '../helpers/sandbox.js';

const skip = sandboxSkipReason();
const { host } = makeRuntime();
const sandboxes = new SandboxEngine({ host, log: createLogger({ level: 'silent' }) });
const started: SandboxHandle[] = [];

afterAll(async () => {
  for (const h of started) await sandboxes.stop(h);
});

function define(extra: Partial<SandboxDefinition> = {}): SandboxDefinition {
  return { id: newSandboxId(), argv: [], limits: withDefaults({ memoryBytes: 128 << 20, pids: 64 }), network: 'none', ...extra };
}

async function exec(h: SandboxHandle, argv: string[], timeoutMs?: number) {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const r = await sandboxes.exec(h, { argv, ...(timeoutMs ? { timeoutMs } : {}) }, { stdio: ['ignore', 'pipe', 'pipe'], onStdout: (c) => out.push(c), onStderr: (c) => err.push(c) });
  return { ...r, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

function cgroupDirs(id: string): string[] {
  const layout = host.cgroups;
  const bases = layout.version === 1 ? [...new Set([...layout.bases.values(), ...(layout.acct ? [layout.acct] : [])])] : layout.version === 2 ? [layout.base] : [];
  return bases.flatMap((b) => readdirSync(b).filter((n) => n === id).map((n) => join(b, n)));
}

describe.skipIf(skip)('persistent sandboxes', () => {
  it('keeps state between execs, in the same namespaces', async () => {
    const def = define({ hostname: 'keeper' });
    const h = await sandboxes.start(def);
    started.push(h);
    expect(sandboxes.isRunning(h)).toBe(true);
    const first = await exec(h, ['/bin/sh', '-c', 'echo remembered > /tmp/state; hostname; id -u']);
    expect(first.exitCode).toBe(0);
    expect(first.stdout).toBe('keeper\n0\n');
    const second = await exec(h, ['/bin/cat', '/tmp/state']);
    expect(second.stdout).toBe('remembered\n');
    const third = await exec(h, ['/bin/sh', '-c', 'ls /proc | grep -c "^[0-9]"; exit 3']);
    expect(third.exitCode).toBe(3);
    expect(Number(third.stdout.trim())).toBeLessThan(6); // init, sh, ls, grep: the host's processes stay invisible
    const denied = await exec(h, ['/usr/bin/python3', '-c', 'import ctypes; l = ctypes.CDLL(None, use_errno=True); print(l.syscall(272, 0x10000000), ctypes.get_errno())']);
    expect(denied.stdout.trim()).toBe('-1 1'); // seccomp applies to exec'd commands too
  });

  it('times out one exec without ending the sandbox', async () => {
    const def = define();
    const h = await sandboxes.start(def);
    started.push(h);
    const slow = await exec(h, ['/bin/sh', '-c', 'sleep 30 & sleep 30'], 300);
    expect(slow.timedOut).toBe(true);
    expect(slow.durationMs).toBeLessThan(3000);
    const after = await exec(h, ['/bin/echo', 'still here']);
    expect(after.stdout).toBe('still here\n');
    const missing = await exec(h, ['no-such-command']);
    expect(missing.exitCode).toBe(127);
    expect(missing.execError).toContain('no-such-command');
  });

  it('lists workspace changes while running and applies them on request', async () => {
    const ws = mkdtempSync(join(tmpdir(), 'bkg-pws-'));
    try {
      chmodSync(ws, 0o755);
      writeFileSync(join(ws, 'a.txt'), 'a\n');
      const def = define({ workspace: ws });
      const h = await sandboxes.start(def);
      started.push(h);
      await exec(h, ['/bin/sh', '-c', 'cd /workspace && echo b >> a.txt && echo new > n.txt']);
      expect(await sandboxes.changes(h)).toEqual([
        { path: 'a.txt', kind: 'modified', type: 'file' },
        { path: 'n.txt', kind: 'added', type: 'file' },
      ]);
      expect(readFileSync(join(ws, 'a.txt'), 'utf8')).toBe('a\n');
      await sandboxes.apply(h);
      expect(readFileSync(join(ws, 'a.txt'), 'utf8')).toBe('a\nb\n');
      expect(readFileSync(join(ws, 'n.txt'), 'utf8')).toBe('new\n');
    } finally {
      rmSync(ws, { recursive: true, force: true });
    }
  });

  it('stops: every process ends and its cgroups are removed', async () => {
    const def = define();
    const h = await sandboxes.start(def);
    await exec(h, ['/bin/sh', '-c', 'setsid sleep 913.5 > /dev/null 2>&1 &']);
    expect(spawnSync('pgrep', ['-f', '^sleep 913.5$']).stdout.toString().trim()).not.toBe('');
    expect(cgroupDirs(def.id).length).toBeGreaterThan(0);
    await sandboxes.stop(h);
    expect(sandboxes.isRunning(h)).toBe(false);
    expect(spawnSync('pgrep', ['-f', '^sleep 913.5$']).stdout.toString().trim()).toBe('');
    expect(cgroupDirs(def.id)).toEqual([]);
    await expect(exec(h, ['/bin/true'])).rejects.toMatchObject({ code: 'SANDBOX_NOT_RUNNING' });
    await sandboxes.stop(h); // idempotent
  });

  it('outlives the process that started it, and is re-adopted from its handle', async () => {
    const def = define();
    const dist = join(import.meta.dirname, '..', '..', 'dist');
    const script = `
      const { createLogger } = await import(${JSON.stringify(join(dist, 'log.js'))});
      const { detectHost } = await import(${JSON.stringify(join(dist, 'runtime', 'host.js'))});
      const { SandboxEngine } = await import(${JSON.stringify(join(dist, 'runtime', 'engine.js'))});
      const s = new SandboxEngine({ host: detectHost(), log: createLogger({ level: 'silent' }) });
      process.stdout.write(JSON.stringify(await s.start(${JSON.stringify(def)})));
      process.exit(0);
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(0);
    const h = JSON.parse(r.stdout) as SandboxHandle;
    started.push(h);
    expect(sandboxes.isRunning(h)).toBe(true);
    sandboxes.adopt(def, h); // as a restarted daemon does, from its database
    const hello = await exec(h, ['/bin/echo', 'adopted']);
    expect(hello.stdout).toBe('adopted\n');
    await sandboxes.stop(h);
    expect(sandboxes.isRunning(h)).toBe(false);
    expect(cgroupDirs(def.id)).toEqual([]);
  });
});

describe.skipIf(skip)('persistent sandbox supervision', () => {
  it('ends with its supervising helper, even when that helper is SIGKILLed', async () => {
    const def = define();
    const h = await sandboxes.start(def);
    process.kill(h.helperPid, 'SIGKILL');
    for (let i = 0; i < 100 && processStartTime(h.initPid) !== null; i++) await new Promise((r) => setTimeout(r, 20));
    expect(processStartTime(h.initPid)).toBeNull();
    expect(sandboxes.isRunning(h)).toBe(false);
    // cgroups removal is the helper's job; after SIGKILL the daemon's reconciliation cleans them
    for (const dir of cgroupDirs(def.id)) rmdirSync(dir);
  });
});
