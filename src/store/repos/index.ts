export { ProjectRepo, NamespaceRepo, type Project, type Namespace } from './projects.js';
export { SandboxRepo, SANDBOX_STATUSES, type Sandbox, type NewSandbox, type SandboxStatus, type RuntimeInfo, type NamespaceUsageCounts } from './sandboxes.js';
export { ExecutionRepo, type Execution, type NewExecution } from './executions.js';
export { RateLimitRepo, type RateLimit } from './rate-limits.js';
export { NamespacePolicyRepo, type StoredPolicy } from './policies.js';
export { ApiKeyRepo } from './api-keys.js';
export { ModelRepo, TrustedKeyRepo, DownloadJobRepo, JOB_STATUSES, type DownloadJob, type DownloadJobPatch, type JobStatus, type TrustedKey } from './models.js';
export { LlmAccessRepo, type AccessApproval, type AccessRequest, type AccessToken } from './llm-access.js';
