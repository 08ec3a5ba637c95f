/** Sandbox records: what was asked for, and the runtime state the daemon tracks for it. */
import { BkgError } from '../../api/errors.js';
import type { SecretRef } from '../../api/secrets.js';
import type { NetworkMode } from '../../runtime/definition.js';
import type { Limits } from '../../runtime/limits.js';
import type { Db, Statement } from '../db.js';
import type { SandboxRepository } from '../repositories.js';
import { constraintKind } from '../sqlite-errors.js';
import { SANDBOX_STATUSES, type NamespaceUsageCounts, type NewSandbox, type RuntimeInfo, type Sandbox, type SandboxStatus } from '../types.js';

export { SANDBOX_STATUSES } from '../types.js';
export type { NamespaceUsageCounts, NewSandbox, RuntimeInfo, Sandbox, SandboxStatus } from '../types.js';

interface Row {
  id: string;
  name: string;
  namespace_id: string;
  project_id: string | null;
  runtime: string;
  limits_json: string;
  network: string;
  env_json: string;
  workspace: string | null;
  allow_nested_namespaces: number;
  seccomp_json: string | null;
  /** Absent in a row from a host older than the secrets migration. */
  secrets_json?: string;
  status: SandboxStatus;
  pid: number | null;
  helper_pid: number | null;
  helper_start_time: string | null;
  scratch_fd: number | null;
  started_at: string | null;
  expires_at: string | null;
  idle_expires_at: string | null;
  last_activity_at: string | null;
  created_at: string;
  host: string;
}

type ParseJson = (json: string) => unknown;

/**
 * The columns every read selects, in this order: rows are read as arrays (better-sqlite3's raw
 * mode), which for a list of 1,000 sandboxes takes half the time of a row object per row.
 */
const COLUMNS = [
  'id', 'name', 'namespace_id', 'project_id', 'runtime', 'limits_json', 'network', 'env_json', 'workspace', 'allow_nested_namespaces', 'seccomp_json', 'secrets_json',
  'status', 'pid', 'helper_pid', 'helper_start_time', 'scratch_fd', 'started_at', 'expires_at', 'idle_expires_at', 'last_activity_at', 'created_at', 'host',
] as const satisfies readonly (keyof Row)[];
const SELECT = `SELECT ${COLUMNS.join(', ')} FROM sandboxes`;
/** A row as read: its columns' values in COLUMNS order. */
type RawRow = unknown[];
const C = Object.fromEntries(COLUMNS.map((c, i) => [c, i])) as { readonly [K in (typeof COLUMNS)[number]]: number };

function toSandbox(a: RawRow, parse: ParseJson = JSON.parse): Sandbox {
  const seccomp = a[C.seccomp_json] as string | null;
  const secrets = a[C.secrets_json] as string | null | undefined;
  return {
    id: a[C.id] as string,
    name: a[C.name] as string,
    namespaceId: a[C.namespace_id] as string,
    projectId: a[C.project_id] as string | null,
    runtime: a[C.runtime] as string,
    limits: parse(a[C.limits_json] as string) as Limits,
    network: a[C.network] as NetworkMode,
    env: parse(a[C.env_json] as string) as Record<string, string>,
    workspace: a[C.workspace] as string | null,
    allowNestedNamespaces: a[C.allow_nested_namespaces] === 1,
    seccomp: seccomp === null ? null : (JSON.parse(seccomp) as Record<string, unknown>),
    secrets: secrets ? (parse(secrets) as SecretRef[]) : [],
    status: a[C.status] as SandboxStatus,
    pid: a[C.pid] as number | null,
    helperPid: a[C.helper_pid] as number | null,
    helperStartTime: a[C.helper_start_time] as string | null,
    scratchFd: a[C.scratch_fd] as number | null,
    startedAt: a[C.started_at] as string | null,
    expiresAt: a[C.expires_at] as string | null,
    idleExpiresAt: a[C.idle_expires_at] as string | null,
    lastActivityAt: a[C.last_activity_at] as string | null,
    createdAt: a[C.created_at] as string,
    host: a[C.host] as string,
  };
}

