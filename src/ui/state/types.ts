/** What the dashboard knows and shows: plain data, changed only by the pure reducers of this folder. */
import type { AuditEventView, AuditVerifyResult, ApiKeyView, Change, ExecutionView, SandboxView } from '../../client/types.js';
import type { ModelPullEvent } from '../../api/schema/events.js';
import type { AccessRequest, ModelManifest } from '../../api/schema/llm.js';

/** A model download as model.pull events report it. */
export type DownloadJob = ModelPullEvent['job'];

/** What kind of key the dashboard runs with: what it may show and offer. */
export type Role = 'admin' | 'namespace' | 'readonly' | 'sandbox';

/** One recent command of a sandbox (from exec.* events, or its logs). */
export interface ExecLine {
  id: string;
  cmd: string[];
  at: string;
  running: boolean;
  exit_code: number | null;
  signal: number | string | null;
  timed_out: boolean;
  oom_killed: boolean;
  duration_ms: number | null;
}

/** The latest usage sample of a running sandbox. */
export interface LiveUsage {
  cpu_percent: number | null;
  memory_bytes: number | null;
  memory_limit_bytes: number | null;
  pids: number | null;
  pids_limit: number | null;
  disk_bytes: number | null;
  disk_limit_bytes: number | null;
}

export interface SandboxRow {
  id: string;
  name: string;
  namespace: string;
  status: string;
  /** The whole view from REST (null until fetched, for a sandbox first seen in an event). */
  view: SandboxView | null;
  started_at: string | null;
  idle_expires_at: string | null;
  expires_at: string | null;
  usage: LiveUsage | null;
  /** The last samples, oldest first (at most HISTORY). */
  cpu: number[];
  memory: number[];
  /** Newest first (at most EXECS). */
  execs: ExecLine[];
  /** The last lifecycle event that was not a plain start/stop (oom_killed, failed, expired). */
  note: string | null;
}

/** A part of the snapshot an admin view shows: loading, there, refused to this key, or failed. */
export type Section<T> =
  | { status: 'loading'; items: T[] }
  | { status: 'ok'; items: T[] }
  | { status: 'forbidden'; items: T[]; message: string }
  | { status: 'error'; items: T[]; message: string };

/** What the detail pane fetches from REST for the selected sandbox. */
export interface Detail {
  id: string;
  logs: { status: 'loading' | 'ok' | 'error'; message?: string };
  changes: { status: 'loading' | 'ok' | 'error'; items: Change[]; message?: string };
}

export const VIEWS = ['sandboxes', 'keys', 'audit', 'models'] as const;
export type View = (typeof VIEWS)[number];

export const SORT_COLUMNS = ['name', 'namespace', 'state', 'cpu', 'memory', 'pids', 'uptime'] as const;
export type SortColumn = (typeof SORT_COLUMNS)[number];

/** An action waiting for y/n. */
export interface Confirm {
  kind: 'delete' | 'revoke' | 'deny' | 'approve';
  id: string;
  label: string;
}

export interface ExecPrompt {
  sandbox: string;
  input: string;
  running: boolean;
  result: { exit: string; duration_ms: number; output: string[] } | null;
}

export type Overlay = { kind: 'help' } | { kind: 'confirm'; confirm: Confirm } | { kind: 'exec'; exec: ExecPrompt } | null;

export interface Connection {
  status: 'connecting' | 'live' | 'reconnecting';
  endpoint: string;
  run: string | null;
  lastId: number;
  /** Why the stream is down (while reconnecting). */
  error: string | null;
}

export interface UiState {
  view: View;
  /** The selected row of each view (a sandbox id; a key id; an access request id). */
  selected: { sandboxes: string | null; keys: string | null; requests: string | null };
  /** How far the audit tail is scrolled back from the newest (0: following it). */
  auditScroll: number;
  sort: { column: SortColumn; desc: boolean };
  filter: string;
  filtering: boolean;
  /** The detail pane (false: the table takes the whole body). */
  detail: boolean;
  overlay: Overlay;
  flash: { text: string; error: boolean } | null;
}

export interface DashboardState {
  role: Role;
  connection: Connection;
  /** By id. */
  sandboxes: Record<string, SandboxRow>;
  keys: Section<ApiKeyView>;
  /** Oldest first (at most AUDIT_TAIL). */
  audit: Section<AuditEventView>;
  verify: { status: 'running' } | { status: 'done'; result: AuditVerifyResult } | { status: 'error'; message: string } | null;
  models: Section<ModelManifest>;
  requests: Section<AccessRequest>;
  /** Model downloads by id, from model.pull events. */
  pulls: Record<string, DownloadJob>;
  detail: Detail | null;
  /** The clock the times are shown against (the newest event's, or the snapshot's). */
  now: number;
  ui: UiState;
}

/** Samples kept per sandbox for the sparklines; recent commands kept per sandbox; audit events kept. */
export const HISTORY = 120;
export const EXECS = 20;
export const AUDIT_TAIL = 500;

export type { AuditEventView, ApiKeyView, Change, ExecutionView, SandboxView, AccessRequest, ModelManifest };
