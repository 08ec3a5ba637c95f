/**
 * Sandboxes that tests left running: a persistent sandbox outlives its daemon by design, so a test
 * that removes its BKG_HOME without `rm` leaves a supervisor behind. After the run, each supervisor
 * whose exec socket lies in a test's temporary home that no longer exists is told to stop (SIGTERM:
 * it ends its sandbox and removes its cgroups). Sandboxes of homes that still exist, or outside the
 * temporary directory, are never touched.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname } from 'node:path';

export function reapOrphanedTestSandboxes(): number {
  const prefix = `${tmpdir()}/`;
  const orphaned = new Set<string>(); // socket inodes
  for (const line of readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    const [inode, path] = [f[6], f[7]];
    if (!inode || !path?.startsWith(prefix) || !/\/run\/[0-9a-f]{12}\.x2\.sock$/.test(path)) continue;
    if (!existsSync(dirname(dirname(path)))) orphaned.add(inode);
  }
  if (orphaned.size === 0) return 0;
  // the exec server (and its spare, waiting in accept) hold the listening socket; the server's parent, the supervisor, is the one to stop
  const helper = (pid: number | string): boolean => readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('bkg-helper');
  const holders = new Map<number, number>(); // pid -> parent pid
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (!helper(pid)) continue;
      const holds = readdirSync(`/proc/${pid}/fd`).some((fd) => {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        return m !== null && orphaned.has(m[1] as string);
      });
      if (holds) holders.set(Number(pid), Number(/^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]));
    } catch {
      /* gone meanwhile, or not ours to read */
    }
  }
  const supervisors = new Set<number>();
  for (const parent of holders.values()) {
    try {
      if (!holders.has(parent) && parent > 1 && helper(parent)) supervisors.add(parent);
    } catch {
      /* gone meanwhile */
    }
  }
  let reaped = 0;
  for (const pid of supervisors) {
    try {
      process.kill(pid, 'SIGTERM');
      reaped++;
    } catch {
      /* gone meanwhile */
    }
  }
  return reaped;
}
