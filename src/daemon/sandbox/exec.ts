/** Commands run in a running sandbox for a caller: recorded in its executions, audited, counted, and told to the event stream as they start and end. */
import { randomUUID } from 'node:crypto';
import { asBkgError, BkgError } from '../../api/errors.js';
import type { ExecutionView } from '../../api/admin.js';
import { ENV_NAME_PATTERN, EXEC_OUTPUT_CAP, type ExecRequest, type ExecResponse } from '../../api/sandboxes.js';
import type { ExecResult, RunIO } from '../../runtime/engine.js';
import type { Principal } from '../auth/api-keys.js';
import type { SandboxAccess } from './access.js';
import type { SandboxAudit } from './audit.js';
import type { PartDeps } from './deps.js';
import { execSummary } from './views.js';

export type ExecWithRequest = Omit<ExecRequest, 'stdin'> & { tty?: { rows: number; cols: number } };

function capped(chunks: Buffer[], cap: number): { text: string; truncated: boolean } {
  const all = Buffer.concat(chunks);
  return { text: all.subarray(0, cap).toString('utf8'), truncated: all.length > cap };
}

export class SandboxExec {
  constructor(private readonly d: PartDeps, private readonly access: SandboxAccess, private readonly audit: SandboxAudit) {}

  /** Run a command with the caller's I/O (streamed: WebSocket, MCP). */
  async execWith(p: Principal, idOrName: string, req: ExecWithRequest, io: RunIO): Promise<ExecResult> {
    return this.audit.audited(p, 'sandbox.exec', idOrName, async () => {
      const s = this.access.find(p, idOrName, 'sandbox.exec');
      const h = this.access.running(s);
      if (req.cmd.length === 0) throw new BkgError('INVALID_ARGUMENT', 'cmd: must name a command');
      for (const k of Object.keys(req.env ?? {})) if (!ENV_NAME_PATTERN.test(k)) throw new BkgError('INVALID_ARGUMENT', `env: "${k}" is not a valid variable name`);
      const startedAt = this.d.now();
      const cmd = this.d.secrets.mask(s, req.cmd); // what is stored and published: the sandbox's secret values as ***
      const ref = { id: `exec_${randomUUID().replaceAll('-', '').slice(0, 16)}`, cmd, actor: p.id };
      this.d.events?.execStarted(s, ref);
      let r: ExecResult;
      try {
        r = await this.d.engine.exec(h, { argv: req.cmd, ...(req.env ? { env: req.env } : {}), ...(req.cwd ? { cwd: req.cwd } : {}), ...(req.timeout_ms ? { timeoutMs: req.timeout_ms } : {}), ...(req.tty ? { tty: req.tty } : {}) }, io);
      } catch (err) {
        const ms = this.d.now().getTime() - startedAt.getTime();
        this.d.events?.execFinished(s, ref, { exit_code: null, signal: null, timed_out: false, oom_killed: false, duration_ms: ms, limits_hit: [], exec_error: asBkgError(err).message });
        throw err;
      }
      this.d.events?.execFinished(s, ref, execSummary(r));
      const now = this.d.now();
      // the command's record, the sandbox's activity and the audit row: one commit
      this.d.transaction(() => {
        this.d.executions.insert({ sandboxId: s.id, cmd, exitCode: r.exitCode, signal: r.signal === null ? null : String(r.signal), timedOut: r.timedOut, oomKilled: r.oomKilled, durationMs: r.durationMs, startedAt, actor: p.id });
        this.d.sandboxes.touch(s.id, now, s.limits.idleTimeoutMs ? new Date(now.getTime() + s.limits.idleTimeoutMs) : undefined);
        this.audit.ok(p, 'sandbox.exec', s, { cmd: cmd[0], exit_code: r.exitCode, timed_out: r.timedOut });
      });
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
    const s = this.access.find(p, idOrName);
    return this.d.executions.listForSandbox(s.id, { limit: 1000 }).map((e) => ({
      id: e.id, cmd: e.cmd, exit_code: e.exitCode, signal: e.signal, timed_out: e.timedOut, oom_killed: e.oomKilled, duration_ms: e.durationMs, started_at: e.startedAt, actor: e.actor,
    }));
  }
}
