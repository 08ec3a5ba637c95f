/** Keys, the audit log, the daemon itself, health. */
import { NAME_PATTERN, ROLES } from '../names.js';
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
  masked: z.string().describe('bkg_abcd…wxyz: the secret is shown only once, when created or rotated.'),
  created_at: Timestamp,
  revoked_at: NullableTimestamp,
  last_used_at: NullableTimestamp,
}).strict();

export const KeyWithSecret = z.object({ key: ApiKeyView, secret: z.string().describe('The full key: shown only here, once.') }).strict();
export const KeyList = z.object({ keys: z.array(ApiKeyView) }).strict();
export const KeyParams = z.object({ id: z.string() }).strict();

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
}).strict();
export const AuditList = z.object({ events: z.array(AuditEventView) }).strict();
export const AuditQuery = z.object({
  since: z.string().optional().describe('An ISO time, or a duration back from now such as 1h.'),
  limit: z.string().regex(/^\d{1,6}$/, 'must be a whole number').optional(),
}).strict();
export const AuditVerifyResult = z.union([
  z.object({ ok: z.literal(true), count: z.int() }).strict(),
  z.object({ ok: z.literal(false), count: z.int(), seq: z.int(), reason: z.string() }).strict(),
]);

export const DaemonInfo = z.object({
  pid: z.int(),
  version: z.string(),
  home: z.string(),
  socket: z.string(),
  port: z.int().nullable(),
  started_at: Timestamp,
}).strict();

export const ShutdownResponse = z.object({ stopping: z.literal(true) }).strict();
export const Health = z.object({ ok: z.boolean(), problems: z.array(z.string()).optional().describe('Why the daemon is unhealthy (503).') }).strict();

export type { Role as KeyRole } from '../names.js';
export type CreateKeyRequest = z.infer<typeof CreateKeyRequest>;
export type ApiKeyView = z.infer<typeof ApiKeyView>;
export type KeyWithSecret = z.infer<typeof KeyWithSecret>;
export type AuditEventView = z.infer<typeof AuditEventView>;
export type AuditQuery = { since?: string; limit?: number };
export type AuditVerifyResult = z.infer<typeof AuditVerifyResult>;
export type DaemonInfo = z.infer<typeof DaemonInfo>;
export type HealthResult = z.infer<typeof Health>;
