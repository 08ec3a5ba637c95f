/** After 200 sandboxes run and removed, the host has the same mounts, cgroups and processes. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { usableControllers } from '../../src/runtime/cgroups.js';
import { makeRuntime, runIn, sandboxSkipReason } from '../helpers/sandbox.js';

const skip = sandboxSkipReason();
const { host, runtime } = makeRuntime();

function cgroupChildren(prefix: string): string[] {
  const layout = host.cgroups;
  const bases = layout.version === 2 ? [layout.base] : layout.version === 1 ? [...new Set([...layout.bases.values(), ...(layout.acct ? [layout.acct] : [])])] : [];
  return bases.flatMap((b) => (existsSync(b) ? readdirSync(b, { withFileTypes: true }).filter((e) => e.isDirectory() && e.name.startsWith(prefix)).map((e) => join(b, e.name)) : []));
}

function hostState(prefix: string): { mounts: number; cgroups: string[]; children: string[] } {
  const children = readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === process.pid;
      } catch {
        return false;
      }
    });
  return { mounts: readFileSync('/proc/self/mountinfo', 'utf8').split('\n').length, cgroups: cgroupChildren(prefix).sort(), children };
}

describe.skipIf(skip)('leaks', () => {
  it('leaves no mounts, cgroups or processes behind after 200 sandboxes', async () => {
    expect(usableControllers(host.cgroups).size).toBeGreaterThan(0);
    const prefix = `leak${process.pid}x`;
    const before = hostState(prefix);
    expect(before.cgroups).toEqual([]);
    const ws = '/usr/share/doc'; // any readable directory: the overlay must not leak either
    for (let i = 0; i < 200; i++) {
      const r = await runIn(runtime, ['/bin/sh', '-c', 'echo x > /tmp/x; echo y > /workspace/y; sleep 0.001 & true'], {
        limits: { memoryBytes: 64 << 20, cpus: 1, pids: 32, diskBytes: 8 << 20, timeoutMs: 10_000 },
        workspace: ws,
        id: `${prefix}${i}`,
      });
      expect(r.exitCode).toBe(0);
      expect(r.changes).toEqual([{ path: 'y', kind: 'added', type: 'file' }]);
    }
    const after = hostState(prefix);
    expect(after).toEqual(before);
  }, 120_000);
});
