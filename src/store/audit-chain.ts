/**
 * The audit log's hash chain, independent of where the rows are kept: each row's hash covers its
 * content and the previous row's hash, so editing, deleting or reordering any row is detected.
 */
import { createHash } from 'node:crypto';
import type { AuditVerifyResult } from './repositories.js';
import type { AuditEvent, AuditInput } from './types.js';

/** An audit_events row as stored. */
export interface AuditRow {
  seq: number;
  at: string;
  actor: string;
  namespace: string | null;
  action: string;
  target: string | null;
  outcome: AuditInput['outcome'];
  details: string | null;
  prev_hash: string;
  hash: string;
}

export const GENESIS = '0'.repeat(64);

export function rowHash(r: Omit<AuditRow, 'hash'>): string {
  const canonical = JSON.stringify([r.seq, r.at, r.actor, r.namespace, r.action, r.target, r.outcome, r.details, r.prev_hash]);
  return createHash('sha256').update(canonical).digest('hex');
}

/** The row that follows `last` (undefined: the first row) for `input` at `at`, hash included. */
export function nextRow(last: { seq: number; hash: string } | undefined, input: AuditInput, at: Date): AuditRow {
  const row: Omit<AuditRow, 'hash'> = {
    seq: (last?.seq ?? 0) + 1,
    at: at.toISOString(),
    actor: input.actor,
    namespace: input.namespace ?? null,
    action: input.action,
    target: input.target ?? null,
    outcome: input.outcome,
    details: input.details === undefined ? null : JSON.stringify(input.details),
    prev_hash: last?.hash ?? GENESIS,
  };
  return { ...row, hash: rowHash(row) };
}

export function toEvent(r: AuditRow): AuditEvent {
  return {
    seq: r.seq, at: r.at, actor: r.actor, namespace: r.namespace, action: r.action, target: r.target, outcome: r.outcome,
    details: r.details === null ? null : (JSON.parse(r.details) as Record<string, unknown>), prevHash: r.prev_hash, hash: r.hash,
  };
}

/** Walk rows in sequence order; the first broken link is reported by sequence number. */
export function verifyChain(rows: Iterable<AuditRow>): AuditVerifyResult {
  let prev = GENESIS;
  let expectedSeq = 1;
  let count = 0;
  for (const r of rows) {
    if (r.seq !== expectedSeq) return { ok: false, count, seq: expectedSeq, reason: `row ${expectedSeq} is missing` };
    if (r.prev_hash !== prev) return { ok: false, count, seq: r.seq, reason: `row ${r.seq} does not follow row ${r.seq - 1}` };
    const { hash, ...rest } = r;
    if (rowHash(rest) !== hash) return { ok: false, count, seq: r.seq, reason: `row ${r.seq} was modified` };
    prev = hash;
    expectedSeq++;
    count++;
  }
  return { ok: true, count };
}
