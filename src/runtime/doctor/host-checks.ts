/** The doctor's checks of the host itself: platform, sandbox helper, user namespaces, overlayfs and seccomp. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { HostInfo } from '../host.js';
import { describeIdentity } from '../identity.js';
import { readInt, type DoctorCheck, type DoctorProbes } from './probes.js';

/** Major and minor of a kernel release such as "6.8.0-45-generic"; null when it does not parse. */
export function parseKernelVersion(rel: string): { major: number; minor: number } | null {
  const m = /^(\d+)\.(\d+)/.exec(rel);
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : null;
}

function atLeast(v: { major: number; minor: number }, major: number, minor: number): boolean {
  return v.major > major || (v.major === major && v.minor >= minor);
}

// ---------------------------------------------------------------------------------------------
// 1. platform

export function checkPlatform(p: DoctorProbes): DoctorCheck {
  const title = 'Platform';
  const arch = p.arch === 'x64' ? 'x86_64' : p.arch;
  if (p.platform === 'linux' && p.arch === 'x64') {
    return { id: 'platform', title, status: 'ok', detail: `Linux ${arch}, kernel ${p.kernelRelease}` };
  }
  return {
    id: 'platform',
    title,
    status: 'fail',
    detail: `${p.platform} ${arch}: bkg sandboxes are not supported here`,
    fix: 'bkg sandboxes need Linux on x86_64; run bkg on such a host (or in a Linux x86_64 VM).',
  };
}

// ---------------------------------------------------------------------------------------------
// 2. helper

const HELPER_FIX = 'Build the helper with `npm run build:helper` (needs gcc and make: apt-get install gcc make).';

export function checkHelper(host: HostInfo): DoctorCheck {
  const base = { id: 'helper', title: 'Sandbox helper' };
  const path = host.helperPath;
  if (!existsSync(path)) return { ...base, status: 'fail', detail: `not found at ${path}`, fix: HELPER_FIX };
  const r = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 5000, env: {}, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) return { ...base, status: 'fail', detail: `cannot run ${path}: ${r.error.message}`, fix: HELPER_FIX };
  if (r.status !== 0) {
    const why = r.signal ? `killed by ${r.signal}` : `exit code ${r.status}`;
    const err = (r.stderr ?? '').trim().split('\n')[0] ?? '';
    return { ...base, status: 'fail', detail: `${path} --version failed (${why})${err ? `: ${err}` : ''}`, fix: HELPER_FIX };
  }
  let info: unknown;
  try {
    info = JSON.parse(r.stdout);
  } catch {
    info = null;
  }
  const protocol = info !== null && typeof info === 'object' && 'protocol' in info ? (info as { protocol: unknown }).protocol : undefined;
  if (protocol === undefined) {
    return { ...base, status: 'fail', detail: `${path} --version did not print the helper's JSON version (got ${JSON.stringify(r.stdout.trim().slice(0, 80))})`, fix: HELPER_FIX };
  }
  return { ...base, status: 'ok', detail: `${path} (protocol ${String(protocol)})` };
}

// ---------------------------------------------------------------------------------------------
// 3. user namespaces

export function checkUserns(host: HostInfo, p: DoctorProbes): DoctorCheck {
  const base = { id: 'userns', title: 'User namespaces' };
  const max = readInt(p, '/proc/sys/user/max_user_namespaces');
  if (max === null) {
    return {
      ...base,
      status: 'fail',
      detail: 'cannot read /proc/sys/user/max_user_namespaces: the kernel lacks user namespaces',
      fix: 'Use a kernel built with CONFIG_USER_NS=y.',
    };
  }
  const problems: string[] = [];
  const fixes: string[] = [];
  if (max <= 0) {
    problems.push(`user.max_user_namespaces is ${max}`);
    fixes.push('`sysctl -w user.max_user_namespaces=15000`');
  }
  if (!host.privileged) {
    const clone = readInt(p, '/proc/sys/kernel/unprivileged_userns_clone');
    if (clone !== null && clone !== 1) {
      problems.push(`kernel.unprivileged_userns_clone is ${clone}`);
      fixes.push('`sysctl -w kernel.unprivileged_userns_clone=1`');
    }
    const apparmor = readInt(p, '/proc/sys/kernel/apparmor_restrict_unprivileged_userns');
    if (apparmor !== null && apparmor !== 0) {
      problems.push(`kernel.apparmor_restrict_unprivileged_userns is ${apparmor}`);
      fixes.push('`sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` (or an AppArmor profile granting `userns` to node)');
    }
  }
  if (problems.length > 0) {
    return {
      ...base,
      status: 'fail',
      detail: `${host.privileged ? '' : 'unprivileged '}user namespaces are disabled: ${problems.join('; ')}`,
      fix: `As root: ${fixes.join(', then ')}; add the setting to /etc/sysctl.d/ to keep it across reboots.`,
    };
  }
  const who = describeIdentity(host.identity);
  return { ...base, status: 'ok', detail: `max_user_namespaces=${max}; ${who}` };
}

