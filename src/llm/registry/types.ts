/** The model registry's options, and the shapes of what its methods take and return. */
import type { Logger } from '../../log.js';
import type { SandboxRunner } from '../../runtime/engine.js';
import type { Store } from '../../store/repositories.js';
import type { DownloadJob, TrustedKey } from '../../store/types.js';
import type { DownloadTuning } from './download.js';
import type { VerifyReport } from './verify.js';

/** What the registry needs from the store: its three tables, and transactions. */
export type ModelRegistryStore = Pick<Store, 'models' | 'trustedKeys' | 'downloadJobs' | 'modelSignatures' | 'transaction'>;

export interface ModelRegistryOptions {
  /** The Store (openStore), or any object with these members of it. */
  store: ModelRegistryStore;
  /** BKG_HOME: models live under $home/models. */
  home: string;
  /** Runs the verifier (one command in a throwaway sandbox). */
  runtime: SandboxRunner;
  log: Logger;
  /** gc evicts least-recently-used models until the cache holds at most this many bytes. */
  capBytes?: number;
  /** The node binary the verifier runs with; default: `node` from the sandbox-visible bin dirs. */
  nodePath?: string;
  /** Retries, backoff and idle timeout of HTTP downloads. */
  download?: DownloadTuning;
  /** Refuse sources larger than this (default 1 TiB). */
  maxModelBytes?: number;
  /** Background download jobs that run at once (default 2); more wait as 'queued'. */
  concurrency?: number;
  /** Memory limit of the verification sandbox (default 256 MiB). */
  verifyMemoryBytes?: number;
  /** A spare verifier sandbox (started after a pull for the next one) ends when not taken for this long (default 10 minutes). */
  spareVerifierIdleMs?: number;
  /** The clock of manifests, uses and gc (download jobs are stamped by the store's own clock). */
  now?: () => Date;
  /** Told each download job as it is created, at every change of status, and as its progress is recorded (at most a few times a second). */
  onJob?: (job: DownloadJob) => void;
}

/** Brings a model's bytes into a local file (`path`); `release` removes it once it was copied. */
export type ModelFetcher = (o: { onProgress: (done: number, total: number | null) => void; signal?: AbortSignal }) => Promise<{ path: string; release(): void }>;

export type PullPhase = 'downloading' | 'verifying' | 'done';

export interface PullProgress {
  phase: PullPhase;
  bytesDone: number;
  bytesTotal: number | null;
}

export interface PullOptions {
  /** An http(s) URL or an absolute local path. */
  source: string;
  /** Model name; the id is derived from it (default: the source's file name without .gguf). */
  name?: string;
  /** Expected sha256 (hex): anything else fails verification. */
  sha256?: string;
  /** Detached Ed25519 signature over the file's raw 32-byte sha256 digest: a path, or the bytes (raw 64 or base64 text). */
  sig?: string | Uint8Array;
  onProgress?: (p: PullProgress) => void;
  /**
   * Fetch the file some other way than `source` (the P2P plugin: chunks from trusted peers); the
   * file it returns goes through the same verification as a download. `source` is then only a label.
   */
  fetch?: ModelFetcher;
  /** The sandboxed verifier's report, once the file passed. */
  onVerified?: (report: VerifyReport) => void;
  signal?: AbortSignal;
}

export type StartDownloadOptions = Omit<PullOptions, 'onProgress' | 'onVerified' | 'signal'>;

/** What a running pull reports to its caller and can be stopped by. */
export type PullHooks = Pick<PullOptions, 'onProgress' | 'onVerified' | 'signal'>;

export interface StartedDownload {
  job_id: string;
  /** The id the model will get (a pull of a file already cached under another id returns that one). */
  model_id: string;
}

export interface GcRemoved {
  kind: 'model' | 'blob' | 'partial';
  name: string;
  bytes: number;
}

export interface GcResult {
  removed: GcRemoved[];
  freed_bytes: number;
}

export interface TrustStore {
  /** Trust an Ed25519 public key (PEM, base64 raw or DER, or ssh-ed25519); idempotent per key. */
  add(name: string, publicKey: string): TrustedKey;
  list(): TrustedKey[];
  /** NOT_FOUND when no key has this fingerprint. */
  remove(fingerprint: string): void;
}
