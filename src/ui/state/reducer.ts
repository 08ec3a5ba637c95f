/**
 * The dashboard's one reducer: the snapshot from REST, then the event stream, then what the user's
 * actions return. Pure: (state, action) → state, nothing read from outside (the clock comes in the
 * actions), so every transition is a unit test.
 */
import type { DaemonEvent, StreamGap, StreamReady, UsageSample } from '../../api/schema/events.js';
import type { AuditVerifyResult } from '../../client/types.js';
import { uiReducer, type UiAction } from './ui.js';
import {
  AUDIT_TAIL, EXECS, HISTORY,
  type AccessRequest, type ApiKeyView, type AuditEventView, type Change, type DashboardState, type ExecLine, type ExecutionView, type ModelManifest,
  type Role, type SandboxRow, type SandboxView, type Section,
} from './types.js';

/** A part of the snapshot as it came back: its items, or why not. */
export type Fetched<T> = { ok: true; items: T[] } | { ok: false; forbidden: boolean; message: string };

export interface Snapshot {
  at: number;
  role: Role;
  sandboxes: SandboxView[];
  keys: Fetched<ApiKeyView>;
  audit: Fetched<AuditEventView>;
  models: Fetched<ModelManifest>;
  requests: Fetched<AccessRequest>;
}

export type DataAction =
  | { type: 'snapshot'; snapshot: Snapshot }
  | { type: 'event'; event: DaemonEvent }
  | { type: 'ready'; ready: StreamReady }
  | { type: 'gap'; gap: StreamGap }
  | { type: 'disconnected'; error: string | null }
  | { type: 'sandbox'; view: SandboxView }
  | { type: 'models'; models: Fetched<ModelManifest> }
  | { type: 'detail'; id: string }
  | { type: 'logs'; id: string; logs: Fetched<ExecutionView> }
  | { type: 'changes'; id: string; changes: Fetched<Change> }
  | { type: 'verifying' }
  | { type: 'verified'; result: AuditVerifyResult | { error: string } }
  | { type: 'key'; key: ApiKeyView }
  | { type: 'request'; request: AccessRequest }
  | { type: 'tick'; now: number };

export type Action = DataAction | UiAction;

export function initialState(endpoint: string, now: number, opts: { sort?: DashboardState['ui']['sort']; filter?: string } = {}): DashboardState {
  const loading = { status: 'loading' as const, items: [] };
  return {
    role: 'admin',
    connection: { status: 'connecting', endpoint, run: null, lastId: 0, error: null },
    sandboxes: {},
    keys: loading,
    audit: loading,
    verify: null,
    models: loading,
    requests: loading,
    pulls: {},
    detail: null,
    now,
    ui: {
      view: 'sandboxes',
      selected: { sandboxes: null, keys: null, requests: null },
      auditScroll: 0,
      sort: opts.sort ?? { column: 'name', desc: false },
      filter: opts.filter ?? '',
      filtering: false,
      detail: true,
      overlay: null,
      flash: null,
    },
  };
}

function section<T>(f: Fetched<T>): Section<T> {
  if (f.ok) return { status: 'ok', items: f.items };
  return f.forbidden ? { status: 'forbidden', items: [], message: f.message } : { status: 'error', items: [], message: f.message };
}

function rowFromView(v: SandboxView, old: SandboxRow | undefined): SandboxRow {
  const running = v.status === 'running';
  return {
    id: v.id,
    name: v.name,
    namespace: v.namespace,
    status: v.status,
    view: v,
    started_at: v.started_at,
    idle_expires_at: v.idle_expires_at,
    expires_at: v.expires_at,
    usage: running ? (old?.usage ?? (v.usage ? { cpu_percent: null, memory_bytes: v.usage.memory_bytes, memory_limit_bytes: v.limits.memory_mb ? v.limits.memory_mb * 1024 * 1024 : null, pids: v.usage.pids, pids_limit: v.limits.pids ?? null, disk_bytes: null, disk_limit_bytes: null } : null)) : null,
    cpu: old?.cpu ?? [],
    memory: old?.memory ?? [],
    execs: old?.execs ?? [],
    note: old?.note ?? null,
  };
}

function blankRow(ref: { id: string; name: string; namespace: string; status: string }): SandboxRow {
  return { ...ref, view: null, started_at: null, idle_expires_at: null, expires_at: null, usage: null, cpu: [], memory: [], execs: [], note: null };
}

