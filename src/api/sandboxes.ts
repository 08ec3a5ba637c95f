/**
 * The sandbox wire contract as the rest of bkg imports it without loading zod: names, caps and the
 * types of schema/sandboxes.ts (where the schemas themselves are).
 */
export { ENV_NAME_PATTERN, EXEC_OUTPUT_CAP, FILE_CAP, LIMIT_HITS, NAME_PATTERN, NETWORKS, RUNTIMES, SANDBOX_STATUSES } from './names.js';
export type { Change, CreatedSandbox, CreateSandboxRequest, ExecRequest, ExecResponse, ExecSummary, ExecutionView, LimitsInput, SandboxView } from './schema/sandboxes.js';

export type SandboxStatus = (typeof import('./names.js').SANDBOX_STATUSES)[number];
export type LimitHit = (typeof import('./names.js').LIMIT_HITS)[number];

export interface ChangesResponse {
  changes: import('./schema/sandboxes.js').Change[];
}
