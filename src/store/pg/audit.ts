/** Every host's audit chain in the fleet database: pushed idempotently, read by namespace under RLS, re-hashed per host. */
import { toEvent, verifyChain, type AuditRow } from '../audit-chain.js';
import type { Sql } from './connection.js';
import type { AuditPushResult, FleetAuditEvent, FleetAuditVerifyResult } from './types.js';

const COLUMNS = 'seq bigint, at text, actor text, namespace text, action text, target text, outcome text, details text, prev_hash text, hash text';

/** Add `host`'s rows (as its local chain holds them); rows already held are kept, and reported when their hash differs. */
export async function pushAudit(sql: Sql, host: string, rows: readonly AuditRow[]): Promise<AuditPushResult> {
  if (!rows.length) return { inserted: 0, mismatched: [] };
  const json = JSON.stringify(rows);
  const inserted = await sql<{ seq: string }>(
    `INSERT INTO audit_events (host, seq, at, actor, namespace, action, target, outcome, details, prev_hash, hash)
     SELECT $2, x.* FROM jsonb_to_recordset($1::jsonb) AS x(${COLUMNS})
     ON CONFLICT (host, seq) DO NOTHING RETURNING seq`,
    [json, host],
  );
  const mismatched = await sql<{ seq: string }>(
    `SELECT a.seq FROM audit_events a JOIN jsonb_to_recordset($1::jsonb) AS x(${COLUMNS}) ON a.seq = x.seq
     WHERE a.host = $2 AND a.hash <> x.hash ORDER BY a.seq`,
    [json, host],
  );
  return { inserted: inserted.length, mismatched: mismatched.map((r) => Number(r.seq)) };
}

export async function lastAuditSeq(sql: Sql, host: string): Promise<number> {
  const [r] = await sql<{ seq: string }>('SELECT coalesce(max(seq), 0) AS seq FROM audit_events WHERE host = $1', [host]);
  return Number(r?.seq ?? 0);
}

type StoredRow = Omit<AuditRow, 'seq'> & { host: string; seq: string };

const toRow = ({ host: _host, seq, ...r }: StoredRow): AuditRow => ({ ...r, seq: Number(seq) });

/** Events visible in the transaction's scope (RLS: a namespace's, or all as bkg_fleet), oldest first. */
export async function fleetAudit(sql: Sql, opts: { since?: Date; limit?: number } = {}): Promise<FleetAuditEvent[]> {
  const rows = await sql<StoredRow>(
    'SELECT host, seq, at, actor, namespace, action, target, outcome, details, prev_hash, hash FROM audit_events WHERE at >= $1 ORDER BY at, host, seq LIMIT $2',
    [opts.since?.toISOString() ?? '', opts.limit ?? null],
  );
  return rows.map((r) => ({ host: r.host, ...toEvent(toRow(r)) }));
}

/**
 * Re-hash each host's chain (../audit-chain.ts verifyChain): the first broken link of each, by
 * sequence number. Holds one host's chain in memory at a time.
 */
export async function verifyFleetAudit(sql: Sql): Promise<FleetAuditVerifyResult[]> {
  const hosts = await sql<{ host: string }>('SELECT DISTINCT host FROM audit_events ORDER BY host');
  const out: FleetAuditVerifyResult[] = [];
  for (const { host } of hosts) {
    const rows = await sql<StoredRow>(
      'SELECT host, seq, at, actor, namespace, action, target, outcome, details, prev_hash, hash FROM audit_events WHERE host = $1 ORDER BY seq',
      [host],
    );
    out.push({ host, ...verifyChain(rows.map(toRow)) });
  }
  return out;
}
