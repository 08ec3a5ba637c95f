/**
 * `bkg doctor` on this host (root, Linux x86_64, cgroup v1 hybrid with memory/cpu/pids, helper
 * built): every check passes, a missing helper is reported with its fix, and the CLI prints JSON.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BkgError } from '../../src/api/errors.js';
import { createCliContext } from '../../src/cli/context.js';
import type { CgroupLayout } from '../../src/runtime/cgroups.js';
import { parseKernelVersion, runDoctor, type DoctorCheck, type DoctorReport } from '../../src/runtime/doctor.js';
import { packageRoot, type HostInfo } from '../../src/runtime/host.js';
import { SandboxEngine, type SandboxRunner } from '../../src/runtime/engine.js';

const ROOT = packageRoot();

function check(report: DoctorReport, id: string): DoctorCheck {
  const c = report.checks.find((x) => x.id === id);
  if (!c) throw new Error(`no check "${id}" in ${report.checks.map((x) => x.id).join(', ')}`);
  return c;
}

/** A runtime that must not be reached (for probes run with the sandbox check off). */
const unusedRuntime = {
  run: () => Promise.reject(new Error('not expected')),
} as unknown as SandboxRunner;

describe('runDoctor on this host', () => {
  it('passes every check, including an end-to-end sandbox', async () => {
    const ctx = createCliContext();
    const report = await runDoctor(ctx);
    const ids = report.checks.map((c) => c.id);
    expect(ids).toEqual(['platform', 'helper', 'userns', 'overlayfs', 'seccomp', 'cgroups', 'cgroup-memory', 'cgroup-cpu', 'cgroup-pids', 'rootless', 'sandbox']);
    for (const c of report.checks) expect({ id: c.id, status: c.status, detail: c.detail }).toEqual({ id: c.id, status: 'ok', detail: c.detail });
    expect(report.ok).toBe(true);
    expect(check(report, 'sandbox').detail).toMatch(/\b\d+ ms\b/);
    expect(check(report, 'cgroups').detail).toMatch(/cgroup v1/);
    expect(check(report, 'helper').detail).toContain('protocol');
  });

  it('reports a missing helper with its fix, and the sandbox probe fails too', async () => {
    const ctx = createCliContext();
    const host: HostInfo = { ...ctx.host, helperPath: '/nonexistent/bkg-helper' };
    const report = await runDoctor({ host, runtime: new SandboxEngine({ host, log: ctx.log }) });
    const helper = check(report, 'helper');
    expect(helper.status).toBe('fail');
    expect(helper.detail).toContain('/nonexistent/bkg-helper');
    expect(helper.fix).toContain('build:helper');
    const sandbox = check(report, 'sandbox');
    expect(sandbox.status).toBe('fail');
    expect(sandbox.detail).toContain('HELPER_MISSING');
    expect(sandbox.fix).toContain('build:helper');
    expect(report.ok).toBe(false);
    // the other probes are unaffected
    expect(check(report, 'userns').status).toBe('ok');
    expect(check(report, 'cgroup-memory').status).toBe('ok');
  });
});

