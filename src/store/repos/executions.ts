/** The history of commands run in a sandbox. */
import { BkgError } from '../../api/errors.js';
import type { Db } from '../db.js';
import { newId } from '../ids.js';
import type { ExecutionRepository } from '../repositories.js';
import { constraintKind } from '../sqlite-errors.js';
import type { Execution, NewExecution } from '../types.js';

export type { Execution, NewExecution } from '../types.js';

interface Row {
  id: string;
  sandbox_id: string;
  cmd_json: string;
  exit_code: number | null;
  signal: string | null;
  timed_out: 0 | 1;
  oom_killed: 0 | 1;
  duration_ms: number | null;
  started_at: string;
  actor: string;
}

function toExecution(r: Row): Execution {
  return {
    id: r.id,
    sandboxId: r.sandbox_id,
    cmd: JSON.parse(r.cmd_json) as string[],
    exitCode: r.exit_code,
    signal: r.signal,
    timedOut: r.timed_out === 1,
    oomKilled: r.oom_killed === 1,
    durationMs: r.duration_ms,
    startedAt: r.started_at,
    actor: r.actor,
  };
}

export class ExecutionRepo implements ExecutionRepository {
  private readonly insertStmt;
  private readonly listStmt;

  constructor(db: Db) {
    this.insertStmt = db.prepare(
      `INSERT INTO executions (id, sandbox_id, cmd_json, exit_code, signal, timed_out, oom_killed, duration_ms, started_at, actor)
       VALUES (@id, @sandbox_id, @cmd_json, @exit_code, @signal, @timed_out, @oom_killed, @duration_ms, @started_at, @actor)`,
    );
    this.listStmt = db.prepare(
      `SELECT * FROM (SELECT rowid AS r, * FROM executions WHERE sandbox_id = ? ORDER BY started_at DESC, r DESC LIMIT ?)
       ORDER BY started_at, r`,
    );
  }

  insert(input: NewExecution): Execution {
    const row: Row = {
      id: input.id ?? newId('exe'),
      sandbox_id: input.sandboxId,
      cmd_json: JSON.stringify(input.cmd),
      exit_code: input.exitCode ?? null,
      signal: input.signal ?? null,
      timed_out: input.timedOut ? 1 : 0,
      oom_killed: input.oomKilled ? 1 : 0,
      duration_ms: input.durationMs ?? null,
      started_at: input.startedAt.toISOString(),
      actor: input.actor,
    };
    try {
      this.insertStmt.run(row);
    } catch (err) {
      const kind = constraintKind(err);
      if (kind === 'foreignkey') throw new BkgError('NOT_FOUND', `sandbox ${input.sandboxId} does not exist`, { details: { id: input.sandboxId }, cause: err });
      if (kind === 'primarykey') throw new BkgError('CONFLICT', `an execution with id ${row.id} already exists`, { details: { id: row.id }, cause: err });
      throw err;
    }
    return toExecution(row);
  }

  /** Executions of a sandbox in the order they started; with `limit`, only the latest `limit` of them. */
  listForSandbox(sandboxId: string, opts: { limit?: number } = {}): Execution[] {
    const rows = this.listStmt.all(sandboxId, opts.limit ?? -1) as (Row & { r: number })[];
    return rows.map(toExecution);
  }
}