const push = (xs: number[], v: number): number[] => (xs.length >= HISTORY ? [...xs.slice(xs.length - HISTORY + 1), v] : [...xs, v]);

function applySample(row: SandboxRow, s: UsageSample): SandboxRow {
  return {
    ...row,
    status: 'running',
    started_at: s.started_at ?? row.started_at,
    idle_expires_at: s.idle_expires_at,
    expires_at: s.expires_at,
    usage: {
      cpu_percent: s.cpu_percent, memory_bytes: s.memory_bytes, memory_limit_bytes: s.memory_limit_bytes,
      pids: s.pids, pids_limit: s.pids_limit, disk_bytes: s.disk_bytes, disk_limit_bytes: s.disk_limit_bytes,
    },
    cpu: push(row.cpu, s.cpu_percent ?? 0),
    memory: push(row.memory, s.memory_bytes ?? 0),
  };
}

/** Put one command at its place in a sandbox's recent commands (newest first, one line per exec id). */
function withExec(execs: ExecLine[], line: ExecLine): ExecLine[] {
  const rest = execs.filter((e) => e.id !== line.id);
  return [line, ...rest].sort((a, b) => Date.parse(b.at) - Date.parse(a.at)).slice(0, EXECS);
}

function fromExecution(e: ExecutionView): ExecLine {
  // the logs list a command still running without its end
  const running = e.duration_ms === null && e.exit_code === null && e.signal === null && !e.timed_out;
  return { id: e.id, cmd: e.cmd, at: e.started_at, running, exit_code: e.exit_code, signal: e.signal, timed_out: e.timed_out, oom_killed: e.oom_killed, duration_ms: e.duration_ms };
}

function upsert<T extends { id: string }>(s: Section<T>, item: T): Section<T> {
  if (s.status !== 'ok') return s;
  const i = s.items.findIndex((x) => x.id === item.id);
  return { ...s, items: i === -1 ? [...s.items, item] : s.items.map((x, j) => (j === i ? item : x)) };
}

function onEvent(state: DashboardState, e: DaemonEvent): DashboardState {
  const at = Date.parse(e.at);
  const next: DashboardState = {
    ...state,
    connection: { ...state.connection, lastId: Math.max(state.connection.lastId, e.id) },
    now: Number.isNaN(at) ? state.now : Math.max(state.now, at),
  };
  switch (e.type) {
    case 'usage': {
      const sandboxes = { ...next.sandboxes };
      for (const s of e.samples) sandboxes[s.sandbox.id] = applySample(sandboxes[s.sandbox.id] ?? blankRow(s.sandbox), s);
      return { ...next, sandboxes };
    }
    case 'sandbox.deleted': {
      const { [e.sandbox.id]: _gone, ...sandboxes } = next.sandboxes;
      return { ...next, sandboxes, detail: next.detail?.id === e.sandbox.id ? null : next.detail };
    }
    case 'sandbox.created': case 'sandbox.started': case 'sandbox.stopped': case 'sandbox.expired': case 'sandbox.oom_killed': case 'sandbox.failed': {
      const old = next.sandboxes[e.sandbox.id] ?? blankRow(e.sandbox);
      const running = e.sandbox.status === 'running';
      const note = e.type === 'sandbox.oom_killed' ? 'OOM-killed' : e.type === 'sandbox.failed' ? `failed${e.reason ? `: ${e.reason}` : ''}` : e.type === 'sandbox.expired' ? 'expired' : running ? null : old.note;
      const row: SandboxRow = {
        ...old, name: e.sandbox.name, namespace: e.sandbox.namespace, status: e.sandbox.status, note,
        ...(running ? {} : { usage: null, idle_expires_at: null }),
        ...(e.type === 'sandbox.started' ? { started_at: e.at, cpu: [], memory: [] } : {}),
      };
      return { ...next, sandboxes: { ...next.sandboxes, [row.id]: row } };
    }
    case 'exec.started': case 'exec.finished': {
      const old = next.sandboxes[e.sandbox.id] ?? blankRow(e.sandbox);
      const line: ExecLine = e.type === 'exec.started'
        ? { id: e.exec.id, cmd: e.exec.cmd, at: e.at, running: true, exit_code: null, signal: null, timed_out: false, oom_killed: false, duration_ms: null }
        : {
            id: e.exec.id, cmd: e.exec.cmd, running: false, exit_code: e.exec.exit_code, signal: e.exec.signal, timed_out: e.exec.timed_out, oom_killed: e.exec.oom_killed, duration_ms: e.exec.duration_ms,
            at: old.execs.find((x) => x.id === e.exec.id)?.at ?? new Date(at - e.exec.duration_ms).toISOString(),
          };
      return { ...next, sandboxes: { ...next.sandboxes, [old.id]: { ...old, execs: withExec(old.execs, line) } } };
    }
    case 'audit': {
      if (next.audit.status !== 'ok' || next.audit.items.some((a) => a.seq === e.event.seq && a.hash === e.event.hash)) return next;
      const items = [...next.audit.items, e.event];
      return { ...next, audit: { status: 'ok', items: items.length > AUDIT_TAIL ? items.slice(items.length - AUDIT_TAIL) : items } };
    }
    case 'model.pull':
      return { ...next, pulls: { ...next.pulls, [e.job.id]: e.job } };
    case 'model.access_request':
      return { ...next, requests: upsert(next.requests, e.request) };
    case 'network.denied': // refused egress connections: the audit tail shows them (network.denied rows)
      return next;
  }
}

