/** What the views show, derived from the state: the sorted, filtered sandboxes; the selected row of each view. */
import type { AccessRequest, ApiKeyView, DashboardState, SandboxRow, SortColumn } from './types.js';

const STATE_ORDER: Record<string, number> = { running: 0, created: 1, stopped: 2, failed: 3 };

function uptimeOf(r: SandboxRow, now: number): number {
  if (r.status !== 'running' || !r.started_at) return -1;
  return now - Date.parse(r.started_at);
}

function compare(column: SortColumn, now: number): (a: SandboxRow, b: SandboxRow) => number {
  switch (column) {
    case 'name': return (a, b) => a.name.localeCompare(b.name);
    case 'namespace': return (a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name);
    case 'state': return (a, b) => (STATE_ORDER[a.status] ?? 9) - (STATE_ORDER[b.status] ?? 9) || a.name.localeCompare(b.name);
    // the busiest first: numbers sort descending by default (see DEFAULT_DESC)
    case 'cpu': return (a, b) => (a.usage?.cpu_percent ?? -1) - (b.usage?.cpu_percent ?? -1) || b.name.localeCompare(a.name);
    case 'memory': return (a, b) => (a.usage?.memory_bytes ?? -1) - (b.usage?.memory_bytes ?? -1) || b.name.localeCompare(a.name);
    case 'pids': return (a, b) => (a.usage?.pids ?? -1) - (b.usage?.pids ?? -1) || b.name.localeCompare(a.name);
    case 'uptime': return (a, b) => uptimeOf(a, now) - uptimeOf(b, now) || b.name.localeCompare(a.name);
  }
}

/** Columns whose natural order is largest first. */
export const DEFAULT_DESC: Record<SortColumn, boolean> = { name: false, namespace: false, state: false, cpu: true, memory: true, pids: true, uptime: true };

/** Does a row match the filter? Every word of it appears in the name, namespace, state or runtime. */
export function matches(r: SandboxRow, filter: string): boolean {
  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  const hay = `${r.name} ${r.namespace} ${r.status} ${r.view?.runtime ?? ''}`.toLowerCase();
  return words.every((w) => hay.includes(w));
}

/** The sandboxes as the table shows them. */
export function visibleSandboxes(s: DashboardState): SandboxRow[] {
  const { column, desc } = s.ui.sort;
  const cmp = compare(column, s.now);
  return Object.values(s.sandboxes).filter((r) => matches(r, s.ui.filter)).sort((a, b) => (desc ? -cmp(a, b) : cmp(a, b)));
}

/** The selected sandbox: the one chosen if still shown, else the first shown. */
export function selectedSandbox(s: DashboardState, rows: SandboxRow[] = visibleSandboxes(s)): SandboxRow | null {
  return rows.find((r) => r.id === s.ui.selected.sandboxes) ?? rows[0] ?? null;
}

/** Keys, live ones first, newest first. */
export function visibleKeys(s: DashboardState): ApiKeyView[] {
  return [...s.keys.items].sort((a, b) => Number(a.revoked_at !== null) - Number(b.revoked_at !== null) || b.created_at.localeCompare(a.created_at));
}

export function selectedKey(s: DashboardState, keys: ApiKeyView[] = visibleKeys(s)): ApiKeyView | null {
  return keys.find((k) => k.id === s.ui.selected.keys) ?? keys[0] ?? null;
}

/** Access requests, pending first, newest first. */
export function visibleRequests(s: DashboardState): AccessRequest[] {
  return [...s.requests.items].sort((a, b) => Number(a.status !== 'pending') - Number(b.status !== 'pending') || b.created_at.localeCompare(a.created_at));
}

export function selectedRequest(s: DashboardState, reqs: AccessRequest[] = visibleRequests(s)): AccessRequest | null {
  return reqs.find((r) => r.id === s.ui.selected.requests) ?? reqs[0] ?? null;
}

/** What this key may do to sandboxes (readonly keys: nothing; a sandbox's own key: run commands in it). */
export function canChange(s: DashboardState): boolean {
  return s.role === 'admin' || s.role === 'namespace';
}

export function canExec(s: DashboardState): boolean {
  return s.role !== 'readonly';
}
