/**
 * `bkg doctor`: probe the host for everything a sandbox needs and say, for each thing that does
 * not work, how to fix the host. Every probe is independent and none throws out of runDoctor.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BkgError } from '../api/errors.js';
import { formatBytes } from '../api/units.js';
import { usableControllers, type CgroupLayout, type Controller } from './cgroups.js';
import type { SandboxDefinition } from './definition.js';
import type { HostInfo } from './host.js';
import type { Limits } from './limits.js';
import { newSandboxId, type SandboxRuntime } from './runtime.js';

export type DoctorStatus = 'ok' | 'warn' | 'fail';

export interface DoctorCheck {
  id: string;
  title: string;
  status: DoctorStatus;
  detail: string;
  fix?: string;
}

export interface DoctorReport {
  ok: boolean;
  checks: DoctorCheck[];
}

export interface DoctorContext {
  host: HostInfo;
  runtime: SandboxRuntime;
}

/** What the probes read from the host; tests substitute parts of it. */
export interface DoctorProbes {
  platform: string;
  arch: string;
  /** `uname -r`. */
  kernelRelease: string;
  /** A file's text, or null when it cannot be read. */
  readText: (path: string) => string | null;
  /** A directory's entries, or null when it cannot be read. */
  listDir: (path: string) => string[] | null;
  /** Run the sandbox probe (skip it only in tests of the other probes). */
  sandbox: boolean;
}

function defaultProbes(): DoctorProbes {
  return {
    platform: process.platform,
    arch: process.arch,
    kernelRelease: release(),
    readText: (path) => {
      try {
        return readFileSync(path, 'utf8');
      } catch {
        return null;
      }
    },
    listDir: (path) => {
      try {
        return readdirSync(path);
      } catch {
        return null;
      }
    },
    sandbox: true,
  };
}

/** Major and minor of a kernel release such as "6.8.0-45-generic"; null when it does not parse. */
export function parseKernelVersion(rel: string): { major: number; minor: number } | null {
  const m = /^(\d+)\.(\d+)/.exec(rel);
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : null;
}

function atLeast(v: { major: number; minor: number }, major: number, minor: number): boolean {
  return v.major > major || (v.major === major && v.minor >= minor);
}

function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// ---------------------------------------------------------------------------------------------
// 1. platform