// ---------------------------------------------------------------------------------------------
// 4. overlayfs

function overlayModuleAvailable(p: DoctorProbes): boolean {
  const dir = join('/lib/modules', p.kernelRelease);
  const files = p.listDir(join(dir, 'kernel', 'fs', 'overlayfs'));
  if (files?.some((f) => f.startsWith('overlay.ko'))) return true;
  return /(^|\/)overlay\.ko/m.test(p.readText(join(dir, 'modules.dep')) ?? '');
}

export function checkOverlay(host: HostInfo, p: DoctorProbes): DoctorCheck {
  const base = { id: 'overlayfs', title: 'overlayfs' };
  const filesystems = p.readText('/proc/filesystems');
  const registered = filesystems !== null && filesystems.split('\n').some((l) => l.trim().split(/\s+/).pop() === 'overlay');
  const version = parseKernelVersion(p.kernelRelease);
  const needs = host.privileged ? '5.19 (overlayfs in user namespaces and idmapped mounts for the workspace, as bkg runs as root)' : '5.11 (overlayfs in user namespaces)';
  if (version !== null && (!atLeast(version, 5, 11) || (host.privileged && !atLeast(version, 5, 19)))) {
    return {
      ...base,
      status: 'fail',
      detail: `kernel ${p.kernelRelease} is too old: the copy-on-write /workspace needs ${needs}`,
      fix: `Upgrade the kernel to ${host.privileged ? '5.19' : '5.11'} or newer.`,
    };
  }
  if (!registered) {
    if (overlayModuleAvailable(p)) {
      return {
        ...base,
        status: 'warn',
        detail: 'overlay is not in /proc/filesystems yet, but the overlay module is installed',
        fix: 'As root: `modprobe overlay` (add `overlay` to /etc/modules-load.d/bkg.conf to load it at boot).',
      };
    }
    return {
      ...base,
      status: 'fail',
      detail: `overlay is not in /proc/filesystems and no overlay module was found under /lib/modules/${p.kernelRelease}`,
      fix: 'Use a kernel built with CONFIG_OVERLAY_FS (=y or =m), e.g. install your distribution\'s linux-modules package, then `modprobe overlay`.',
    };
  }
  if (version === null) {
    return {
      ...base,
      status: 'warn',
      detail: `overlay is available, but kernel release "${p.kernelRelease}" does not parse; the workspace needs ${needs}`,
      fix: `Make sure the kernel is ${host.privileged ? '5.19' : '5.11'} or newer.`,
    };
  }
  const extra = host.privileged ? ', idmapped mounts (5.19+)' : '';
  return { ...base, status: 'ok', detail: `overlay registered; kernel ${version.major}.${version.minor} supports overlayfs in user namespaces (5.11+)${extra}` };
}

// ---------------------------------------------------------------------------------------------
// 5. seccomp

export function checkSeccomp(p: DoctorProbes): DoctorCheck {
  const base = { id: 'seccomp', title: 'seccomp filters' };
  const fix = 'Use a kernel built with CONFIG_SECCOMP and CONFIG_SECCOMP_FILTER (any distribution kernel since 4.14 has them).';
  const text = p.readText('/proc/sys/kernel/seccomp/actions_avail');
  if (text === null) return { ...base, status: 'fail', detail: '/proc/sys/kernel/seccomp/actions_avail is missing: the kernel has no seccomp filter support', fix };
  const actions = text.trim().split(/\s+/);
  const missing = ['errno', 'kill_process'].filter((a) => !actions.includes(a));
  if (missing.length > 0) return { ...base, status: 'fail', detail: `the kernel lacks the seccomp action(s) ${missing.join(', ')} (available: ${actions.join(' ')})`, fix };
  return { ...base, status: 'ok', detail: `actions available: ${actions.join(' ')}` };
}
