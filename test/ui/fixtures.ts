/** Data as the daemon sends it (typed by the contract), to drive the dashboard's state and components. */
import type { DaemonEvent, NewEvent, UsageSample } from '../../src/api/schema/events.js';
import type { AccessRequest } from '../../src/api/schema/llm.js';
import type { ApiKeyView, AuditEventView, SandboxView } from '../../src/client/types.js';
import { initialState, reduce, type Action, type Snapshot } from '../../src/ui/state/reducer.js';
import type { DashboardState, Role } from '../../src/ui/state/types.js';

export const T0 = Date.parse('2026-01-01T12:00:00Z');
export const iso = (ms: number): string => new Date(ms).toISOString();
export const MiB = 1024 * 1024;

export function view(name: string, over: Partial<SandboxView> = {}): SandboxView {
  return {
    id: `id-${name}`, name, namespace: 'default', project: null, status: 'running', runtime: 'shell', network: 'none',
    limits: { memory_mb: 256, cpus: 1, pids: 64, disk_mb: 1024, idle_timeout_s: 600 }, env: [], workspace: null, allow_nested_namespaces: false, seccomp: 'default',
    api_key: 'bkg_ab...cd', created_at: iso(T0 - 3_600_000), started_at: iso(T0 - 300_000), expires_at: null, idle_expires_at: iso(T0 + 540_000), last_activity_at: null, host: 'host_1',
    ...over,
  };
}

export function sample(v: SandboxView, over: Partial<UsageSample> = {}): UsageSample {
  return {
    sandbox: { id: v.id, name: v.name, namespace: v.namespace, status: 'running' },
    cpu_percent: 12.5, memory_bytes: 64 * MiB, memory_limit_bytes: 256 * MiB, pids: 3, pids_limit: 64, disk_bytes: 2 * MiB, disk_limit_bytes: 1024 * MiB,
    started_at: v.started_at, idle_expires_at: v.idle_expires_at, expires_at: v.expires_at,
    ...over,
  };
}

let nextId = 1;
/** An event with the next id, `at` seconds after T0. */
export function event(e: NewEvent, atS = 0): DaemonEvent {
  return { ...e, id: nextId++, at: iso(T0 + atS * 1000) } as DaemonEvent;
}

export const usage = (samples: UsageSample[], atS = 0): DaemonEvent => event({ type: 'usage', interval_ms: 1000, samples }, atS);

export function key(name: string, over: Partial<ApiKeyView> = {}): ApiKeyView {
  return { id: `key-${name}`, name, role: 'namespace', namespace: 'default', sandbox_id: null, masked: 'bkg_abcd...wxyz', created_at: iso(T0 - 86_400_000), revoked_at: null, last_used_at: null, ...over };
}

export function audit(seq: number, action: string, over: Partial<AuditEventView> = {}): AuditEventView {
  return { seq, at: iso(T0 + seq * 1000), actor: 'local', namespace: 'default', action, target: 'web', outcome: 'ok', details: null, prev_hash: `h${seq - 1}`, hash: `h${seq}`, ...over };
}

export function request(id: string, over: Partial<AccessRequest> = {}): AccessRequest {
  return { id, model_id: 'tiny', cave_namespace: 'default', requested_by: 'key-ci', status: 'pending', created_at: iso(T0 - 60_000), decided_at: null, decided_by: null, token_id: null, ...over };
}

export function snapshot(sandboxes: SandboxView[], over: Partial<Snapshot> = {}): Snapshot {
  return {
    at: T0, role: 'admin', sandboxes,
    keys: { ok: true, items: [key('ci'), key('admin', { role: 'admin', namespace: null })] },
    audit: { ok: true, items: [audit(1, 'sandbox.create'), audit(2, 'sandbox.start')] },
    models: { ok: true, items: [] },
    requests: { ok: true, items: [request('req-1')] },
    ...over,
  };
}

/** A state after the snapshot and the actions given. */
export function stateOf(sandboxes: SandboxView[], actions: Action[] = [], opts: { role?: Role; snapshot?: Partial<Snapshot> } = {}): DashboardState {
  let s = reduce(initialState('unix:///tmp/bkg.sock', T0), { type: 'snapshot', snapshot: snapshot(sandboxes, { ...(opts.role ? { role: opts.role } : {}), ...opts.snapshot }) });
  for (const a of actions) s = reduce(s, a);
  return s;
}

/** What a readonly key is told when it asks for the keys. */
export const READONLY_REFUSAL = { ok: false as const, forbidden: true, message: 'read-only keys cannot create, list, revoke or rotate API keys' };