/** A row object (one this repository writes, or another host's copy) in COLUMNS order; columns a host older than one of our migrations lacks are null. */
function rawOf(row: Partial<Row>): RawRow {
  for (const c of ['id', 'name', 'namespace_id', 'runtime', 'limits_json', 'network', 'env_json', 'status', 'created_at'] as const) {
    if (typeof row[c] !== 'string') throw new Error(`a sandboxes row without its ${c}`);
  }
  return COLUMNS.map((c) => row[c] ?? null);
}

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object') {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

/** A sandboxes row as another host's copy carries it (the fleet database keeps rows whole, as JSON). */
export function sandboxFromRow(row: Record<string, unknown>): Sandbox {
  return toSandbox(rawOf(row as Partial<Row>));
}

const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);

function checkStatus(status: string): asserts status is SandboxStatus {
  if (!(SANDBOX_STATUSES as readonly string[]).includes(status)) {
    throw new BkgError('INVALID_ARGUMENT', `sandbox status must be one of ${SANDBOX_STATUSES.join(', ')}, not "${status}"`);
  }
}

export class SandboxRepo implements SandboxRepository {
  private readonly insertStmt;
  private readonly namespaceNameStmt;
  private readonly getStmt;
  private readonly byIdInStmt;
  private readonly byNameInStmt;
  private readonly listStmt;
  private readonly usageStmt;
  private readonly expiredStmt;
  private readonly statusStmt;
  private readonly runtimeInfoStmt;
  private readonly touchStmt;
  private readonly touchIdleStmt;
  private readonly deleteStmt;
  private readonly guardedInsert;
  private readonly updateOne;

  /** `hostId`: this host; its sandboxes are the ones it runs (others' arrive by fleet sync). */
  constructor(db: Db, private readonly now: () => Date = () => new Date(), private readonly hostId = '') {
    this.insertStmt = db.prepare(
      `INSERT INTO sandboxes (id, name, namespace_id, project_id, runtime, limits_json, network, env_json, workspace, allow_nested_namespaces, seccomp_json, secrets_json,
         status, pid, helper_pid, started_at, expires_at, idle_expires_at, last_activity_at, created_at, host)
       VALUES (@id, @name, @namespace_id, @project_id, @runtime, @limits_json, @network, @env_json, @workspace, @allow_nested_namespaces, @seccomp_json, @secrets_json,
         @status, @pid, @helper_pid, @started_at, @expires_at, @idle_expires_at, @last_activity_at, @created_at, @host)`,
    );
    this.namespaceNameStmt = db.prepare('SELECT name FROM namespaces WHERE id = ?');
    this.getStmt = db.prepare(`${SELECT} WHERE id = ?`).raw();
    this.byIdInStmt = db.prepare(`${SELECT} WHERE id = ? AND (? IS NULL OR namespace_id = ?)`).raw();
    this.byNameInStmt = db.prepare(`${SELECT} WHERE name = ? AND (? IS NULL OR namespace_id = ?) ORDER BY created_at, id LIMIT 2`).raw();
    this.listStmt = db.prepare(`${SELECT} WHERE (? IS NULL OR namespace_id = ?) AND (? IS NULL OR status = ?) AND (? IS NULL OR host = ?) ORDER BY created_at, id`).raw();
    this.usageStmt = db.prepare(
      `SELECT count(*) AS sandboxes, coalesce(sum(status = 'running'), 0) AS running,
         coalesce(sum(CASE WHEN status = 'running' THEN json_extract(limits_json, '$.memoryBytes') END), 0) AS memory_bytes,
         coalesce(sum(CASE WHEN status = 'running' THEN json_extract(limits_json, '$.pids') END), 0) AS pids
       FROM sandboxes WHERE namespace_id = ?`,
    );
    this.expiredStmt = db.prepare(
      `${SELECT} WHERE status = 'running' AND host = ?
         AND ((expires_at IS NOT NULL AND expires_at <= ?) OR (idle_expires_at IS NOT NULL AND idle_expires_at <= ?))
       ORDER BY created_at, id`,
    ).raw();
    this.statusStmt = db.prepare('UPDATE sandboxes SET status = ? WHERE id = ?');
    this.runtimeInfoStmt = db.prepare(
      'UPDATE sandboxes SET pid = ?, helper_pid = ?, helper_start_time = ?, scratch_fd = ?, started_at = ?, expires_at = ? WHERE id = ?',
    );
    this.touchStmt = db.prepare('UPDATE sandboxes SET last_activity_at = ? WHERE id = ?');
    this.touchIdleStmt = db.prepare('UPDATE sandboxes SET last_activity_at = ?, idle_expires_at = ? WHERE id = ?');
    this.deleteStmt = db.prepare('DELETE FROM sandboxes WHERE id = ?');
    this.guardedInsert = db.transaction((input: NewSandbox, admit: (usage: NamespaceUsageCounts) => void): Sandbox => {
      admit(this.usage(input.namespaceId));
      return this.insert(input);
    });
    this.updateOne = db.transaction((id: string, stmt: Statement, params: unknown[]): Sandbox => {
      if (stmt.run(...params).changes === 0) {
        throw new BkgError('NOT_FOUND', `sandbox ${id} does not exist`, { details: { id } });
      }
      return toSandbox(this.getStmt.get(id) as RawRow);
    });
  }

