import { describe, expect, it } from 'vitest';
import type { SandboxDefinition } from '../../src/runtime/definition.js';
import type { HostInfo } from '../../src/runtime/host.js';
import { buildExecSpec, buildHelperSpec, encodeSpec, ETC_ENTRIES } from '../../src/runtime/spec.js';

const host: HostInfo = {
  privileged: true,
  identity: { pool: { dir: '/run/bkg/ids', start: 1 << 30, slots: 49151, count: 65536 }, uidMaps: [], gidMaps: [] },
  rootEntries: [{ path: '/usr', kind: 'bind' }, { path: '/bin', kind: 'symlink', target: 'usr/bin' }],
  cgroups: { version: 0, root: '/sys/fs/cgroup', problems: [] },
  helperPath: '/x/bkg-helper',
};
const def: SandboxDefinition = { id: 'abc123', argv: ['python3', '-c', 'print(1)'], limits: { diskBytes: 1 << 20, timeoutMs: 5000 }, network: 'none' };
const plan = { dirs: ['/sys/fs/cgroup/pids/bkg/abc123'], sets: [['/sys/fs/cgroup/pids/bkg/abc123/pids.max', '10']] as [string, string][], reports: { memory_peak: '/p' } };

function pairs(tokens: string[], flag: string, n: number): string[][] {
  const out: string[][] = [];
  tokens.forEach((t, i) => {
    if (t === flag && tokens.indexOf('--') > i) out.push(tokens.slice(i + 1, i + 1 + n));
  });
  return out;
}

describe('buildHelperSpec', () => {
  it('as root, lets each sandbox claim its own id range from the pool, never host root', () => {
    const t = buildHelperSpec(def, host, plan);
    expect(pairs(t, '--id-pool', 4)).toEqual([['/run/bkg/ids', String(1 << 30), '49151', '65536']]);
    expect(pairs(t, '--uid-map', 3)).toEqual([]);
    expect(t).not.toContain('--setgroups-deny');
  });

  it('as an ordinary user, maps root to the user and the rest to the subordinate range through newuidmap', () => {
    const own = { uidMaps: [{ inside: 0, outside: 1000, count: 1 }], gidMaps: [{ inside: 0, outside: 1000, count: 1 }] };
    const only = buildHelperSpec(def, { ...host, privileged: false, identity: own }, plan);
    expect(pairs(only, '--uid-map', 3)).toEqual([['0', '1000', '1']]);
    expect(only).toContain('--setgroups-deny');
    expect(only).not.toContain('--newidmap');
    const sub = {
      uidMaps: [...own.uidMaps, { inside: 1, outside: 200000, count: 65535 }],
      gidMaps: [...own.gidMaps, { inside: 1, outside: 300000, count: 65535 }],
      newIdMap: { uid: '/usr/bin/newuidmap', gid: '/usr/bin/newgidmap' },
    };
    const t = buildHelperSpec(def, { ...host, privileged: false, identity: sub }, plan);
    expect(pairs(t, '--uid-map', 3)).toEqual([['0', '1000', '1'], ['1', '200000', '65535']]);
    expect(pairs(t, '--gid-map', 3)).toEqual([['0', '1000', '1'], ['1', '300000', '65535']]);
    expect(pairs(t, '--newidmap', 2)).toEqual([['/usr/bin/newuidmap', '/usr/bin/newgidmap']]);
    expect(t).not.toContain('--setgroups-deny');
  });

  it('binds /usr read-only, recreates symlinks, and never exposes shadow, /root or /home', () => {
    const t = buildHelperSpec(def, host, plan);
    expect(pairs(t, '--ro-bind', 2)).toEqual([['/usr', '/usr']]);
    expect(pairs(t, '--symlink', 2)).toEqual([['usr/bin', '/bin']]);
    const sources = [...pairs(t, '--ro-bind', 2), ...pairs(t, '--ro-bind-try', 2), ...pairs(t, '--bind', 2)].map(([s]) => s);
    for (const s of sources) expect(s).not.toMatch(/shadow|^\/root|^\/home|^\/$/);
    expect(pairs(t, '--ro-bind-try', 2).map(([s]) => s)).toEqual([...ETC_ENTRIES]);
    expect(t).toEqual(expect.arrayContaining(['--proc', '/proc', '--dev', '/dev']));
  });

  it('passes cgroups, limits, network and the command through', () => {
    const t = buildHelperSpec(def, host, plan);
    expect(pairs(t, '--cgroup', 1)).toEqual([['/sys/fs/cgroup/pids/bkg/abc123']]);
    expect(pairs(t, '--cgroup-set', 2)).toEqual([['/sys/fs/cgroup/pids/bkg/abc123/pids.max', '10']]);
    expect(pairs(t, '--report', 2)).toEqual([['memory_peak', '/p']]);
    expect(pairs(t, '--timeout-ms', 1)).toEqual([['5000']]);
    expect(pairs(t, '--scratch', 1)).toEqual([[String(1 << 20)]]);
    expect(t).not.toContain('--share-net');
    expect(buildHelperSpec({ ...def, network: 'host' }, host, plan)).toContain('--share-net');
    expect(t.slice(t.indexOf('--') + 1)).toEqual(['python3', '-c', 'print(1)']);
  });

  it('gives every sandbox a /workspace, empty on the writable layer without a host directory, and runs commands there', () => {
    const t = buildHelperSpec(def, host, plan);
    expect(pairs(t, '--scratch-upper', 1)).toEqual([['/workspace']]);
    expect(t).not.toContain('--overlay');
    expect(pairs(t, '--chdir', 1)).toEqual([['/workspace']]);
    expect(pairs(buildHelperSpec({ ...def, cwd: '/srv' }, host, plan), '--chdir', 1)).toEqual([['/srv']]); // an explicit cwd wins
    const exec = buildExecSpec(def, { argv: ['pwd'] }, host, plan);
    expect(exec[exec.indexOf('--chdir') + 1]).toBe('/workspace');
    const there = buildExecSpec(def, { argv: ['pwd'], cwd: '/tmp' }, host, plan);
    expect(there[there.indexOf('--chdir') + 1]).toBe('/tmp');
  });

  it('mounts the workspace copy-on-write, idmapped when privileged', () => {
    const t = buildHelperSpec({ ...def, workspace: '/src/proj' }, host, plan);
    expect(pairs(t, '--overlay', 2)).toEqual([['/src/proj', '/workspace']]);
    expect(t).not.toContain('--scratch-upper');
    expect(t).toContain('--idmap-lower');
    expect(pairs(t, '--chdir', 1)).toEqual([['/workspace']]);
    expect(pairs(t, '--setenv', 1).map(([e]) => e)).toContain('HOME=/root');
  });

  it('keeps a small capability bounding set and lets user env override defaults', () => {
    const t = buildHelperSpec({ ...def, env: { PATH: '/custom', FOO: 'bar' } }, host, plan);
    const caps = pairs(t, '--cap-keep', 1).map(([c]) => Number(c));
    expect(caps.length).toBeLessThanOrEqual(10);
    expect(caps).not.toContain(21); // CAP_SYS_ADMIN
    expect(caps).not.toContain(19); // CAP_SYS_PTRACE
    const env = pairs(t, '--setenv', 1).map(([e]) => e);
    expect(env).toContain('PATH=/custom');
    expect(env).toContain('FOO=bar');
  });

  it('encodes NUL-terminated tokens and refuses embedded NULs', () => {
    expect(encodeSpec(['a', 'b c']).toString()).toBe('a\0b c\0');
    expect(() => encodeSpec(['a\0b'])).toThrow();
  });
});
