/** The registry's tables live in the store now (src/store/repos/models.ts); their records are re-exported here. */
export { JOB_STATUSES } from '../../store/types.js';
export type { DownloadJob, JobStatus, TrustedKey } from '../../store/types.js';
