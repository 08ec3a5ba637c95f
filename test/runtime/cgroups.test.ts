import { mkdtempSync, mkdirSync, rmSync, writeFileSync, existsSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BkgError } from '../../src/api/errors.js';
import { detectCgroups, planCgroups, readCgroupReport, type CgroupLayout } from '../../src/runtime/cgroups.js';

const limits = { memoryBytes: 256 << 20, cpus: 0.5, pids: 128, diskBytes: 64 << 20 };

describe('cgroup v2 writer', () => {
  const v2: CgroupLayout = { version: 2, root: '/sys/fs/cgroup', base: '/sys/fs/cgroup/bkg', controllers: new Set(['memory', 'cpu', 'pids'] as const), problems: [] };

  it('plans one directory with memory.max, swap off, cpu.max and pids.max', () => {
    expect(planCgroups(v2, 'abc', limits)).toEqual({
      dirs: ['/sys/fs/cgroup/bkg/abc'],
      sets: [
        ['/sys/fs/cgroup/bkg/abc/memory.max', String(256 << 20)],
        ['/sys/fs/cgroup/bkg/abc/memory.swap.max', '0'],
        ['/sys/fs/cgroup/bkg/abc/cpu.max', '50000 100000'],
        ['/sys/fs/cgroup/bkg/abc/pids.max', '128'],
      ],
      reports: { memory_peak: '/sys/fs/cgroup/bkg/abc/memory.peak', memory_events: '/sys/fs/cgroup/bkg/abc/memory.events', pids_events: '/sys/fs/cgroup/bkg/abc/pids.events' },
    });
  });

  it('refuses a limit whose controller is missing, naming it', () => {
    const noCpu: CgroupLayout = { ...v2, controllers: new Set(['memory', 'pids'] as const), problems: ['cgroup v2: the cpu controller is not enabled for /sys/fs/cgroup/bkg'] };
    expect(() => planCgroups(noCpu, 'abc', limits)).toThrowError(/cpu controller is not enabled/);
    try {
      planCgroups(noCpu, 'abc', limits);
    } catch (e) {
      expect((e as BkgError).code).toBe('LIMIT_UNENFORCEABLE');
    }
    expect(planCgroups(noCpu, 'abc', { memoryBytes: 1 << 20 }).dirs).toEqual(['/sys/fs/cgroup/bkg/abc']);
  });

  it('detects a v2 hierarchy and prepares bkg\'s parent with the controllers it offers', () => {
    const root = mkdtempSync(join(tmpdir(), 'cg2-'));
    try {
      writeFileSync(join(root, 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
      writeFileSync(join(root, 'cgroup.subtree_control'), '');
      mkdirSync(join(root, 'bkg'));
      // a real cgroupfs reflects writes; a plain directory keeps the last one, so pre-fill the answer
      writeFileSync(join(root, 'bkg', 'cgroup.subtree_control'), 'memory cpu pids');
      const layout = detectCgroups({ root });
      expect(layout.version).toBe(2);
      expect([...(layout.version === 2 ? layout.controllers : [])].sort()).toEqual(['cpu', 'memory', 'pids']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('on this host\'s real cgroup2 tree without controllers, refuses limits and says why', () => {
    if (!existsSync('/sys/fs/cgroup/unified/cgroup.controllers')) return;
    const name = `bkg-test-${process.pid}`;
    const layout = detectCgroups({ root: '/sys/fs/cgroup/unified', prepare: process.getuid?.() === 0, name });
    try {
      expect(layout.version).toBe(2);
      expect(() => planCgroups(layout, 'x', { memoryBytes: 1 << 20 })).toThrowError(/memory controller/);
      expect(planCgroups(layout, 'x', {})).toEqual({ dirs: [], sets: [], reports: {} });
    } finally {
      if (existsSync(`/sys/fs/cgroup/unified/${name}`)) rmdirSync(`/sys/fs/cgroup/unified/${name}`);
    }
  });
});

describe('cgroup v1 writer', () => {
  const v1: CgroupLayout = {
    version: 1,
    root: '/sys/fs/cgroup',
    bases: new Map([['memory', '/sys/fs/cgroup/memory/bkg'], ['cpu', '/sys/fs/cgroup/cpu/bkg'], ['pids', '/sys/fs/cgroup/pids/bkg']] as const),
    memsw: true,
    problems: [],
  };

  it('plans one directory per controller with absolute paths', () => {
    const plan = planCgroups(v1, 'abc', limits);
    expect(plan.dirs).toEqual(['/sys/fs/cgroup/memory/bkg/abc', '/sys/fs/cgroup/cpu/bkg/abc', '/sys/fs/cgroup/pids/bkg/abc']);
    expect(plan.sets).toContainEqual(['/sys/fs/cgroup/memory/bkg/abc/memory.memsw.limit_in_bytes', String(256 << 20)]);
    expect(plan.sets).toContainEqual(['/sys/fs/cgroup/cpu/bkg/abc/cpu.cfs_quota_us', '50000']);
    expect(plan.sets).toContainEqual(['/sys/fs/cgroup/pids/bkg/abc/pids.max', '128']);
    const mem = plan.sets.findIndex(([f]) => f.endsWith('memory.limit_in_bytes'));
    const memsw = plan.sets.findIndex(([f]) => f.endsWith('memory.memsw.limit_in_bytes'));
    expect(mem).toBeLessThan(memsw); // memsw may never be below the memory limit
  });

  it('rejects ids that are not plain names', () => {
    expect(() => planCgroups(v1, '../escape', limits)).toThrowError(BkgError);
  });
});

describe('cgroup reports', () => {
  it('reads peak memory and OOM kills from v1 and v2 files', () => {
    expect(readCgroupReport({ memory_peak: '1234\n', memory_events: 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n' })).toEqual({ peakMemoryBytes: 1234, oomKills: 2, pidsRefusals: 0 });
    expect(readCgroupReport({ memory_peak: '99\n', memory_events: 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n' })).toEqual({ peakMemoryBytes: 99, oomKills: 1, pidsRefusals: 0 });
    expect(readCgroupReport({})).toEqual({ peakMemoryBytes: null, oomKills: 0, pidsRefusals: 0 });
    expect(readCgroupReport({ pids_events: 'max 17\n' }).pidsRefusals).toBe(17);
  });
});