function checkPlatform(p: DoctorProbes): DoctorCheck {
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

function checkHelper(host: HostInfo): DoctorCheck {
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

function readInt(p: DoctorProbes, path: string): number | null {
  const text = p.readText(path)?.trim();
  return text !== undefined && /^-?\d+$/.test(text) ? Number(text) : null;
}

function checkUserns(host: HostInfo, p: DoctorProbes): DoctorCheck {
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
  const who = host.privileged
    ? `running as root: sandbox uid 0 maps to host uid ${host.uidMap.outside}..${host.uidMap.outside + host.uidMap.count - 1}`
    : `running unprivileged: sandbox uid 0 maps to your uid ${host.uidMap.outside}`;
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

function checkOverlay(host: HostInfo, p: DoctorProbes): DoctorCheck {
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

function checkSeccomp(p: DoctorProbes): DoctorCheck {
  const base = { id: 'seccomp', title: 'seccomp filters' };
  const fix = 'Use a kernel built with CONFIG_SECCOMP and CONFIG_SECCOMP_FILTER (any distribution kernel since 4.14 has them).';
  const text = p.readText('/proc/sys/kernel/seccomp/actions_avail');
  if (text === null) return { ...base, status: 'fail', detail: '/proc/sys/kernel/seccomp/actions_avail is missing: the kernel has no seccomp filter support', fix };
  const actions = text.trim().split(/\s+/);
  const missing = ['errno', 'kill_process'].filter((a) => !actions.includes(a));
  if (missing.length > 0) return { ...base, status: 'fail', detail: `the kernel lacks the seccomp action(s) ${missing.join(', ')} (available: ${actions.join(' ')})`, fix };
  return { ...base, status: 'ok', detail: `actions available: ${actions.join(' ')}` };
}

// ---------------------------------------------------------------------------------------------
// 6. cgroups

const LIMIT_FLAG: Record<Controller, string> = {
  memory: '--memory (on by default: 512m)',
  cpu: '--cpus',
  pids: '--pids (on by default: 512)',
};

function checkCgroupVersion(layout: CgroupLayout, p: DoctorProbes): DoctorCheck {
  const base = { id: 'cgroups', title: 'cgroups' };
  if (layout.version === 2) return { ...base, status: 'ok', detail: `cgroup v2 (unified) at ${layout.root}; sandboxes go under ${layout.base}` };
  if (layout.version === 1) {
    const hybrid = p.readText(join(layout.root, 'unified', 'cgroup.controllers')) !== null || p.listDir(join(layout.root, 'unified')) !== null;
    const swap = layout.bases.has('memory') ? (layout.memsw ? '; memory limits include swap' : '; memory.memsw absent, swap is set off per sandbox (swappiness 0)') : '';
    return { ...base, status: 'ok', detail: `cgroup v1${hybrid ? ' (hybrid, with a v2 hierarchy at ' + join(layout.root, 'unified') + ')' : ''} at ${layout.root}${swap}` };
  }
  return {
    ...base,
    status: 'fail',
    detail: layout.problems[0] ?? `no cgroup filesystem found under ${layout.root}`,
    fix: 'As root: `mount -t cgroup2 none /sys/fs/cgroup` (or boot with systemd, which mounts it). Without cgroups bkg refuses --memory, --cpus and --pids, and `bkg run` sets --memory and --pids by default.',
  };
}

function controllerProblem(layout: CgroupLayout, c: Controller): string {
  return (
    layout.problems.find((p) => p.includes(`the ${c} controller`)) ??
    layout.problems.find((p) => p.includes(`/${c}/`) || p.endsWith(`/${c}`)) ??
    layout.problems.find((p) => !/\b(memory|cpu|pids) controller\b/.test(p)) ??
    `the ${c} controller is not usable`
  );
}

function controllerFix(layout: CgroupLayout, c: Controller, problem: string): string {
  const without = `Without it bkg refuses ${LIMIT_FLAG[c]}.`;
  if (layout.version === 2) {
    return (
      `As root: \`echo +${c} > ${join(layout.root, 'cgroup.subtree_control')}\` (bkg, run as root, then enables it for ${layout.base} itself; ` +
      `the full set is \`echo +memory +cpu +pids > ${join(layout.root, 'cgroup.subtree_control')}\`), or run bkg's daemon in a delegated cgroup ` +
      `(systemd: \`systemd-run --user -p Delegate=yes --scope bkg ...\`). ${without}`
    );
  }
  if (layout.version === 1) {
    const mount = join(layout.root, c);
    if (/not mounted/.test(problem)) {
      return `As root: \`mkdir -p ${mount} && mount -t cgroup -o ${c} cgroup ${mount}\` (or switch to cgroup v2). ${without}`;
    }
    return `Run bkg as root once so it creates ${join(mount, 'bkg')}, or as root \`mkdir ${join(mount, 'bkg')} && chown -R $USER ${join(mount, 'bkg')}\`. ${without}`;
  }
  return `Mount a cgroup filesystem first (see the cgroups check). ${without}`;
}

function checkController(layout: CgroupLayout, c: Controller): DoctorCheck {
  const base = { id: `cgroup-${c}`, title: `cgroup ${c} controller` };
  if (usableControllers(layout).has(c)) {
    const where = layout.version === 2 ? `enabled for ${layout.base}` : layout.version === 1 ? (layout.bases.get(c) ?? '') : '';
    return { ...base, status: 'ok', detail: `usable (${where}); ${LIMIT_FLAG[c].split(' ')[0]} is enforced` };
  }
  const problem = controllerProblem(layout, c);
  return { ...base, status: 'fail', detail: problem, fix: controllerFix(layout, c, problem) };
}

// ---------------------------------------------------------------------------------------------
// 7. end-to-end sandbox

export const PROBE_LIMITS: Required<Omit<Limits, 'idleTimeoutMs'>> = {
  memoryBytes: 64 << 20,
  cpus: 0.5,
  pids: 32,
  diskBytes: 16 << 20,
  timeoutMs: 10_000,
};

function oneLine(text: string, max = 300): string {
  const t = text.trim().replace(/\s*\n\s*/g, ' | ');
  return t.length > max ? `${t.slice(0, max)}…` : t;
}

async function checkSandbox(ctx: DoctorContext): Promise<DoctorCheck> {
  const base = { id: 'sandbox', title: 'End-to-end sandbox' };
  const usable = usableControllers(ctx.host.cgroups);
  const limits: Limits = { diskBytes: PROBE_LIMITS.diskBytes, timeoutMs: PROBE_LIMITS.timeoutMs };
  const skipped: string[] = [];
  if (usable.has('memory')) limits.memoryBytes = PROBE_LIMITS.memoryBytes;
  else skipped.push('memory');
  if (usable.has('cpu')) limits.cpus = PROBE_LIMITS.cpus;
  else skipped.push('cpus');
  if (usable.has('pids')) limits.pids = PROBE_LIMITS.pids;
  else skipped.push('pids');
  const described = [
    limits.memoryBytes !== undefined ? `memory ${formatBytes(limits.memoryBytes)}` : null,
    limits.cpus !== undefined ? `cpus ${limits.cpus}` : null,
    limits.pids !== undefined ? `pids ${limits.pids}` : null,
    `disk ${formatBytes(PROBE_LIMITS.diskBytes)}`,
    'network none',
  ].filter((s): s is string => s !== null);
  const without = skipped.length > 0 ? `; without ${skipped.join(', ')} limits (controller unusable, see above)` : '';

  let workspace: string | null = null;
  const started = performance.now();
  const elapsed = (): string => `${Math.round(performance.now() - started)} ms`;
  try {
    workspace = mkdtempSync(join(tmpdir(), 'bkg-doctor-'));
    const def: SandboxDefinition = {
      id: newSandboxId(),
      argv: ['/bin/sh', '-c', 'echo probe > /workspace/p && cat /workspace/p'],
      limits,
      network: 'none',
      workspace,
    };
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const r = await ctx.runtime.run(def, { stdio: ['ignore', 'pipe', 'pipe'], onStdout: (c) => out.push(c), onStderr: (c) => err.push(c) });
    const took = elapsed();
    const stdout = Buffer.concat(out).toString('utf8').trim();
    const stderr = Buffer.concat(err).toString('utf8');
    const sawChange = r.changes.some((c) => c.path === 'p' && c.kind === 'added');
    if (r.exitCode === 0 && stdout === 'probe' && sawChange) {
      return { ...base, status: 'ok', detail: `ran /bin/sh in a sandbox with a copy-on-write /workspace (${described.join(', ')}) in ${took}${without}` };
    }
    const why: string[] = [];
    if (r.execError) why.push(`cannot run /bin/sh: ${r.execError}`);
    if (r.timedOut) why.push(`timed out after ${PROBE_LIMITS.timeoutMs} ms`);
    if (r.oomKilled) why.push('killed for running out of memory');
    if (r.exitCode !== 0) why.push(r.exitCode === null ? `killed by signal ${r.signal ?? '?'}` : `exit code ${r.exitCode}`);
    else if (stdout !== 'probe') why.push(`unexpected output ${JSON.stringify(stdout.slice(0, 80))}`);
    else if (!sawChange) why.push('the write to /workspace/p was not reported as a workspace change');
    if (stderr.trim()) why.push(`stderr: ${oneLine(stderr)}`);
    return {
      ...base,
      status: 'fail',
      detail: `the probe sandbox failed after ${took}: ${why.join('; ')}`,
      fix: 'Fix the failing checks above; if they all pass, rerun with BKG_LOG_LEVEL=debug and report the output.',
    };
  } catch (e) {
    const took = elapsed();
    if (e instanceof BkgError) return { ...base, status: 'fail', detail: `${e.code}: ${e.message} (after ${took})`, fix: e.hint };
    return { ...base, status: 'fail', detail: `the probe sandbox failed after ${took}: ${describeError(e)}`, fix: 'Fix the failing checks above, then rerun `bkg doctor`.' };
  } finally {
    if (workspace !== null) {
      try {
        rmSync(workspace, { recursive: true, force: true });
      } catch {
        /* best effort */
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------

/** Run a probe; a probe that throws becomes a failed check rather than aborting the report. */
function guard(id: string, title: string, probe: () => DoctorCheck | DoctorCheck[]): DoctorCheck[] {
  try {
    const r = probe();
    return Array.isArray(r) ? r : [r];
  } catch (e) {
    return [{ id, title, status: 'fail', detail: `the probe itself failed: ${describeError(e)}`, fix: 'This is a bug in bkg doctor; please report it.' }];
  }
}

export async function runDoctor(ctx: DoctorContext, probes: Partial<DoctorProbes> = {}): Promise<DoctorReport> {
  const p: DoctorProbes = { ...defaultProbes(), ...probes };
  const { host } = ctx;
  const checks: DoctorCheck[] = [
    ...guard('platform', 'Platform', () => checkPlatform(p)),
    ...guard('helper', 'Sandbox helper', () => checkHelper(host)),
    ...guard('userns', 'User namespaces', () => checkUserns(host, p)),
    ...guard('overlayfs', 'overlayfs', () => checkOverlay(host, p)),
    ...guard('seccomp', 'seccomp filters', () => checkSeccomp(p)),
    ...guard('cgroups', 'cgroups', () => checkCgroupVersion(host.cgroups, p)),
  ];
  for (const c of ['memory', 'cpu', 'pids'] as const) checks.push(...guard(`cgroup-${c}`, `cgroup ${c} controller`, () => checkController(host.cgroups, c)));
  if (p.sandbox) {
    try {
      checks.push(await checkSandbox(ctx));
    } catch (e) {
      checks.push({ id: 'sandbox', title: 'End-to-end sandbox', status: 'fail', detail: `the probe itself failed: ${describeError(e)}` });
    }
  }
  return { ok: checks.every((c) => c.status !== 'fail'), checks };
}