export function reduce(state: DashboardState, a: Action): DashboardState {
  switch (a.type) {
    case 'snapshot': {
      const s = a.snapshot;
      const sandboxes: Record<string, SandboxRow> = {};
      for (const v of s.sandboxes) sandboxes[v.id] = rowFromView(v, state.sandboxes[v.id]);
      return {
        ...state,
        role: s.role,
        sandboxes,
        keys: section(s.keys),
        audit: section(s.audit),
        models: section(s.models),
        requests: section(s.requests),
        now: Math.max(state.now, s.at),
        detail: state.detail && sandboxes[state.detail.id] ? state.detail : null,
      };
    }
    case 'event':
      return onEvent(state, a.event);
    case 'ready':
      return {
        ...state,
        connection: {
          ...state.connection, status: 'live', error: null, run: a.ready.run,
          // a new daemon run numbers from 1 again: follow it from its newest event
          lastId: state.connection.run === a.ready.run ? state.connection.lastId : a.ready.last_id,
        },
      };
    case 'gap':
      // what was missed is gone: the controller fetches a new snapshot; the stream goes on live
      return { ...state, ui: { ...state.ui, flash: { text: `missed events (${a.gap.message}): reloaded`, error: false } } };
    case 'disconnected':
      return { ...state, connection: { ...state.connection, status: 'reconnecting', error: a.error } };
    case 'sandbox':
      return { ...state, sandboxes: { ...state.sandboxes, [a.view.id]: rowFromView(a.view, state.sandboxes[a.view.id]) } };
    case 'models':
      return { ...state, models: section(a.models) };
    case 'detail':
      return { ...state, detail: { id: a.id, logs: { status: 'loading' }, changes: { status: 'loading', items: [] } } };
    case 'logs': {
      if (state.detail?.id !== a.id) return state;
      const row = state.sandboxes[a.id];
      const detail = { ...state.detail, logs: a.logs.ok ? { status: 'ok' as const } : { status: 'error' as const, message: a.logs.message } };
      if (!row || !a.logs.ok) return { ...state, detail };
      let execs = row.execs;
      for (const e of a.logs.items) if (!execs.some((x) => x.id === e.id)) execs = withExec(execs, fromExecution(e));
      return { ...state, detail, sandboxes: { ...state.sandboxes, [a.id]: { ...row, execs } } };
    }
    case 'changes':
      if (state.detail?.id !== a.id) return state;
      return { ...state, detail: { ...state.detail, changes: a.changes.ok ? { status: 'ok', items: a.changes.items } : { status: 'error', items: [], message: a.changes.message } } };
    case 'verifying':
      return { ...state, verify: { status: 'running' } };
    case 'verified':
      return { ...state, verify: 'error' in a.result ? { status: 'error', message: a.result.error } : { status: 'done', result: a.result } };
    case 'key':
      return { ...state, keys: upsert(state.keys, a.key) };
    case 'request':
      return { ...state, requests: upsert(state.requests, a.request) };
    case 'tick':
      return { ...state, now: Math.max(state.now, a.now) };
    default:
      return uiReducer(state, a);
  }
}
