/**
 * Sandbox lifecycle behind the API: namespace scoping, persistence, the runtime, audit and metrics.
 * REST and (later) MCP call this; it knows nothing of HTTP.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import type { ExecutionView } from '../api/admin.js';
import { BkgError } from '../api/errors.js';
import { ENV_NAME_PATTERN, EXEC_OUTPUT_CAP, FILE_CAP, type CreateSandboxRequest, type ExecRequest, type ExecResponse, type SandboxView } from '../api/sandboxes.js';
import type { Logger } from '../log.js';
import { join, resolve } from 'node:path';
import { planCgroups } from '../runtime/cgroups.js';
import type { Change } from '../runtime/changes.js';
import type { SandboxDefinition } from '../runtime/definition.js';
import type { HostInfo } from '../runtime/host.js';
import type { ExecResult, PersistentSandboxes, SandboxHandle } from '../runtime/persistent.js';
import type { RunIO } from '../runtime/io.js';
import { loadRuntime, runtimeCommand } from '../runtime/runtimes.js';
import { newSandboxId, validateWorkspace } from '../runtime/runtime.js';
import { compileSeccomp, parseSeccompProfile } from '../runtime/seccomp/index.js';
import type { AuditLog } from '../store/audit.js';
import type { Namespace, NamespaceRepo, ProjectRepo, Sandbox, SandboxRepo, ExecutionRepo } from '../store/repos/index.js';
import type { ApiKeyStore, Principal } from './auth/api-keys.js';
import type { Authorizer } from './auth/authorize.js';
import type { SandboxAsk } from './auth/privileges.js';
import type { Quotas } from './auth/quotas.js';
import { keyKind, type Action } from './auth/rights.js';
import type { DaemonMetrics } from './daemon-metrics.js';
import { limitsFromInput, limitsToView, limitsUnderPolicy } from './sandbox-limits.js';

/** Inside every sandbox: the daemon's sandbox socket, and the variables that point at it. */
export const SANDBOX_API_SOCKET = '/run/bkg/api.sock';

export interface ServiceDeps {
  log: Logger;
  host: HostInfo;
  runtime: PersistentSandboxes;
  sandboxes: SandboxRepo;
  namespaces: NamespaceRepo;
  projects: ProjectRepo;
  executions: ExecutionRepo;
  keys: ApiKeyStore;
  audit: AuditLog;
  authz: Authorizer;
  quotas: Quotas;
  metrics: DaemonMetrics;
  /** Host path of the socket bind-mounted into sandboxes (always needs a bearer key). */
  sandboxSocket: string;
  /** Where stopped sandboxes keep their files ($BKG_HOME/sandboxes/ID/files): deleted only with the sandbox. */
  stateDir: string;
  now?: () => Date;
}

function capped(chunks: Buffer[], cap: number): { text: string; truncated: boolean } {
  const all = Buffer.concat(chunks);
  return { text: all.subarray(0, cap).toString('utf8'), truncated: all.length > cap };
}

function readNumber(path: string): number | null {
  try {
    const n = Number(readFileSync(path, 'utf8').trim().split(/\s+/)[0]);
    return Number.isFinite(n) ? n : null;
  } catch {
    return null;
  }
}

/** The verdict of an exec, without its output. */
export function execSummary(r: ExecResult): Omit<ExecResponse, 'stdout' | 'stderr' | 'truncated'> {
  return {
    exit_code: r.exitCode, signal: r.signal, timed_out: r.timedOut, oom_killed: r.oomKilled, duration_ms: r.durationMs, limits_hit: r.limitsHit,
    ...(r.execError ? { exec_error: r.execError } : {}),
  };
}

/** The daemon itself, for what it does on its own (expiry). */
const DAEMON: Principal = { id: 'daemon', name: 'daemon', role: 'admin', namespaceId: null, sandboxId: null };

