/**
 * cgroup policy: which controllers exist on this host (v2 unified, or v1 / hybrid), and which
 * directories and knob values enforce a sandbox's limits. The helper only executes the plan.
 */
import { accessSync, constants, existsSync, mkdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { BkgError } from '../api/errors.js';
import type { Limits } from './limits.js';

export type Controller = 'memory' | 'cpu' | 'pids';
export const CONTROLLERS: readonly Controller[] = ['memory', 'cpu', 'pids'];

export type CgroupLayout =
  | { version: 2; root: string; base: string; controllers: ReadonlySet<Controller>; problems: string[] }
  /** v1 `acct`: bkg's parent cgroup in the cpuacct hierarchy (CPU time used, for usage samples; the cpu base itself when cpu and cpuacct are mounted together). */
  | { version: 1; root: string; name?: string; bases: ReadonlyMap<Controller, string>; memsw: boolean; acct?: string; problems: string[] }
  | { version: 0; root: string; problems: string[] };

export interface CgroupPlan {
  /** Directories the helper creates (and removes), and joins the sandbox to. */
  dirs: string[];
  /** [file, value] writes, in order, after the directories exist. */
  sets: [string, string][];
  /** Files the helper reads back after the sandbox ends, by name. */
  reports: Record<string, string>;
}

const PERIOD_US = 100_000;

/**
 * Find the controllers and, when `prepare` is set, create bkg's parent cgroups (idempotent).
 * Problems are collected rather than thrown: doctor reports them, plan() refuses limits that need them.
 * As an ordinary user (`uid` not 0), bkg can only use a subtree delegated to it: on cgroup v2 the
 * nearest enclosing cgroup it owns (systemd's user@UID.service, or a scope with Delegate=yes), on
 * v1 a directory `bkg-UID` that root created and handed over under each controller.
 */
export function detectCgroups(opts: { root?: string; prepare?: boolean; name?: string; uid?: number; ownCgroup?: string } = {}): CgroupLayout {
  const root = opts.root ?? '/sys/fs/cgroup';
  const uid = opts.uid ?? 0;
  const name = opts.name ?? (uid === 0 ? 'bkg' : `bkg-${uid}`);
  const problems: string[] = [];
  if (existsSync(join(root, 'cgroup.controllers'))) {
    if (uid !== 0) return detectDelegatedV2(root, uid, opts.ownCgroup ?? ownCgroupV2());
    const base = join(root, name);
    const available = new Set(readFileSync(join(root, 'cgroup.controllers'), 'utf8').trim().split(/\s+/));
    const controllers = new Set<Controller>();
    try {
      if (opts.prepare) mkdirSync(base, { recursive: true });
      for (const c of CONTROLLERS) {
        if (!available.has(c)) {
          problems.push(`cgroup v2: the ${c} controller is not available in ${root}`);
          continue;
        }
        if (opts.prepare) {
          writeFileSync(join(root, 'cgroup.subtree_control'), `+${c}`);
          writeFileSync(join(base, 'cgroup.subtree_control'), `+${c}`);
        }
        const enabled = existsSync(join(base, 'cgroup.subtree_control')) && readFileSync(join(base, 'cgroup.subtree_control'), 'utf8').split(/\s+/).includes(c);
        if (enabled) controllers.add(c);
        else problems.push(`cgroup v2: the ${c} controller is not enabled for ${base}`);
      }
    } catch (err) {
      problems.push(`cgroup v2: cannot prepare ${base}: ${(err as Error).message}`);
    }
    return { version: 2, root, base, controllers, problems };
  }
  const bases = new Map<Controller, string>();
  for (const c of CONTROLLERS) {
    const mount = join(root, c);
    if (!existsSync(join(mount, 'cgroup.procs'))) {
      problems.push(`cgroup v1: the ${c} controller is not mounted at ${mount}`);
      continue;
    }
    const base = join(mount, name);
    try {
      if (opts.prepare && uid === 0) mkdirSync(base, { recursive: true });
      if (!existsSync(base)) problems.push(uid === 0 ? `cgroup v1: ${base} does not exist yet` : `cgroup v1: ${base} does not exist (the ${c} controller is not delegated to uid ${uid})`);
      else if (uid !== 0 && !writable(base)) problems.push(`cgroup v1: ${base} is not writable by uid ${uid} (the ${c} controller is not delegated to it)`);
      else bases.set(c, base);
    } catch (err) {
      problems.push(`cgroup v1: cannot create ${base}: ${(err as Error).message}`);
    }
  }
  if (bases.size === 0 && !existsSync(join(root, 'memory'))) return { version: 0, root, problems: [`no cgroup filesystem found under ${root}`] };
  const memBase = bases.get('memory');
  const memsw = memBase !== undefined && existsSync(join(memBase, 'memory.memsw.limit_in_bytes'));
  const acct = detectAcct(root, name, bases.get('cpu'), opts.prepare === true && uid === 0);
  return { version: 1, root, name, bases, memsw, ...(acct && (uid === 0 || writable(acct)) ? { acct } : {}), problems };
}

function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** This process's cgroup v2 path ("/user.slice/…"), from /proc/self/cgroup. */
function ownCgroupV2(): string {
  try {
    return /^0::(\/.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1] ?? '/';
  } catch {
    return '/';
  }
}

/**
 * cgroup v2 for an ordinary user: the topmost cgroup enclosing bkg's own that the user owns is the
 * delegated subtree; bkg's parent is `bkg` inside it, with whichever controllers were delegated.
 */
function detectDelegatedV2(root: string, uid: number, own: string): CgroupLayout {
  const problems: string[] = [];
  let delegated: string | undefined;
  for (let dir = join(root, own); relative(root, dir) !== '' && !relative(root, dir).startsWith('..'); dir = dirname(dir)) {
    try {
      if (statSync(dir).uid === uid) delegated = dir;
    } catch {
      /* gone meanwhile */
    }
  }
  if (delegated === undefined) {
    for (const c of CONTROLLERS) problems.push(`cgroup v2: bkg does not run in a cgroup delegated to uid ${uid}, so the ${c} controller cannot be used`);
    return { version: 2, root, base: join(root, own), controllers: new Set(), problems };
  }
  const base = join(delegated, 'bkg');
  const controllers = new Set<Controller>();
  let available = new Set<string>();
  try {
    available = new Set(readFileSync(join(delegated, 'cgroup.controllers'), 'utf8').trim().split(/\s+/));
    mkdirSync(base, { recursive: true });
  } catch (err) {
    problems.push(`cgroup v2: cannot prepare ${base}: ${(err as Error).message}`);
  }
  for (const c of CONTROLLERS) {
    if (!available.has(c)) {
      problems.push(`cgroup v2: the ${c} controller is not delegated to uid ${uid} in ${delegated}`);
      continue;
    }
    try {
      writeFileSync(join(base, 'cgroup.subtree_control'), `+${c}`);
      controllers.add(c);
    } catch (err) {
      problems.push(`cgroup v2: the ${c} controller cannot be enabled for ${base}: ${(err as Error).message}`);
    }
  }
  return { version: 2, root, base, controllers, problems };
}

/**
 * v1: where a sandbox's CPU time is counted (cpuacct.usage). Optional: without it, usage samples
 * have no CPU figure, and nothing is refused.
 */
function detectAcct(root: string, name: string, cpuBase: string | undefined, prepare: boolean): string | undefined {
  const mount = join(root, 'cpuacct');
  if (!existsSync(join(mount, 'cpuacct.usage'))) return undefined;
  try {
    if (cpuBase && realpathSync(mount) === realpathSync(join(root, 'cpu'))) return cpuBase; // cpu,cpuacct: one hierarchy
    const base = join(mount, name);
    if (prepare) mkdirSync(base, { recursive: true });
    return existsSync(base) ? base : undefined;
  } catch {
    return undefined;
  }
}

export function usableControllers(layout: CgroupLayout): Set<Controller> {
  if (layout.version === 2) return new Set(layout.controllers);
  if (layout.version === 1) return new Set(layout.bases.keys());
  return new Set();
}

function refuse(what: string, controller: Controller, layout: CgroupLayout): never {
  const why = layout.problems.find((p) => p.includes(controller)) ?? `the ${controller} controller is not usable`;
  throw new BkgError('LIMIT_UNENFORCEABLE', `cannot enforce the ${what} limit: ${why}`, { details: { controller, cgroup_version: layout.version } });
}

/** The cgroups for one sandbox. Throws LIMIT_UNENFORCEABLE rather than run without a requested limit. */
export function planCgroups(layout: CgroupLayout, id: string, limits: Limits): CgroupPlan {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw new BkgError('INVALID_ARGUMENT', `sandbox id "${id}" is not a valid cgroup name`);
  const usable = usableControllers(layout);
  const want = (c: Controller, what: string, requested: boolean): boolean => {
    if (usable.has(c)) return true;
    if (requested) refuse(what, c, layout);
    return false;
  };
  const plan: CgroupPlan = { dirs: [], sets: [], reports: {} };
  const useMemory = want('memory', 'memory', limits.memoryBytes !== undefined);
  const useCpu = want('cpu', 'cpu', limits.cpus !== undefined);
  const usePids = want('pids', 'pids', limits.pids !== undefined);
  const quota = limits.cpus === undefined ? undefined : Math.max(1000, Math.round(limits.cpus * PERIOD_US));

  if (layout.version === 2) {
    if (!useMemory && !useCpu && !usePids) return plan;
    const dir = join(layout.base, id);
    plan.dirs.push(dir);
    if (useMemory) {
      if (limits.memoryBytes !== undefined) {
        plan.sets.push([join(dir, 'memory.max'), String(limits.memoryBytes)]);
        plan.sets.push([join(dir, 'memory.swap.max'), '0']);
      }
      plan.reports.memory_peak = join(dir, 'memory.peak');
      plan.reports.memory_events = join(dir, 'memory.events');
    }
    if (useCpu && quota !== undefined) plan.sets.push([join(dir, 'cpu.max'), `${quota} ${PERIOD_US}`]);
    if (usePids && limits.pids !== undefined) plan.sets.push([join(dir, 'pids.max'), String(limits.pids)]);
    if (usePids) plan.reports.pids_events = join(dir, 'pids.events');
    return plan;
  }
  if (layout.version === 1) {
    const dirOf = (c: Controller): string => join(layout.bases.get(c) as string, id);
    if (useMemory) {
      const dir = dirOf('memory');
      plan.dirs.push(dir);
      if (limits.memoryBytes !== undefined) {
        plan.sets.push([join(dir, 'memory.limit_in_bytes'), String(limits.memoryBytes)]);
        if (layout.memsw) plan.sets.push([join(dir, 'memory.memsw.limit_in_bytes'), String(limits.memoryBytes)]);
        plan.sets.push([join(dir, 'memory.swappiness'), '0']);
      }
      plan.reports.memory_peak = join(dir, 'memory.max_usage_in_bytes');
      plan.reports.memory_events = join(dir, 'memory.oom_control');
    }
    if (useCpu && quota !== undefined) {
      const dir = dirOf('cpu');
      plan.dirs.push(dir);
      plan.sets.push([join(dir, 'cpu.cfs_period_us'), String(PERIOD_US)], [join(dir, 'cpu.cfs_quota_us'), String(quota)]);
    }
    if (usePids) {
      const dir = dirOf('pids');
      plan.dirs.push(dir);
      if (limits.pids !== undefined) plan.sets.push([join(dir, 'pids.max'), String(limits.pids)]);
      plan.reports.pids_events = join(dir, 'pids.events');
    }
    // CPU time is counted for every sandbox (usage samples), whatever its limits
    const acct = layout.acct === undefined ? undefined : join(layout.acct, id);
    if (acct !== undefined && !plan.dirs.includes(acct)) plan.dirs.push(acct);
  }
  return plan;
}

/** Parse the helper's read-back of the plan's report files. */
export function readCgroupReport(files: Record<string, string | null>): { peakMemoryBytes: number | null; oomKills: number; pidsRefusals: number } {
  const peak = files.memory_peak?.trim();
  const oom = /(?:^|\n)oom_kill (\d+)/.exec(files.memory_events ?? '');
  const pids = /(?:^|\n)max (\d+)/.exec(files.pids_events ?? ''); // forks refused at pids.max
  return { peakMemoryBytes: peak && /^\d+$/.test(peak) ? Number(peak) : null, oomKills: oom ? Number(oom[1]) : 0, pidsRefusals: pids ? Number(pids[1]) : 0 };
}