  /**
   * Record a new sandbox. A name already used in its namespace is a CONFLICT naming the name.
   * `admit` sees the namespace's usage in the same transaction as the insert, so a quota it
   * checks holds however many creates race (it throws to refuse).
   */
  insert(input: NewSandbox, admit?: (usage: NamespaceUsageCounts) => void): Sandbox {
    if (admit) return this.guardedInsert.immediate(input, admit);
    const status = input.status ?? 'created';
    checkStatus(status);
    const row: Row = {
      id: input.id,
      name: input.name,
      namespace_id: input.namespaceId,
      project_id: input.projectId ?? null,
      runtime: input.runtime,
      limits_json: JSON.stringify(input.limits),
      network: input.network,
      env_json: JSON.stringify(input.env ?? {}),
      workspace: input.workspace ?? null,
      allow_nested_namespaces: input.allowNestedNamespaces ? 1 : 0,
      seccomp_json: input.seccomp ? JSON.stringify(input.seccomp) : null,
      secrets_json: JSON.stringify(input.secrets ?? []),
      status,
      pid: null,
      helper_pid: null,
      helper_start_time: null,
      scratch_fd: null,
      started_at: null,
      expires_at: iso(input.expiresAt),
      idle_expires_at: iso(input.idleExpiresAt),
      last_activity_at: null,
      created_at: this.now().toISOString(),
      host: this.hostId,
    };
    try {
      this.insertStmt.run(row);
    } catch (err) {
      throw this.insertError(err, input);
    }
    return toSandbox(rawOf(row));
  }

  private insertError(err: unknown, input: NewSandbox): unknown {
    switch (constraintKind(err)) {
      case 'unique': {
        const ns = this.namespaceNameStmt.get(input.namespaceId) as { name: string } | undefined;
        return new BkgError('CONFLICT', `a sandbox named "${input.name}" already exists in namespace "${ns?.name ?? input.namespaceId}"`, {
          hint: 'Pick another name, or delete the existing sandbox first.',
          details: { name: input.name, namespaceId: input.namespaceId },
          cause: err,
        });
      }
      case 'primarykey':
        return new BkgError('CONFLICT', `a sandbox with id ${input.id} already exists`, { details: { id: input.id }, cause: err });
      case 'foreignkey':
        return new BkgError('NOT_FOUND', `namespace ${input.namespaceId}${input.projectId ? ` or project ${input.projectId}` : ''} does not exist`, {
          details: { namespaceId: input.namespaceId, projectId: input.projectId ?? null },
          cause: err,
        });
      default:
        return err;
    }
  }

