/** Sandboxes and exec verdicts as the API shows them, with a running sandbox's cgroup usage. */
import { readFileSync } from 'node:fs';
import type { ExecResponse, SandboxView } from '../../api/sandboxes.js';
import { planCgroups } from '../../runtime/cgroups.js';
import type { ExecResult } from '../../runtime/engine.js';
import { limitsToView } from '../../runtime/from-request.js';
import type { Sandbox } from '../../store/repos/index.js';
import type { PartDeps } from './deps.js';

/** The verdict of an exec, without its output. */
export function execSummary(r: ExecResult): Omit<ExecResponse, 'stdout' | 'stderr' | 'truncated'> {
  return {
    exit_code: r.exitCode, signal: r.signal, timed_out: r.timedOut, oom_killed: r.oomKilled, duration_ms: r.durationMs, limits_hit: r.limitsHit,
    ...(r.execError ? { exec_error: r.execError } : {}),
  };
}

function readNumber(path: string): number | null {
  try {
    const n = Number(readFileSync(path, 'utf8').trim().split(/\s+/)[0]);
    return Number.isFinite(n) ? n : null;
  } catch {
    return null;
  }
}

export class SandboxViews {
  constructor(private readonly d: Pick<PartDeps, 'keys' | 'namespaces' | 'projects' | 'host' | 'sandboxes'>) {}

  view(s: Sandbox): SandboxView {
    const key = this.d.keys.list({ namespaceId: s.namespaceId }).find((k) => k.sandboxId === s.id && k.revokedAt === null);
    const ns = this.d.namespaces.get(s.namespaceId);
    const project = s.projectId ? this.d.projects.get(s.projectId) : null;
    const v: SandboxView = {
      id: s.id, name: s.name, namespace: ns?.name ?? s.namespaceId, project: project?.name ?? null, status: s.status, runtime: s.runtime, network: s.network,
      limits: limitsToView(s.limits), env: Object.keys(s.env).sort(), workspace: s.workspace,
      allow_nested_namespaces: s.allowNestedNamespaces, seccomp: s.seccomp === null ? 'default' : 'custom', api_key: key?.masked ?? '',
      created_at: s.createdAt, started_at: s.startedAt, expires_at: s.expiresAt, idle_expires_at: s.idleExpiresAt, last_activity_at: s.lastActivityAt,
      host: s.host,
    };
    // usage is read from this host's cgroups: only for the sandboxes this host runs
    if (s.status === 'running' && this.d.sandboxes.isOwn(s)) v.usage = this.usage(s);
    return v;
  }

  /** What the sandbox's cgroups count now (the controllers it has, whatever limits it asked for). */
  private usage(s: Sandbox): NonNullable<SandboxView['usage']> {
    const plan = planCgroups({ ...this.d.host.cgroups, problems: [] }, s.id, {});
    const file = (suffix: string): string | undefined => plan.dirs.map((d) => `${d}/${suffix}`).find((f) => { try { readFileSync(f); return true; } catch { return false; } });
    const v2 = this.d.host.cgroups.version === 2;
    const mem = file(v2 ? 'memory.current' : 'memory.usage_in_bytes');
    const pids = file('pids.current');
    const cpu = v2 ? file('cpu.stat') : file('cpuacct.usage');
    let cpuSeconds: number | null = null;
    if (cpu && v2) cpuSeconds = (Number(/usage_usec (\d+)/.exec(readFileSync(cpu, 'utf8'))?.[1] ?? NaN) / 1e6) || null;
    else if (cpu) cpuSeconds = (readNumber(cpu) ?? NaN) / 1e9 || null;
    return { memory_bytes: mem ? readNumber(mem) : null, cpu_seconds: cpuSeconds, pids: pids ? readNumber(pids) : null };
  }
}
