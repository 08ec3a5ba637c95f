/** Resource limits enforced through cgroups and the scratch tmpfs, on real sandboxes. */
import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { makeRuntime, py, sandboxSkipReason, sh } from '../helpers/sandbox.js';

const skip = sandboxSkipReason();
const { runtime } = makeRuntime();
const MiB = 1024 * 1024;

describe.skipIf(skip)('sandbox limits', () => {
  it('stops a fork bomb at the pids limit while the host stays responsive', async () => {
    const bomb = sh(runtime, 'bomb() { bomb | bomb & }; bomb; sleep 2', { limits: { pids: 64, timeoutMs: 4000 } });
    await new Promise((resolve) => setTimeout(resolve, 1000)); // let the bomb fill its pids budget
    const t0 = Date.now();
    const host = spawnSync('/bin/true');
    expect(host.status).toBe(0);
    expect(Date.now() - t0).toBeLessThan(1000);
    const r = await bomb;
    expect(r.durationMs).toBeLessThan(6000);
    const counted = await py(
      runtime,
      `
import os
n = 0
try:
    while True:
        pid = os.fork()
        if pid == 0:
            import time; time.sleep(5); os._exit(0)
        n += 1
except OSError as e:
    print(n, e.errno)
`,
      { limits: { pids: 32, timeoutMs: 10000 } },
    );
    const [forked, errno] = counted.stdout.trim().split(' ').map(Number);
    expect(errno).toBe(11); // EAGAIN: the pids controller said no
    expect(forked).toBeLessThan(32);
    expect(forked).toBeGreaterThan(20);
  });

  it('OOM-kills an allocation past the memory limit, inside the sandbox only, and reports it', async () => {
    const r = await py(runtime, 'x = bytearray(256 * 1024 * 1024); print("ALLOCATED")', { limits: { memoryBytes: 64 * MiB } });
    expect(r.stdout).not.toContain('ALLOCATED');
    expect(r.oomKilled).toBe(true);
    expect(r.signal === 9 || r.exitCode === 137).toBe(true);
    expect(r.peakMemoryBytes).toBeGreaterThan(32 * MiB);
    expect(r.peakMemoryBytes).toBeLessThanOrEqual(64 * MiB);
    const fine = await py(runtime, 'x = bytearray(16 * 1024 * 1024); print("ok")', { limits: { memoryBytes: 64 * MiB } });
    expect(fine.stdout.trim()).toBe('ok');
    expect(fine.oomKilled).toBe(false);
  });

  it('throttles a CPU hog to its quota', async () => {
    const code = `
import time
wall = time.monotonic(); cpu = time.process_time()
while time.monotonic() - wall < 2.0: pass
print(round((time.process_time() - cpu) / (time.monotonic() - wall), 3))
`;
    const limited = await py(runtime, code, { limits: { cpus: 0.25 } });
    const share = Number(limited.stdout.trim());
    expect(share).toBeGreaterThan(0.1);
    expect(share).toBeLessThan(0.4);
  });

  it('fails writes past the disk cap with ENOSPC, in /tmp and in /workspace (empty or over a host directory)', async () => {
    const r = await sh(runtime, 'dd if=/dev/zero of=/tmp/fill bs=1M count=64 2>&1; echo "rc=$?"', { limits: { diskBytes: 16 * MiB } });
    expect(r.stdout).toContain('No space left on device');
    expect(r.stdout).toContain('rc=1');
    // without a host directory /workspace is on the same capped layer: it fills it, and /tmp with it
    const e = await sh(runtime, 'head -c 40000000 /dev/zero > /workspace/big; echo "rc=$?"; echo x > /tmp/more || echo "tmp full"', { limits: { diskBytes: 16 * MiB } });
    expect(e.stderr).toContain('No space left on device');
    expect(e.stdout).toBe('rc=1\ntmp full\n');
    expect(e.limitsHit).toContain('disk');
    const ws = execFileSync('mktemp', ['-d']).toString().trim();
    try {
      execFileSync('chmod', ['755', ws]);
      const w = await sh(runtime, 'head -c 40000000 /dev/zero > /workspace/big; echo "rc=$?"', { limits: { diskBytes: 16 * MiB }, workspace: ws });
      expect(w.stderr).toContain('No space left on device');
      expect(w.stdout).toContain('rc=1');
    } finally {
      execFileSync('rm', ['-rf', ws]);
    }
  });

  it('kills every process of the sandbox on timeout', async () => {
    const tag = `${(process.pid % 900) + 100}.${Date.now() % 1000}`;
    const r = await sh(runtime, `sleep ${tag} & (sleep ${tag} &) ; setsid sleep ${tag} & echo started; wait`, { limits: { timeoutMs: 800 } });
    expect(r.timedOut).toBe(true);
    expect(r.stdout).toContain('started');
    expect(r.durationMs).toBeLessThan(3000);
    const left = spawnSync('pgrep', ['-f', `sleep ${tag}`]);
    expect(left.stdout.toString().trim()).toBe('');
  });
});
