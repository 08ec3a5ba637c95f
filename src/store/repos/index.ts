export { ProjectRepo, NamespaceRepo, type Project, type Namespace } from './projects.js';
export { SandboxRepo, SANDBOX_STATUSES, type Sandbox, type NewSandbox, type SandboxStatus, type RuntimeInfo, type NamespaceUsageCounts } from './sandboxes.js';
export { ExecutionRepo, type Execution, type NewExecution } from './executions.js';
export { RateLimitRepo, type RateLimit } from './rate-limits.js';
export { NamespacePolicyRepo, type StoredPolicy } from './policies.js';
