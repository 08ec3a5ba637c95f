/** The key, audit, log and daemon contract as the rest of bkg imports it without loading zod (schemas: schema/admin.ts). */
export type {
  ApiKeyView, AuditEventView, AuditQuery, AuditVerifyResult, CreateKeyRequest, DaemonInfo, HealthResult, KeyRole, KeyWithSecret, SyncStatusView, Whoami,
} from './schema/admin.js';
export type { ExecutionView } from './schema/sandboxes.js';
