/** The daemon's own Prometheus metrics (the HTTP server adds request counts and latency). */
import type { Registry } from './prometheus.js';
import { SANDBOX_STATUSES, type SandboxRepo } from '../store/repos/index.js';

export interface DaemonMetrics {
  exec(seconds: number, oomKilled: boolean): void;
}

export function createDaemonMetrics(registry: Registry, sandboxes: SandboxRepo): DaemonMetrics {
  registry.gauge('bkg_sandboxes', 'Sandboxes by state.', ['state'], () =>
    SANDBOX_STATUSES.map((state) => ({ labels: { state }, value: sandboxes.list(null, { status: state }).length })),
  );
  const execs = registry.counter('bkg_exec_total', 'Commands executed in sandboxes.');
  const latency = registry.histogram('bkg_exec_duration_seconds', 'Exec duration in seconds.', [], [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300]);
  const ooms = registry.counter('bkg_oom_kills_total', 'Execs during which the sandbox hit its memory limit.');
  return {
    exec(seconds, oomKilled) {
      execs.inc();
      latency.observe(undefined, seconds);
      if (oomKilled) ooms.inc();
    },
  };
}