export class SandboxService {
  private readonly now: () => Date;
  /** Sandboxes whose start is in flight: a second start is a CONFLICT, not a second helper. */
  private readonly starting = new Set<string>();

  constructor(private readonly d: ServiceDeps) {
    this.now = d.now ?? (() => new Date());
  }

  /**
   * A sandbox the caller may take `action` on: refused (FORBIDDEN, audited) when its kind of key
   * may not take the action at all; NOT_FOUND, never FORBIDDEN, when the sandbox is outside what
   * the key can see (another namespace's, or another sandbox for a sandbox's own key).
   */
  find(p: Principal, idOrName: string, action: Action = 'sandbox.read'): Sandbox {
    this.d.authz.require(p, action, idOrName);
    const s = this.d.sandboxes.getByIdOrName(this.d.authz.scope(p).namespaceId, idOrName);
    if (!s || !this.d.authz.sees(p, s)) throw new BkgError('NOT_FOUND', `no sandbox "${idOrName}"`);
    return s;
  }

  private namespaceOf(s: Sandbox): Namespace {
    const ns = this.d.namespaces.get(s.namespaceId);
    if (!ns) throw new BkgError('INTERNAL', `sandbox ${s.id} belongs to namespace ${s.namespaceId}, which does not exist`);
    return ns;
  }

  /** The privileges a sandbox holds, as the authorizer checks them. */
  private ask(s: Sandbox): SandboxAsk {
    return { network: s.network, workspace: s.workspace, allowNestedNamespaces: s.allowNestedNamespaces, customSeccomp: s.seccomp !== null, limits: s.limits };
  }

  private auditOk(p: Principal, action: string, s: Sandbox, details?: Record<string, unknown>): void {
    this.d.audit.append({ actor: p.id, namespace: s.namespaceId, action, target: s.id, outcome: 'ok', ...(details ? { details } : {}) });
  }

