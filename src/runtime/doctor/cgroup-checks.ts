/** The doctor's cgroup checks: which cgroup version is mounted, and whether each controller bkg limits with is usable. */
import { join } from 'node:path';
import { usableControllers, type CgroupLayout, type Controller } from '../cgroups.js';
import type { DoctorCheck, DoctorProbes } from './probes.js';

const LIMIT_FLAG: Record<Controller, string> = {
  memory: '--memory (on by default: 512m)',
  cpu: '--cpus',
  pids: '--pids (on by default: 512)',
};

export function checkCgroupVersion(layout: CgroupLayout, p: DoctorProbes): DoctorCheck {
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
    const name = layout.name ?? 'bkg';
    const owner = /^bkg-(\d+)$/.exec(name)?.[1];
    if (owner !== undefined) {
      const dirs = ['memory', 'cpu', 'pids', 'cpuacct'].map((x) => join(layout.root, x, name)).join(' ');
      return `Delegate cgroups to uid ${owner}; as root: \`mkdir -p ${dirs} && chown -R ${owner} ${dirs}\` (again after a reboot, e.g. from a systemd unit or /etc/rc.local). ${without}`;
    }
    return `Run bkg as root once so it creates ${join(mount, name)}. ${without}`;
  }
  return `Mount a cgroup filesystem first (see the cgroups check). ${without}`;
}

export function checkController(layout: CgroupLayout, c: Controller): DoctorCheck {
  const base = { id: `cgroup-${c}`, title: `cgroup ${c} controller` };
  if (usableControllers(layout).has(c)) {
    const where = layout.version === 2 ? `enabled for ${layout.base}` : layout.version === 1 ? (layout.bases.get(c) ?? '') : '';
    return { ...base, status: 'ok', detail: `usable (${where}); ${LIMIT_FLAG[c].split(' ')[0]} is enforced` };
  }
  const problem = controllerProblem(layout, c);
  return { ...base, status: 'fail', detail: problem, fix: controllerFix(layout, c, problem) };
}
