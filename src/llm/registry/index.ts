/** The admin LLM's model registry: verified, content-addressed GGUF models. */
export { ModelRegistry } from './registry.js';
export type {
  ModelRegistryOptions,
  ModelRegistryStore,
  PullOptions,
  PullProgress,
  PullPhase,
  StartDownloadOptions,
  StartedDownload,
  GcResult,
  GcRemoved,
  TrustStore,
} from './types.js';
export { JOB_STATUSES, type DownloadJob, type JobStatus, type TrustedKey } from './store.js';
export { verifyTimeoutMs, type VerifyReport, type GgufSummary } from './verify.js';
export { fingerprintOf, parsePublicKey, parseSignature } from './keys.js';
export { modelIdFrom, parseSource, parseSha256 } from './names.js';
export { downloadHttp, copyLocal, parseContentRange, type DownloadTuning, type DownloadResult } from './download.js';
