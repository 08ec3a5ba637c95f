/** Keys, the audit log, the daemon itself, health. */
import { KEY_KINDS, NAME_PATTERN, ROLES } from '../names.js';
import { NullableTimestamp, Timestamp, z } from './common.js';

export const CreateKeyRequest = z.object({
  name: z.string().min(1).max(128),
  role: z.enum(ROLES),
  namespace: z.string().regex(NAME_PATTERN).optional().describe('Required for role namespace; optional for readonly (absent: read-only everywhere).'),
}).strict();

export const ApiKeyView = z.object({
  id: z.string(),
  name: z.string(),
  role: z.enum(ROLES),
  namespace: z.string().nullable(),
  sandbox_id: z.string().nullable().describe('Set for a sandbox\'s own key.'),
  masked: z.string().describe('bkg_abcd...wxyz: the secret is shown only once, when created or rotated.'),
  created_at: Timestamp,
  revoked_at: NullableTimestamp,
  last_used_at: NullableTimestamp,
}).strict();

export const KeyWithSecret = z.object({ key: ApiKeyView, secret: z.string().describe('The full key: shown only here, once.') }).strict();
export const KeyList = z.object({ keys: z.array(ApiKeyView) }).strict();
export const KeyParams = z.object({ id: z.string() }).strict();

/** `1`: every host's audit events, from the fleet database. */
const FleetFlag = z.enum(['0', '1', 'true', 'false']).optional().describe('1: every host of the fleet (from the fleet database).');

export const AuditEventView = z.object({
  seq: z.int(),
  at: Timestamp,
  actor: z.string(),
  namespace: z.string().nullable(),
  action: z.string(),
  target: z.string().nullable(),
  outcome: z.enum(['ok', 'denied', 'error']),
  details: z.record(z.string(), z.unknown()).nullable(),
  prev_hash: z.string().describe('The hash of the row before (SHA-256, hex): the chain `bkg audit verify` walks.'),
  hash: z.string(),
  host: z.string().optional().describe('With fleet: the host whose chain the event is in.'),
}).strict();
export const AuditList = z.object({ events: z.array(AuditEventView) }).strict();
export const AuditQuery = z.object({
  since: z.string().optional().describe('An ISO time, or a duration back from now such as 1h.'),
  limit: z.string().regex(/^\d{1,6}$/, 'must be a whole number').optional(),
  fleet: FleetFlag,
}).strict();
export const AuditVerifyQuery = z.object({ fleet: FleetFlag }).strict();
const HostChain = z.object({ host: z.string(), ok: z.boolean(), count: z.int(), seq: z.int().optional(), reason: z.string().optional() }).strict();
export const AuditVerifyResult = z.union([
  z.object({ ok: z.literal(true), count: z.int() }).strict(),
  z.object({ ok: z.literal(false), count: z.int(), seq: z.int(), reason: z.string() }).strict(),
  z.object({ ok: z.boolean(), fleet: z.literal(true), hosts: z.array(HostChain).describe('Each host\'s chain as the fleet database holds it.') }).strict(),
]);

export const SyncStatus = z.object({
  enabled: z.literal(true),
  url: z.string().describe('The fleet database, its password hidden.'),
  host_id: z.string(),
  connected: z.boolean(),
  last_sync_at: Timestamp.nullable().describe('When this host last completed a round with the fleet database.'),
  stale: z.boolean().describe('Past the staleness bound: keys made on other hosts are refused (SYNC_STALE).'),
  max_staleness_s: z.number(),
  outbox: z.int().describe('Local changes not yet pushed.'),
  cursor: z.string().describe('The last fleet change applied here.'),
  conflicts: z.int().describe('Changes from other hosts skipped because they broke a local constraint.'),
  last_error: z.string().nullable(),
}).strict();

/** The calling key, as the daemon sees it: what a client may offer its user without asking to be refused. */
export const Whoami = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.enum(KEY_KINDS).describe('admin, namespace, readonly, or sandbox (a sandbox\'s own key).'),
  namespace: z.string().nullable().describe('The namespace it is bound to (null: every namespace).'),
  sandbox_id: z.string().nullable(),
  actions: z.array(z.string()).describe('Every action this key may take (the rights table); a namespace policy may narrow privileges further.'),
}).strict();

export const DaemonInfo = z.object({
  pid: z.int(),
  version: z.string(),
  home: z.string(),
  socket: z.string(),
  port: z.int().nullable(),
  started_at: Timestamp,
  host: z.object({ id: z.string(), name: z.string(), peer_url: z.string().nullable().describe('Where other hosts forward requests for this host\'s sandboxes (mutual TLS); null: not set up.') }).strict(),
  sync: z.union([SyncStatus, z.object({ enabled: z.literal(false) }).strict()]),
}).strict();

export const ShutdownResponse = z.object({ stopping: z.literal(true) }).strict();
/** The daemon's run-time settings (`bkg daemon config`): changed without a restart, each change audited. */
export const DaemonSettings = z.object({
  otel_sampling_rate: z.number().min(0).max(1).describe('The share of new traces kept, 0.0 to 1.0 (CAVE_OTEL_SAMPLING_RATE at start).'),
  otel_exporting: z.boolean().describe('Whether traces are exported (OTEL_EXPORTER_OTLP_ENDPOINT was set at start).'),
}).strict();
export const DaemonSettingsPatch = z.object({
  otel_sampling_rate: z.number().min(0).max(1).optional().describe('The share of new traces to keep, 0.0 to 1.0.'),
}).strict();
export const Health = z.object({ ok: z.boolean(), problems: z.array(z.string()).optional().describe('Why the daemon is unhealthy (503).') }).strict();

export type { Role as KeyRole } from '../names.js';
export type CreateKeyRequest = z.infer<typeof CreateKeyRequest>;
export type ApiKeyView = z.infer<typeof ApiKeyView>;
export type KeyWithSecret = z.infer<typeof KeyWithSecret>;
export type AuditEventView = z.infer<typeof AuditEventView>;
export type AuditQuery = { since?: string; limit?: number; fleet?: boolean };
export type AuditVerifyResult = z.infer<typeof AuditVerifyResult>;
export type DaemonInfo = z.infer<typeof DaemonInfo>;
export type SyncStatusView = z.infer<typeof SyncStatus>;
export type HealthResult = z.infer<typeof Health>;
export type Whoami = z.infer<typeof Whoami>;
