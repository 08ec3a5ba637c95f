/** Response shapes of the daemon's REST API as the client sees them (request shapes live in src/api). */
import type { ChangesResponse, SandboxView } from '../api/sandboxes.js';

export type { CreateSandboxRequest, ExecRequest, ExecResponse, LimitsInput, SandboxStatus, SandboxView } from '../api/sandboxes.js';

/** One workspace change: a path relative to the workspace, what happened to it, and its file type. */
export type Change = ChangesResponse['changes'][number];

export interface CreateSandboxResult {
  sandbox: SandboxView;
  /** The sandbox's own API key, in full: shown only here, once. */
  api_key_secret: string;
}

export type {
  ApiKeyView, AuditEventView, AuditQuery, AuditVerifyResult, CreateKeyRequest, DaemonInfo, ExecutionView, HealthResult, KeyRole, KeyWithSecret,
} from '../api/admin.js';

export type { NamespacePolicy, NamespaceUsage, PolicyPatch, PolicyView } from '../api/policies.js';
