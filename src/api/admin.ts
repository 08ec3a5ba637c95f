/** Response shapes of the daemon's key, audit, log and daemon routes: the wire contract of CLI and daemon. */

export type KeyRole = 'admin' | 'namespace' | 'readonly';

export interface ApiKeyView {
  id: string;
  name: string;
  role: KeyRole;
  namespace: string | null;
  /** Set for a sandbox's own key. */
  sandbox_id?: string | null;
  masked: string;
  created_at: string;
  revoked_at: string | null;
  last_used_at: string | null;
}

export interface CreateKeyRequest {
  name: string;
  role: KeyRole;
  namespace?: string;
}

export interface KeyWithSecret {
  key: ApiKeyView;
  /** The full key: shown only here, once. */
  secret: string;
}

export interface ExecutionView {
  id: string;
  cmd: string[];
  exit_code: number | null;
  signal: number | string | null;
  timed_out: boolean;
  oom_killed: boolean;
  duration_ms: number | null;
  started_at: string;
  actor: string;
}

export interface AuditEventView {
  seq: number;
  at: string;
  actor: string;
  namespace: string | null;
  action: string;
  target: string | null;
  outcome: 'ok' | 'denied' | 'error';
  details: Record<string, unknown> | null;
}

export interface AuditQuery {
  /** An ISO time, or a duration back from now such as 1h (the daemon resolves it). */
  since?: string;
  limit?: number;
}

export type AuditVerifyResult = { ok: true; count: number } | { ok: false; count: number; seq: number; reason: string };

export interface DaemonInfo {
  pid: number;
  version: string;
  home: string;
  socket: string;
  port: number | null;
  started_at: string;
}

export interface HealthResult {
  ok: boolean;
  /** Why the daemon is unhealthy (503), e.g. a missing sandbox helper. */
  problems?: string[];
}
