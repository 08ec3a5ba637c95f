/**
 * `bkg dashboard --once`: one snapshot of the sandboxes table for scripts and pipes — a plain
 * table, or JSON with `--json`. CPU% needs two readings, so when something runs it waits (briefly)
 * for the daemon's next usage event; the rest comes from REST. No ink here.
 */
import type { UsageEvent } from '../api/schema/events.js';
import type { DaemonClient } from '../client/daemon-client.js';
import { renderTable } from '../cli/format.js';
import type { OpenEventStream } from './data/live.js';
import { initialState, reduce } from './state/reducer.js';
import { visibleSandboxes } from './state/select.js';
import type { DashboardState } from './state/types.js';
import { cells, COLUMNS, HEADERS } from './table.js';

/** How long --once waits for a usage event (the daemon samples every second). */
export const USAGE_WAIT_MS = 2500;

/** The next usage event, or null when none comes in time (or the stream cannot be opened). */
export function nextUsage(open: OpenEventStream, client: DaemonClient, waitMs = USAGE_WAIT_MS): Promise<UsageEvent | null> {
  return new Promise((resolve) => {
    let stream: { close(): void } | null = null;
    const done = (u: UsageEvent | null): void => {
      clearTimeout(timer);
      stream?.close();
      resolve(u);
    };
    const timer = setTimeout(() => done(null), waitMs);
    try {
      stream = open(client.endpoint, { types: ['usage'] }, {
        onEvent: (e) => {
          if (e.type === 'usage') done(e);
        },
        onClose: () => done(null),
      });
    } catch {
      done(null);
    }
  });
}

/** The row of --once --json: what the table shows, as numbers and times. */
export function jsonRows(s: DashboardState): Record<string, unknown>[] {
  return visibleSandboxes(s).map((r) => ({
    id: r.id,
    name: r.name,
    namespace: r.namespace,
    status: r.status,
    runtime: r.view?.runtime ?? null,
    cpu_percent: r.usage?.cpu_percent ?? null,
    memory_bytes: r.usage?.memory_bytes ?? null,
    memory_limit_bytes: r.usage?.memory_limit_bytes ?? (r.view?.limits.memory_mb ? r.view.limits.memory_mb * 1024 * 1024 : null),
    pids: r.usage?.pids ?? null,
    pids_limit: r.usage?.pids_limit ?? r.view?.limits.pids ?? null,
    disk_bytes: r.usage?.disk_bytes ?? null,
    started_at: r.status === 'running' ? r.started_at : null,
    idle_expires_at: r.status === 'running' ? r.idle_expires_at : null,
    expires_at: r.expires_at,
  }));
}

export function onceTable(s: DashboardState): string {
  const rows = visibleSandboxes(s).map((r) => {
    const c = cells(r, s.now);
    return COLUMNS.map((k) => c[k]);
  });
  return renderTable(COLUMNS.map((k) => HEADERS[k]), rows);
}

export async function once(client: DaemonClient, open: OpenEventStream, opts: { json: boolean; sort?: DashboardState['ui']['sort']; filter?: string }): Promise<number> {
  const sandboxes = await client.listSandboxes();
  const usage = sandboxes.some((v) => v.status === 'running') ? await nextUsage(open, client) : null;
  const now = Date.now();
  let s = initialState(client.endpoint.url, now, { ...(opts.sort ? { sort: opts.sort } : {}), ...(opts.filter ? { filter: opts.filter } : {}) });
  s = reduce(s, { type: 'snapshot', snapshot: { at: now, role: 'admin', sandboxes, keys: { ok: true, items: [] }, audit: { ok: true, items: [] }, models: { ok: true, items: [] }, requests: { ok: true, items: [] } } });
  // a sandbox that stopped between the list and the sample keeps the list's word; one that started shows its usage
  if (usage) s = reduce(s, { type: 'event', event: { ...usage, samples: usage.samples.filter((x) => s.sandboxes[x.sandbox.id]) } });
  s = { ...s, now };
  if (opts.json) process.stdout.write(`${JSON.stringify({ at: new Date(now).toISOString(), sandboxes: jsonRows(s) }, null, 2)}\n`);
  else process.stdout.write(onceTable(s));
  return 0;
}