  /** Record a failed state change too, then rethrow (refusals of the authorizer are audited there, with what was asked). */
  private async audited<T>(p: Principal, action: string, target: string | null, fn: () => Promise<T> | T): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const e = err instanceof BkgError ? err : null;
      if (e?.code === 'FORBIDDEN' || e?.code === 'QUOTA_EXCEEDED') throw err;
      this.d.audit.append({ actor: p.id, namespace: p.namespaceId, action, target, outcome: e?.code === 'NOT_FOUND' ? 'denied' : 'error', details: { code: e?.code ?? 'INTERNAL' } });
      throw err;
    }
  }

  view(s: Sandbox): SandboxView {
    const key = this.d.keys.list({ namespaceId: s.namespaceId }).find((k) => k.sandboxId === s.id && k.revokedAt === null);
    const ns = this.d.namespaces.get(s.namespaceId);
    const project = s.projectId ? this.d.projects.get(s.projectId) : null;
    const v: SandboxView = {
      id: s.id, name: s.name, namespace: ns?.name ?? s.namespaceId, project: project?.name ?? null, status: s.status, runtime: s.runtime, network: s.network,
      limits: limitsToView(s.limits), env: Object.keys(s.env).sort(), workspace: s.workspace,
      allow_nested_namespaces: s.allowNestedNamespaces, seccomp: s.seccomp === null ? 'default' : 'custom', api_key: key?.masked ?? '',
      created_at: s.createdAt, started_at: s.startedAt, expires_at: s.expiresAt, idle_expires_at: s.idleExpiresAt, last_activity_at: s.lastActivityAt,
    };
    if (s.status === 'running') v.usage = this.usage(s);
    return v;
  }

  private usage(s: Sandbox): NonNullable<SandboxView['usage']> {
    const plan = planCgroups({ ...this.d.host.cgroups, problems: [] }, s.id, {});
    const file = (suffix: string): string | undefined => plan.dirs.map((d) => `${d}/${suffix}`).find((f) => { try { readFileSync(f); return true; } catch { return false; } });
    const v2 = this.d.host.cgroups.version === 2;
    const mem = file(v2 ? 'memory.current' : 'memory.usage_in_bytes');
    const pids = file('pids.current');
    const cpu = v2 ? file('cpu.stat') : file('cpuacct.usage');
    let cpuSeconds: number | null = null;
    if (cpu && v2) cpuSeconds = (Number(/usage_usec (\d+)/.exec(readFileSync(cpu, 'utf8'))?.[1] ?? NaN) / 1e6) || null;
    else if (cpu) cpuSeconds = (readNumber(cpu) ?? NaN) / 1e9 || null;
    return { memory_bytes: mem ? readNumber(mem) : null, cpu_seconds: cpuSeconds, pids: pids ? readNumber(pids) : null };
  }

  /** The sandbox's own key (decrypted only to hand it to the sandbox), if it still has one. */
  private sandboxKey(s: Sandbox): string | undefined {
    const key = this.d.keys.list({ namespaceId: s.namespaceId }).find((k) => k.sandboxId === s.id && k.revokedAt === null);
    return key ? this.d.keys.reveal(key.id) : undefined;
  }

  /** What the runtime needs: limits, mounts, and an environment that carries the sandbox's own API key. */
  definition(s: Sandbox): SandboxDefinition {
    const env: Record<string, string> = { ...loadRuntime(s.runtime).env, ...s.env };
    const apiKey = this.sandboxKey(s);
    if (apiKey) Object.assign(env, { BKG_API_KEY: apiKey, BKG_API_URL: `unix://${SANDBOX_API_SOCKET}` });
    return {
      id: s.id, argv: [], env, limits: s.limits, network: s.network, hostname: s.name.toLowerCase().slice(0, 63),
      ...(s.workspace ? { workspace: s.workspace } : {}), apiSocket: { host: this.d.sandboxSocket, inside: SANDBOX_API_SOCKET },
      ...(s.allowNestedNamespaces ? { allowNestedNamespaces: true } : {}),
      ...(s.seccomp ? { seccomp: parseSeccompProfile(s.seccomp) } : {}),
    };
  }

  /** The files a stopped sandbox keeps (its writable layer as saved on stop), or null when it has none. */
  private saved(s: Sandbox): string | null {
    const dir = join(this.d.stateDir, s.id, 'files');
    return existsSync(dir) ? dir : null;
  }

  /**
   * Save a running sandbox's writable layer before it stops; the previous copy is replaced only
   * once the new one is complete, so a failed save loses nothing.
   */
  private async save(s: Sandbox, h: SandboxHandle): Promise<void> {
    const dir = join(this.d.stateDir, s.id);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const [files, next, old] = ['files', 'files.new', 'files.old'].map((n) => join(dir, n)) as [string, string, string];
    await rm(next, { recursive: true, force: true });
    await this.d.runtime.save(h, next);
    await rm(old, { recursive: true, force: true });
    if (existsSync(files)) await rename(files, old);
    await rename(next, files);
    await rm(old, { recursive: true, force: true });
  }

  handle(s: Sandbox): SandboxHandle | null {
    if (s.pid === null || s.helperPid === null || s.helperStartTime === null) return null;
    return { id: s.id, initPid: s.pid, helperPid: s.helperPid, helperStartTime: s.helperStartTime, scratchFd: s.scratchFd };
  }

  async create(p: Principal, req: CreateSandboxRequest): Promise<{ sandbox: SandboxView; apiKey: string }> {
    return this.audited(p, 'sandbox.create', req.name, () => {
      this.d.authz.require(p, 'sandbox.create', req.name);
      for (const k of Object.keys(req.env ?? {})) if (!ENV_NAME_PATTERN.test(k)) throw new BkgError('INVALID_ARGUMENT', `env: "${k}" is not a valid variable name`);
      const runtime = req.runtime ?? 'shell';
      runtimeCommand(loadRuntime(runtime), []); // the interpreter must exist now, not at first exec
      const ns = this.d.authz.namespaceFor(p, 'sandbox.create', req.namespace);
      const limits = keyKind(p) === 'admin' ? limitsFromInput(req.limits) : limitsUnderPolicy(req.limits ?? {}, this.d.authz.policy(ns.id));
      const network = req.network ?? 'none';
      const allowNestedNamespaces = req.allow_nested_namespaces === true;
      // privileges first: a key without them learns nothing about host paths or profiles
      this.d.authz.requirePrivileges(p, 'sandbox.create', ns, {
        network, workspace: req.workspace === undefined ? null : resolve(req.workspace), allowNestedNamespaces, customSeccomp: req.seccomp !== undefined, limits,
      }, req.name);
      const workspace = req.workspace === undefined ? null : validateWorkspace(req.workspace);
      if (req.seccomp !== undefined) compileSeccomp(parseSeccompProfile(req.seccomp), { allowNestedNamespaces }); // refuse a bad profile now
      planCgroups(this.d.host.cgroups, 'probe', limits); // refuse unenforceable limits at create time
      const projectId = req.project ? this.d.projects.ensure(req.project).id : null;
      const s = this.d.quotas.insert(p, ns, {
        id: newSandboxId(), name: req.name, namespaceId: ns.id, projectId, runtime, limits, network, env: req.env ?? {}, workspace,
        allowNestedNamespaces, seccomp: req.seccomp ?? null,
      });
      const key = this.d.keys.create({ name: `sandbox ${s.name}`, role: 'namespace', namespaceId: ns.id, sandboxId: s.id });
      this.auditOk(p, 'sandbox.create', s);
      return { sandbox: this.view(s), apiKey: key.key };
    });
  }

  list(p: Principal): SandboxView[] {
    this.d.authz.require(p, 'sandbox.list');
    return this.d.sandboxes.list(this.d.authz.scope(p).namespaceId).filter((s) => this.d.authz.sees(p, s)).map((s) => this.view(s));
  }

  async start(p: Principal, idOrName: string): Promise<SandboxView> {
    return this.audited(p, 'sandbox.start', idOrName, async () => {
      const s = this.find(p, idOrName, 'sandbox.start');
      const h = this.handle(s);
      if ((s.status === 'running' && h && this.d.runtime.isRunning(h)) || this.starting.has(s.id)) throw new BkgError('CONFLICT', `sandbox "${s.name}" is already running`);
      const ns = this.namespaceOf(s);
      this.d.authz.requirePrivileges(p, 'sandbox.start', ns, this.ask(s), s.name); // the policy may have narrowed since create
      const release = this.d.quotas.reserveStart(p, ns, s);
      this.starting.add(s.id);
      try {
        let started: SandboxHandle;
        try {
          const restoreFrom = this.saved(s);
          started = await this.d.runtime.start({ ...this.definition(s), ...(restoreFrom ? { restoreFrom } : {}) });
        } catch (err) {
          this.d.sandboxes.updateStatus(s.id, 'failed');
          throw err;
        }
        const now = this.now();
        const limits = s.limits;
        this.d.sandboxes.setRuntimeInfo(s.id, {
          pid: started.initPid, helperPid: started.helperPid, helperStartTime: started.helperStartTime, scratchFd: started.scratchFd,
          startedAt: now, expiresAt: limits.timeoutMs ? new Date(now.getTime() + limits.timeoutMs) : null,
        });
        this.d.sandboxes.touch(s.id, now, limits.idleTimeoutMs ? new Date(now.getTime() + limits.idleTimeoutMs) : null);
        const running = this.d.sandboxes.updateStatus(s.id, 'running');
        this.auditOk(p, 'sandbox.start', running);
        return this.view(running);
      } finally {
        this.starting.delete(s.id);
        release();
      }
    });
  }

  private running(s: Sandbox): SandboxHandle {
    const h = this.handle(s);
    if (s.status !== 'running' || !h || !this.d.runtime.isRunning(h)) throw new BkgError('SANDBOX_NOT_RUNNING', `sandbox "${s.name}" is not running`);
    return h;
  }

  /** Run a command in a running sandbox with the caller's I/O; recorded, audited and counted. */
  async execWith(p: Principal, idOrName: string, req: Omit<ExecRequest, 'stdin'> & { tty?: { rows: number; cols: number } }, io: RunIO): Promise<ExecResult> {
    return this.audited(p, 'sandbox.exec', idOrName, async () => {
      const s = this.find(p, idOrName, 'sandbox.exec');
      const h = this.running(s);
      if (req.cmd.length === 0) throw new BkgError('INVALID_ARGUMENT', 'cmd: must name a command');
      for (const k of Object.keys(req.env ?? {})) if (!ENV_NAME_PATTERN.test(k)) throw new BkgError('INVALID_ARGUMENT', `env: "${k}" is not a valid variable name`);
      const startedAt = this.now();
      const r = await this.d.runtime.exec(this.definition(s), h, { argv: req.cmd, ...(req.env ? { env: req.env } : {}), ...(req.cwd ? { cwd: req.cwd } : {}), ...(req.timeout_ms ? { timeoutMs: req.timeout_ms } : {}), ...(req.tty ? { tty: req.tty } : {}) }, io);
      this.d.executions.insert({ sandboxId: s.id, cmd: req.cmd, exitCode: r.exitCode, signal: r.signal === null ? null : String(r.signal), timedOut: r.timedOut, oomKilled: r.oomKilled, durationMs: r.durationMs, startedAt, actor: p.id });
      const now = this.now();
      this.d.sandboxes.touch(s.id, now, s.limits.idleTimeoutMs ? new Date(now.getTime() + s.limits.idleTimeoutMs) : undefined);
      this.auditOk(p, 'sandbox.exec', s, { cmd: req.cmd[0], exit_code: r.exitCode, timed_out: r.timedOut });
      this.d.metrics.exec(r.durationMs / 1000, r.oomKilled);
      return r;
    });
  }

  /** The REST exec: stdin given whole, output captured (capped). */
  async exec(p: Principal, idOrName: string, req: ExecRequest): Promise<ExecResponse> {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const r = await this.execWith(p, idOrName, req, {
      stdio: [req.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      ...(req.stdin === undefined ? {} : { input: req.stdin }),
      onStdout: (c) => out.push(c),
      onStderr: (c) => err.push(c),
    });
    const o = capped(out, EXEC_OUTPUT_CAP);
    const e = capped(err, EXEC_OUTPUT_CAP);
    return { ...execSummary(r), stdout: o.text, stderr: e.text, truncated: o.truncated || e.truncated, stdout_truncated: o.truncated, stderr_truncated: e.truncated };
  }

  /** The commands run in a sandbox (newest 1000), as the API shows them. */
  executionsOf(p: Principal, idOrName: string): ExecutionView[] {
    const s = this.find(p, idOrName);
    return this.d.executions.listForSandbox(s.id, { limit: 1000 }).map((e) => ({
      id: e.id, cmd: e.cmd, exit_code: e.exitCode, signal: e.signal, timed_out: e.timedOut, oom_killed: e.oomKilled, duration_ms: e.durationMs, started_at: e.startedAt, actor: e.actor,
    }));
  }

  async stop(p: Principal, idOrName: string, action = 'sandbox.stop'): Promise<SandboxView> {
    return this.audited(p, action, idOrName, async () => {
      const s = this.find(p, idOrName, 'sandbox.stop');
      const h = this.handle(s);
      if (h && this.d.runtime.isRunning(h)) {
        try {
          await this.save(s, h);
        } catch (err) {
          if (action !== 'sandbox.expire') throw err; // a stop that would lose files does not happen; it says why
          this.d.log.error({ err, id: s.id }, 'could not save the files of an expiring sandbox; stopping it anyway');
          this.d.audit.append({ actor: p.id, namespace: s.namespaceId, action: 'sandbox.save', target: s.id, outcome: 'error', details: { message: err instanceof Error ? err.message : String(err) } });
        }
      }
      if (h) await this.d.runtime.stop(h);
      this.d.sandboxes.setRuntimeInfo(s.id, { pid: null, helperPid: null, helperStartTime: null, scratchFd: null, startedAt: null, expiresAt: null });
      const stopped = this.d.sandboxes.updateStatus(s.id, s.status === 'created' ? 'created' : 'stopped');
      this.auditOk(p, action, stopped);
      return this.view(stopped);
    });
  }

  async remove(p: Principal, idOrName: string): Promise<void> {
    await this.audited(p, 'sandbox.delete', idOrName, async () => {
      const s = this.find(p, idOrName, 'sandbox.delete');
      const h = this.handle(s);
      if (h) await this.d.runtime.stop(h);
      this.d.sandboxes.delete(s.id);
      await rm(join(this.d.stateDir, s.id), { recursive: true, force: true }); // the only place a sandbox's files go
      this.auditOk(p, 'sandbox.delete', s);
    });
  }

  /** The workspace changes not yet applied: of the running sandbox, or of the files a stopped one kept. */
  async changes(p: Principal, idOrName: string): Promise<Change[]> {
    const s = this.find(p, idOrName);
    if (!s.workspace) return [];
    const scratch = this.scratchOf(s);
    return scratch ? this.d.runtime.changesIn(scratch, s.workspace) : [];
  }

  /** The writable layer of a sandbox: live while it runs, else the copy saved when it stopped (null: none). */
  private scratchOf(s: Sandbox): string | null {
    const h = this.handle(s);
    if (s.status === 'running' && h && this.d.runtime.isRunning(h)) return this.d.runtime.scratchOf(h);
    return this.saved(s);
  }

  async apply(p: Principal, idOrName: string): Promise<Change[]> {
    return this.audited(p, 'sandbox.apply', idOrName, async () => {
      const s = this.find(p, idOrName, 'sandbox.apply');
      if (!s.workspace) throw new BkgError('INVALID_ARGUMENT', `sandbox "${s.name}" has no workspace`);
      this.d.authz.requirePrivileges(p, 'sandbox.apply', this.namespaceOf(s), this.ask(s), s.name); // writing to the host directory
      const scratch = this.scratchOf(s);
      const applied = scratch ? await this.d.runtime.applyFrom(scratch, s.workspace) : [];
      this.auditOk(p, 'sandbox.apply', s, { changes: applied.length });
      return applied;
    });
  }

  /** Read a file inside the sandbox. Paths resolve inside its root: '..' and symlinks cannot leave it. */
  async readFile(p: Principal, idOrName: string, path: string): Promise<Buffer> {
    if (!path.startsWith('/') || path.includes('\0')) throw new BkgError('INVALID_ARGUMENT', 'path: must be an absolute path inside the sandbox');
    const r = await this.fileExec(p, idOrName, path, ['/bin/sh', '-c', 'test -f "$1" || { echo "not a regular file" >&2; exit 66; }; exec head -c "$2" -- "$1"', 'sh', path, String(FILE_CAP + 1)]);
    if (r.code === 66) throw new BkgError('NOT_FOUND', `path: no regular file at ${path} in the sandbox`);
    if (r.code !== 0) throw new BkgError('INVALID_ARGUMENT', `path: cannot read ${path}: ${r.stderr.trim()}`);
    if (r.stdout.length > FILE_CAP) throw new BkgError('PAYLOAD_TOO_LARGE', `path: ${path} is larger than ${FILE_CAP} bytes`);
    return r.stdout;
  }

  async writeFile(p: Principal, idOrName: string, path: string, data: Buffer): Promise<void> {
    if (!path.startsWith('/') || path.includes('\0')) throw new BkgError('INVALID_ARGUMENT', 'path: must be an absolute path inside the sandbox');
    if (data.length > FILE_CAP) throw new BkgError('PAYLOAD_TOO_LARGE', `the file is larger than ${FILE_CAP} bytes`);
    const r = await this.fileExec(p, idOrName, path, ['/bin/sh', '-c', 'cat > "$1"', 'sh', path], data);
    if (r.code !== 0) throw new BkgError('INVALID_ARGUMENT', `path: cannot write ${path}: ${r.stderr.trim()}`);
  }

  /** The entries of a directory inside the sandbox (resolved inside its root, like files). */
  async listFiles(p: Principal, idOrName: string, path: string): Promise<{ name: string; type: 'file' | 'dir' | 'symlink' | 'other'; size: number }[]> {
    if (!path.startsWith('/') || path.includes('\0')) throw new BkgError('INVALID_ARGUMENT', 'path: must be an absolute path inside the sandbox');
    const r = await this.fileExec(p, idOrName, path, ['/usr/bin/find', path, '-mindepth', '1', '-maxdepth', '1', '-printf', '%y\\t%s\\t%f\\0']);
    if (r.code !== 0) throw new BkgError('NOT_FOUND', `path: cannot list ${path}: ${r.stderr.trim()}`);
    const types: Record<string, 'file' | 'dir' | 'symlink'> = { f: 'file', d: 'dir', l: 'symlink' };
    return r.stdout.toString('utf8').split('\0').filter(Boolean).map((line) => {
      const [t, size, ...name] = line.split('\t');
      const type: 'file' | 'dir' | 'symlink' | 'other' = types[t ?? ''] ?? 'other';
      return { name: name.join('\t'), type, size: Number(size) };
    }).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  private async fileExec(p: Principal, idOrName: string, path: string, argv: string[], input?: Buffer): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
    const s = this.find(p, idOrName, input ? 'sandbox.files.write' : 'sandbox.read');
    const h = this.running(s);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const r = await this.d.runtime.exec(this.definition(s), h, { argv, timeoutMs: 60_000 }, {
      stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'], ...(input ? { input } : {}), onStdout: (c) => out.push(c), onStderr: (c) => err.push(c),
    });
    this.auditOk(p, input ? 'sandbox.file.write' : 'sandbox.file.read', s, { path });
    return { code: r.exitCode, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8').slice(0, 500) };
  }

  /** At daemon start: re-adopt sandboxes whose helper is alive, mark the others stopped. */
  reconcile(): { adopted: string[]; stopped: string[] } {
    const adopted: string[] = [];
    const stopped: string[] = [];
    for (const s of this.d.sandboxes.list(null, { status: 'running' })) {
      const h = this.handle(s);
      if (h && this.d.runtime.isRunning(h)) {
        adopted.push(s.id);
        continue;
      }
      this.d.runtime.cleanup(s.id, s.limits);
      this.d.sandboxes.setRuntimeInfo(s.id, { pid: null, helperPid: null, helperStartTime: null, scratchFd: null, startedAt: null, expiresAt: null });
      this.d.sandboxes.updateStatus(s.id, 'stopped');
      this.d.audit.append({ actor: 'daemon', namespace: s.namespaceId, action: 'sandbox.reconcile', target: s.id, outcome: 'ok', details: { found: 'dead' } });
      stopped.push(s.id);
    }
    return { adopted, stopped };
  }

  /** Stop running sandboxes past their lifetime or idle deadline. */
  async expire(): Promise<string[]> {
    const now = this.now();
    const done: string[] = [];
    for (const s of this.d.sandboxes.listExpired(now)) {
      if (s.status !== 'running') continue;
      await this.stop(DAEMON, s.id, 'sandbox.expire');
      done.push(s.id);
    }
    return done;
  }
}
