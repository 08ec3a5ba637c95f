/** The replication log: push a host's changes (idempotent, applied to the entity tables, notified), pull other hosts' changes in order. */
import { BkgError } from '../../api/errors.js';
import type { Sql } from './connection.js';
import { CHANGES_CHANNEL, isEntityTable, LOCK_CLASS, LOCKS } from './tables.js';
import type { Change, OutgoingChange } from './types.js';

function check(c: OutgoingChange): void {
  if (!isEntityTable(c.tbl)) throw new BkgError('INVALID_ARGUMENT', `cannot replicate table "${String(c.tbl)}": it is not a fleet table`);
  if ((c.op === 'upsert') !== (c.row !== null)) throw new BkgError('INVALID_ARGUMENT', `change ${c.id} to ${c.tbl}/${c.pk}: an upsert carries a row, a delete none`);
}

/**
 * In the order given, in the caller's transaction (as bkg_fleet): log each change once (a change id
 * already logged keeps its seq and is not applied again), apply it to its entity table, then notify
 * the last seq. Pushes are serialised by an advisory lock so that seqs become visible in order: a
 * puller that has seen seq n never later finds a seq below n.
 */
export async function push(sql: Sql, host: string, changes: readonly OutgoingChange[]): Promise<Map<string, string>> {
  changes.forEach(check);
  const seqs = new Map<string, string>();
  if (!changes.length) return seqs;
  await sql('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_CLASS, LOCKS.push]);
  let last: string | null = null;
  for (const c of changes) {
    // looked up first (under the lock) so that a retried change does not spend a seq
    const [old] = await sql<{ seq: string }>('SELECT seq::text FROM changes WHERE id = $1', [c.id]);
    if (old) {
      seqs.set(c.id, old.seq);
      continue;
    }
    const row = c.row === null ? null : JSON.stringify(c.row);
    const [fresh] = await sql<{ seq: string }>(
      'INSERT INTO changes (id, host, tbl, pk, op, namespace_id, row) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) ON CONFLICT (id) DO NOTHING RETURNING seq::text',
      [c.id, host, c.tbl, c.pk, c.op, c.namespaceId, row],
    );
    if (!fresh) throw new BkgError('INTERNAL', `change ${c.id} was logged by another push despite the lock`);
    if (c.op === 'upsert') {
      await sql(
        `INSERT INTO ${c.tbl} (pk, namespace_id, host, seq, row) VALUES ($1, $2, $3, $4, $5::jsonb)
         ON CONFLICT (pk) DO UPDATE SET namespace_id = EXCLUDED.namespace_id, host = EXCLUDED.host, seq = EXCLUDED.seq, row = EXCLUDED.row`,
        [c.pk, c.namespaceId, host, fresh.seq, row],
      );
    } else {
      await sql(`DELETE FROM ${c.tbl} WHERE pk = $1`, [c.pk]);
    }
    seqs.set(c.id, fresh.seq);
    last = fresh.seq;
  }
  if (last !== null) await sql('SELECT pg_notify($1, $2)', [CHANGES_CHANNEL, last]);
  return seqs;
}

interface ChangeRow {
  seq: string;
  id: string;
  host: string;
  tbl: string;
  pk: string;
  op: Change['op'];
  namespace_id: string | null;
  row: Record<string, unknown> | null;
  at: Date;
}

/** Changes after `afterSeq` made by hosts other than `host`, in seq order. */
export async function pull(sql: Sql, host: string, afterSeq: string, limit: number): Promise<Change[]> {
  if (!/^\d+$/.test(afterSeq)) throw new BkgError('INVALID_ARGUMENT', `pull: "${afterSeq}" is not a change seq`);
  // ORDER BY c.seq: the bigint, not the text alias of the same name (which would put '10' before '9')
  const rows = await sql<ChangeRow>(
    'SELECT seq::text, id::text, host, tbl, pk, op, namespace_id, row, at FROM changes c WHERE c.seq > $1::bigint AND c.host <> $2 ORDER BY c.seq LIMIT $3',
    [afterSeq, host, limit],
  );
  return rows.map((r) => ({ seq: r.seq, id: r.id, host: r.host, tbl: r.tbl, pk: r.pk, op: r.op, namespaceId: r.namespace_id, row: r.row, at: r.at.toISOString() }));
}

/** The last seq in the log ('0' when empty). */
export async function head(sql: Sql): Promise<string> {
  const [r] = await sql<{ seq: string }>('SELECT coalesce(max(seq), 0)::text AS seq FROM changes');
  return r?.seq ?? '0';
}