  /** Whether this host runs the sandbox (others' rows arrive by fleet sync). */
  isOwn(s: Pick<Sandbox, 'host'>): boolean {
    return s.host === this.hostId;
  }

  get(id: string): Sandbox | null {
    const r = this.getStmt.get(id) as RawRow | undefined;
    return r ? toSandbox(r) : null;
  }

  /**
   * Find a sandbox by id, else by name, within `namespaceId`; null namespace (admin) searches all
   * namespaces. A name shared by sandboxes of several namespaces is refused as ambiguous when
   * searching them all; an id always wins over a name. Null when nothing (visible) matches.
   */
  getByIdOrName(namespaceId: string | null, idOrName: string): Sandbox | null {
    const byId = this.byIdInStmt.get(idOrName, namespaceId, namespaceId) as RawRow | undefined;
    if (byId) return toSandbox(byId);
    const byName = this.byNameInStmt.all(idOrName, namespaceId, namespaceId) as RawRow[];
    if (byName.length > 1) {
      throw new BkgError('INVALID_ARGUMENT', `sandbox name "${idOrName}" is used in several namespaces`, {
        hint: 'Pass the sandbox id instead of its name.',
        details: { name: idOrName },
      });
    }
    return byName[0] ? toSandbox(byName[0]) : null;
  }

  /** This host's sandboxes (every host's with `allHosts`) of one namespace, or of all namespaces for null; oldest first. */
  list(namespaceId: string | null, opts: { status?: SandboxStatus; allHosts?: boolean } = {}): Sandbox[] {
    const host = opts.allHosts ? null : this.hostId;
    const rows = this.listStmt.all(namespaceId, namespaceId, opts.status ?? null, opts.status ?? null, host, host) as RawRow[];
    // most rows repeat the same limits, env and secrets: each distinct text is parsed once per list (and frozen, being shared)
    const parsed = new Map<string, unknown>();
    const parse: ParseJson = (json) => {
      let v = parsed.get(json);
      if (v === undefined) parsed.set(json, (v = deepFreeze(JSON.parse(json))));
      return v;
    };
    return rows.map((r) => toSandbox(r, parse));
  }

  /** How many sandboxes a namespace has on every host of the fleet (as far as this host knows), how many run, and what the running ones' limits add up to. */
  usage(namespaceId: string): NamespaceUsageCounts {
    const r = this.usageStmt.get(namespaceId) as { sandboxes: number; running: number; memory_bytes: number; pids: number };
    return { sandboxes: r.sandboxes, running: r.running, memoryBytes: r.memory_bytes, pids: r.pids };
  }

  /** This host's running sandboxes whose wall-clock or idle deadline is at or before `now`. */
  listExpired(now: Date): Sandbox[] {
    const t = now.toISOString();
    return (this.expiredStmt.all(this.hostId, t, t) as RawRow[]).map((r) => toSandbox(r));
  }

  updateStatus(id: string, status: SandboxStatus): Sandbox {
    checkStatus(status);
    return this.updateOne(id, this.statusStmt, [status, id]);
  }

  setRuntimeInfo(id: string, info: RuntimeInfo): Sandbox {
    return this.updateOne(id, this.runtimeInfoStmt, [
      info.pid, info.helperPid, info.helperStartTime ?? null, info.scratchFd ?? null, iso(info.startedAt), iso(info.expiresAt), id,
    ]);
  }

  /** Record activity at `at`; also moves the idle deadline when `idleExpiresAt` is given (null clears it). */
  touch(id: string, at: Date = this.now(), idleExpiresAt?: Date | null): Sandbox {
    return idleExpiresAt === undefined
      ? this.updateOne(id, this.touchStmt, [at.toISOString(), id])
      : this.updateOne(id, this.touchIdleStmt, [at.toISOString(), iso(idleExpiresAt), id]);
  }

  /** Delete a sandbox with its executions and its own API keys. False when there was none. */
  delete(id: string): boolean {
    return this.deleteStmt.run(id).changes > 0;
  }
}
