/** The fleet database's types: replicated changes, fleet audit events, hosts. */
import type { AuditEvent } from '../types.js';
export type { EntityTable } from './tables.js';
export type { AuditRow } from '../audit-chain.js';

/** A change a host pushes: `id` (a uuid the host chose) makes the push idempotent. */
export interface OutgoingChange {
  id: string;
  /** One of ENTITY_TABLES (./tables.ts); push refuses any other with INVALID_ARGUMENT. */
  tbl: string;
  pk: string;
  op: 'upsert' | 'delete';
  /** The namespace the row belongs to (a namespace's own id for `namespaces`); null for global tables. */
  namespaceId: string | null;
  /** The local row, whole (null for a delete). Carried as JSON: Buffers and bigints are the caller's to encode. */
  row: Record<string, unknown> | null;
}

/** A change as the log holds it: `seq` is its place in the fleet's order (a decimal string: bigint). */
export interface Change extends OutgoingChange {
  seq: string;
  /** The host that made it. */
  host: string;
  /** When the fleet database took it (ISO 8601). */
  at: string;
}

/** A replicated row as the entity tables hold it. */
export interface FleetRow {
  pk: string;
  namespaceId: string | null;
  /** The host that made the last change to it. */
  host: string;
  /** The change that wrote it. */
  seq: string;
  row: Record<string, unknown>;
}

/** An audit event of some host's chain. */
export interface FleetAuditEvent extends AuditEvent {
  host: string;
}

/** One host's chain, re-hashed: the first broken link by sequence number. */
export interface FleetAuditVerifyResult {
  host: string;
  ok: boolean;
  count: number;
  seq?: number;
  reason?: string;
}

/** What pushAudit did: rows added, and sequence numbers already held with another hash (a forked chain). */
export interface AuditPushResult {
  inserted: number;
  mismatched: number[];
}

export interface HeartbeatInput {
  id: string;
  name: string;
  /** Where peers reach this host's daemon (null: not reachable by peers). */
  peerUrl: string | null;
  version: string;
  startedAt: Date | string;
  load: Record<string, unknown>;
}

export interface HostRecord {
  id: string;
  name: string;
  peerUrl: string | null;
  version: string;
  startedAt: string;
  heartbeatAt: string;
  load: Record<string, unknown>;
  /** Its last heartbeat is within the max age asked for (by the database's clock). */
  alive: boolean;
}