describe('runDoctor probes (simulated hosts)', () => {
  const base = createCliContext().host;
  const files = (map: Record<string, string>) => (path: string) => map[path] ?? null;

  it('explains disabled unprivileged user namespaces with the sysctl fixes', async () => {
    const host: HostInfo = { ...base, privileged: false, identity: { uidMaps: [{ inside: 0, outside: 1000, count: 1 }], gidMaps: [{ inside: 0, outside: 1000, count: 1 }] } };
    const report = await runDoctor(
      { host, runtime: unusedRuntime },
      {
        sandbox: false,
        readText: files({
          '/proc/sys/user/max_user_namespaces': '0\n',
          '/proc/sys/kernel/unprivileged_userns_clone': '0\n',
          '/proc/sys/kernel/apparmor_restrict_unprivileged_userns': '1\n',
        }),
      },
    );
    const userns = check(report, 'userns');
    expect(userns.status).toBe('fail');
    expect(userns.fix).toContain('sysctl -w user.max_user_namespaces=15000');
    expect(userns.fix).toContain('sysctl -w kernel.unprivileged_userns_clone=1');
    expect(userns.fix).toContain('sysctl -w kernel.apparmor_restrict_unprivileged_userns=0');
    expect(report.ok).toBe(false);
  });

  it('ignores the unprivileged-userns sysctls when running as root', async () => {
    const host: HostInfo = { ...base, privileged: true };
    const report = await runDoctor(
      { host, runtime: unusedRuntime },
      {
        sandbox: false,
        readText: files({ '/proc/sys/user/max_user_namespaces': '15000', '/proc/sys/kernel/apparmor_restrict_unprivileged_userns': '1' }),
      },
    );
    expect(check(report, 'userns').status).toBe('ok');
  });

  it('warns when overlay is only a loadable module, and fails on old kernels', async () => {
    const host: HostInfo = { ...base, privileged: true };
    const warn = await runDoctor(
      { host, runtime: unusedRuntime },
      {
        sandbox: false,
        kernelRelease: '6.8.0-45-generic',
        readText: files({ '/proc/filesystems': 'nodev\tproc\n\text4\n' }),
        listDir: (p) => (p === '/lib/modules/6.8.0-45-generic/kernel/fs/overlayfs' ? ['overlay.ko.zst'] : null),
      },
    );
    const overlay = check(warn, 'overlayfs');
    expect(overlay.status).toBe('warn');
    expect(overlay.fix).toContain('modprobe overlay');

    const old = await runDoctor(
      { host, runtime: unusedRuntime },
      { sandbox: false, kernelRelease: '5.15.0-100-generic', readText: files({ '/proc/filesystems': 'nodev\toverlay\n' }) },
    );
    expect(check(old, 'overlayfs').status).toBe('fail');
    expect(check(old, 'overlayfs').detail).toContain('5.19');

    const unprivileged = await runDoctor(
      { host: { ...host, privileged: false }, runtime: unusedRuntime },
      { sandbox: false, kernelRelease: '5.15.0-100-generic', readText: files({ '/proc/filesystems': 'nodev\toverlay\n' }) },
    );
    expect(check(unprivileged, 'overlayfs').status).toBe('ok');
  });

  it('fails seccomp when kill_process is not available', async () => {
    const report = await runDoctor(
      { host: base, runtime: unusedRuntime },
      { sandbox: false, readText: files({ '/proc/sys/kernel/seccomp/actions_avail': 'kill_thread trap errno trace allow\n' }) },
    );
    const seccomp = check(report, 'seccomp');
    expect(seccomp.status).toBe('fail');
    expect(seccomp.detail).toContain('kill_process');
    expect(seccomp.fix).toContain('CONFIG_SECCOMP_FILTER');
  });

  it('fails a missing cgroup controller with the layout problem and a fix', async () => {
    const v2: CgroupLayout = {
      version: 2,
      root: '/sys/fs/cgroup',
      base: '/sys/fs/cgroup/bkg',
      controllers: new Set(['memory', 'pids']),
      problems: ['cgroup v2: the cpu controller is not enabled for /sys/fs/cgroup/bkg'],
    };
    const report = await runDoctor({ host: { ...base, cgroups: v2 }, runtime: unusedRuntime }, { sandbox: false });
    expect(check(report, 'cgroups').detail).toContain('cgroup v2');
    expect(check(report, 'cgroup-memory').status).toBe('ok');
    const cpu = check(report, 'cgroup-cpu');
    expect(cpu.status).toBe('fail');
    expect(cpu.detail).toBe('cgroup v2: the cpu controller is not enabled for /sys/fs/cgroup/bkg');
    expect(cpu.fix).toContain('cgroup.subtree_control');
    expect(cpu.fix).toContain('Delegate=yes');
    expect(cpu.fix).toContain('--cpus');

    const v1: CgroupLayout = {
      version: 1,
      root: '/sys/fs/cgroup',
      bases: new Map([['cpu', '/sys/fs/cgroup/cpu/bkg']]),
      memsw: false,
      problems: ['cgroup v1: the memory controller is not mounted at /sys/fs/cgroup/memory', 'cgroup v1: the pids controller is not mounted at /sys/fs/cgroup/pids'],
    };
    const r1 = await runDoctor({ host: { ...base, cgroups: v1 }, runtime: unusedRuntime }, { sandbox: false });
    const mem = check(r1, 'cgroup-memory');
    expect(mem.status).toBe('fail');
    expect(mem.detail).toContain('memory controller is not mounted');
    expect(mem.fix).toContain('mount -t cgroup -o memory cgroup /sys/fs/cgroup/memory');
    expect(mem.fix).toContain('--memory');
    expect(check(r1, 'cgroup-pids').fix).toContain('--pids');
  });

  it('drops limits whose controller is unusable from the sandbox probe', async () => {
    let seen: unknown;
    const runtime = {
      run: (def: { limits: unknown }) => {
        seen = def.limits;
        return Promise.reject(new BkgError('ISOLATION_UNAVAILABLE', 'simulated'));
      },
    } as unknown as SandboxRunner;
    const v1: CgroupLayout = { version: 1, root: '/sys/fs/cgroup', bases: new Map([['pids', '/sys/fs/cgroup/pids/bkg']]), memsw: false, problems: [] };
    const report = await runDoctor({ host: { ...base, cgroups: v1 }, runtime });
    expect(seen).toEqual({ diskBytes: 16 << 20, timeoutMs: 10_000, pids: 32 });
    const sandbox = check(report, 'sandbox');
    expect(sandbox.status).toBe('fail');
    expect(sandbox.detail).toContain('simulated');
    expect(sandbox.fix).toContain('bkg doctor');
  });

  it('never throws when a probe throws', async () => {
    const report = await runDoctor(
      { host: base, runtime: unusedRuntime },
      {
        readText: () => {
          throw new Error('boom');
        },
      },
    );
    expect(report.ok).toBe(false);
    expect(check(report, 'userns').detail).toContain('boom');
    expect(check(report, 'sandbox').status).toBe('fail');
  });

  it('parses kernel versions', () => {
    expect(parseKernelVersion('6.8.0-45-generic')).toEqual({ major: 6, minor: 8 });
    expect(parseKernelVersion('5.19')).toEqual({ major: 5, minor: 19 });
    expect(parseKernelVersion('weird')).toBeNull();
  });
});

describe('bkg doctor (CLI)', () => {
  // dist/ is built by test/global-setup.ts before any test runs

  it('prints { ok, checks } as JSON with --json and exits 0', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'run.js'), 'doctor', '--json'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    const body = JSON.parse(r.stdout) as DoctorReport;
    expect(Object.keys(body).sort()).toEqual(['checks', 'ok']);
    expect(body.ok).toBe(true);
    expect(body.checks.map((c) => c.status)).toEqual(body.checks.map(() => 'ok'));
    expect(r.status).toBe(0);
  });

  it('prints one line per check and a summary without --json', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'run.js'), 'doctor'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.filter((l) => l.startsWith('✓ '))).toHaveLength(11);
    expect(lines.at(-1)).toMatch(/11 of 11 checks passed/);
  });

  it('exits 3 with fixes when a check fails', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'run.js'), 'doctor'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, BKG_HELPER: '/nonexistent/bkg-helper' },
    });
    expect(r.status).toBe(3);
    expect(r.stdout).toMatch(/^✗ Sandbox helper: not found at \/nonexistent\/bkg-helper$/m);
    expect(r.stdout).toMatch(/^ {4}fix: .*build:helper/m);
    expect(r.stdout).toMatch(/checks failed/);
  });
});
