/** Sandboxes and exec verdicts as the API shows them, with a running sandbox's cgroup usage. */
import type { ExecResponse, SandboxView } from '../../api/sandboxes.js';
import type { ExecResult } from '../../runtime/engine.js';
import { limitsToView } from '../../runtime/from-request.js';
import { readUsage, usageFiles } from '../../runtime/usage.js';
import type { Sandbox } from '../../store/repos/index.js';
import type { PartDeps } from './deps.js';

/** The verdict of an exec, without its output. */
export function execSummary(r: ExecResult): Omit<ExecResponse, 'stdout' | 'stderr' | 'truncated'> {
  return {
    exit_code: r.exitCode, signal: r.signal, timed_out: r.timedOut, oom_killed: r.oomKilled, duration_ms: r.durationMs, limits_hit: r.limitsHit,
    ...(r.execError ? { exec_error: r.execError } : {}),
    ...(r.networkDenied?.length ? { network_denied: r.networkDenied.map((d) => ({ code: 'NETWORK_DENIED' as const, ...d })) } : {}),
  };
}

export class SandboxViews {
  constructor(private readonly d: Pick<PartDeps, 'keys' | 'namespaces' | 'projects' | 'host' | 'sandboxes'>) {}

  view(s: Sandbox): SandboxView {
    const key = this.d.keys.list({ namespaceId: s.namespaceId }).find((k) => k.sandboxId === s.id && k.revokedAt === null);
    const ns = this.d.namespaces.get(s.namespaceId);
    const project = s.projectId ? this.d.projects.get(s.projectId) : null;
    const v: SandboxView = {
      id: s.id, name: s.name, namespace: ns?.name ?? s.namespaceId, project: project?.name ?? null, status: s.status, runtime: s.runtime, network: s.network,
      limits: limitsToView(s.limits), env: Object.keys(s.env).sort(), ...(s.secrets.length ? { secrets: s.secrets } : {}), workspace: s.workspace,
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
    const u = readUsage(usageFiles(this.d.host.cgroups, s.id));
    return { memory_bytes: u.memoryBytes, cpu_seconds: u.cpuSeconds, pids: u.pids };
  }
}
