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

/** `make(key)`, made once per key in `memo`. */
function once<K, V>(memo: Map<K, V>, key: K, make: (k: K) => V): V {
  let v = memo.get(key);
  if (v === undefined) memo.set(key, (v = make(key)));
  return v;
}

export class SandboxViews {
  constructor(private readonly d: Pick<PartDeps, 'keys' | 'namespaces' | 'projects' | 'host' | 'sandboxes'>) {}

  view(s: Sandbox): SandboxView {
    return this.list([s], { usage: true })[0] as SandboxView;
  }

  /** Many sandboxes at once: each namespace's keys, namespaces and projects are read once, not per row. */
  list(rows: Sandbox[], opts: { usage?: boolean } = {}): SandboxView[] {
    const keyOf = new Map<string, string>();
    const names = new Map<string, string>();
    const projects = new Map<string, string | null>();
    // rows of one list share their limits and env objects (the store parses each distinct text once): so do their views
    const limitViews = new Map<Sandbox['limits'], SandboxView['limits']>();
    const envNames = new Map<Sandbox['env'], string[]>();
    for (const nsId of new Set(rows.map((s) => s.namespaceId))) {
      names.set(nsId, this.d.namespaces.get(nsId)?.name ?? nsId);
      // one sandbox: its own keys; many: each namespace's live sandbox keys once
      if (rows.length === 1) {
        for (const k of this.d.keys.list({ sandboxId: (rows[0] as Sandbox).id })) if (k.sandboxId && k.revokedAt === null && !keyOf.has(k.sandboxId)) keyOf.set(k.sandboxId, k.masked);
      } else {
        for (const [sandboxId, masked] of this.d.keys.maskedSandboxKeys(nsId)) if (!keyOf.has(sandboxId)) keyOf.set(sandboxId, masked);
      }
    }
    return rows.map((s) => {
      if (s.projectId && !projects.has(s.projectId)) projects.set(s.projectId, this.d.projects.get(s.projectId)?.name ?? null);
      const v: SandboxView = {
        id: s.id, name: s.name, namespace: names.get(s.namespaceId) ?? s.namespaceId, project: s.projectId ? (projects.get(s.projectId) ?? null) : null, status: s.status, runtime: s.runtime, network: s.network,
        limits: once(limitViews, s.limits, (l) => Object.freeze(limitsToView(l))), env: once(envNames, s.env, (e) => Object.freeze(Object.keys(e).sort()) as string[]), ...(s.secrets.length ? { secrets: s.secrets } : {}), workspace: s.workspace,
        allow_nested_namespaces: s.allowNestedNamespaces, seccomp: s.seccomp === null ? 'default' : 'custom', api_key: keyOf.get(s.id) ?? '',
        created_at: s.createdAt, started_at: s.startedAt, expires_at: s.expiresAt, idle_expires_at: s.idleExpiresAt, last_activity_at: s.lastActivityAt,
        host: s.host,
      };
      // usage is read from this host's cgroups: only for the sandboxes this host runs
      if (opts.usage && s.status === 'running' && this.d.sandboxes.isOwn(s)) v.usage = this.usage(s);
      return v;
    });
  }

  /** What the sandbox's cgroups count now (the controllers it has, whatever limits it asked for). */
  private usage(s: Sandbox): NonNullable<SandboxView['usage']> {
    const u = readUsage(usageFiles(this.d.host.cgroups, s.id));
    return { memory_bytes: u.memoryBytes, cpu_seconds: u.cpuSeconds, pids: u.pids };
  }
}
