export { ProjectRepo, NamespaceRepo, type Project, type Namespace } from './projects.js';
export { SandboxRepo, SANDBOX_STATUSES, type Sandbox, type NewSandbox, type SandboxStatus, type RuntimeInfo } from './sandboxes.js';
export { ExecutionRepo, type Execution, type NewExecution } from './executions.js';
export { PolicyRepo, type Policy } from './policies.js';
