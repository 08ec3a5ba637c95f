/**
 * Usage samples of every sandbox this host runs, every interval, while someone reads them: CPU %
 * over the interval, memory, pids and writable space against their limits, from the cgroups and
 * the scratch layer (runtime/usage.ts). An OOM kill seen between two samples (the oom_kill counter
 * went up) is a sandbox.oom_killed event of its own.
 */
import type { UsageSample } from '../../api/schema/events.js';
import type { Logger } from '../../log.js';
import type { CgroupLayout } from '../../runtime/cgroups.js';
import { readUsage, scratchUsage, usageFiles, type UsageFiles } from '../../runtime/usage.js';
import type { Sandbox, SandboxRepo } from '../../store/repos/index.js';
import type { EventPublisher, ScopedSample } from './publisher.js';

export interface SamplerDeps {
  sandboxes: Pick<SandboxRepo, 'list'>;
  layout: CgroupLayout;
  publish: Pick<EventPublisher, 'ref' | 'usage' | 'sandbox'>;
  intervalMs: number;
  log: Logger;
}

/** What the last sample of a sandbox read (for CPU % and new OOM kills). */
interface Last {
  files: UsageFiles;
  /** The start it belongs to: a sandbox started again has fresh cgroups. */
  startedAt: string | null;
  cpuSeconds: number | null;
  at: number;
  oomKills: number;
}

export class UsageSampler {
  private timer: NodeJS.Timeout | null = null;
  private readonly last = new Map<string, Last>();

  constructor(private readonly d: SamplerDeps) {}

  get running(): boolean {
    return this.timer !== null;
  }

  /** Sample every interval from now on (the first event comes one interval later, with CPU % over it). */
  start(): void {
    if (this.timer) return;
    this.sample(false);
    this.timer = setInterval(() => {
      try {
        this.sample(true);
      } catch (err) {
        this.d.log.error({ err }, 'usage sampling failed');
      }
    }, this.d.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.last.clear();
  }

  /** Read every running sandbox of this host; `publish`: send the usage event (the first read only sets the baselines). */
  sample(publish: boolean): void {
    const now = performance.now();
    const samples: ScopedSample[] = [];
    const seen = new Set<string>();
    for (const s of this.d.sandboxes.list(null, { status: 'running' })) {
      seen.add(s.id);
      samples.push({ sample: this.read(s, now, publish), namespaceId: s.namespaceId });
    }
    for (const id of this.last.keys()) if (!seen.has(id)) this.last.delete(id);
    if (publish) this.d.publish.usage(samples, this.d.intervalMs);
  }

  private read(s: Sandbox, now: number, live: boolean): UsageSample {
    let last = this.last.get(s.id);
    if (!last || last.startedAt !== s.startedAt) {
      // a sandbox first seen while sampling started after the baselines were set: every OOM kill of it is new
      last = { files: usageFiles(this.d.layout, s.id), startedAt: s.startedAt, cpuSeconds: null, at: now, oomKills: live ? 0 : -1 };
      this.last.set(s.id, last);
    }
    const u = readUsage(last.files);
    const cpu = u.cpuSeconds !== null && last.cpuSeconds !== null && now > last.at && u.cpuSeconds >= last.cpuSeconds
      ? Math.round(((u.cpuSeconds - last.cpuSeconds) / ((now - last.at) / 1000)) * 1000) / 10
      : null;
    if (u.oomKills !== null) {
      if (live && last.oomKills >= 0 && u.oomKills > last.oomKills) {
        const n = u.oomKills - last.oomKills;
        this.d.publish.sandbox('sandbox.oom_killed', s, 'daemon', { reason: `${n} process${n === 1 ? '' : 'es'} killed at the memory limit` });
      }
      last.oomKills = u.oomKills;
    }
    last.cpuSeconds = u.cpuSeconds;
    last.at = now;
    const disk = s.helperPid !== null && s.helperStartTime !== null ? scratchUsage({ helperPid: s.helperPid, helperStartTime: s.helperStartTime, scratchFd: s.scratchFd }) : null;
    return {
      sandbox: this.d.publish.ref(s),
      cpu_percent: cpu,
      memory_bytes: u.memoryBytes,
      memory_limit_bytes: s.limits.memoryBytes ?? null,
      pids: u.pids,
      pids_limit: s.limits.pids ?? null,
      disk_bytes: disk?.usedBytes ?? null,
      disk_limit_bytes: disk?.totalBytes ?? s.limits.diskBytes ?? null,
      started_at: s.startedAt,
      idle_expires_at: s.idleExpiresAt,
      expires_at: s.expiresAt,
    };
  }
}
