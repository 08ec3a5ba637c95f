/**
 * Verification inside a throwaway bkg sandbox: the verifier (gguf-verifier.ts, compiled) run as
 * `node --input-type=module -e <its text>` with no network, capped memory, processes, disk and
 * time, and only the candidate file visible (its directory is the copy-on-write workspace, so the
 * file on the host cannot be changed from inside). The registry trusts nothing but the one JSON
 * line the verifier prints, and checks that line strictly.
 *
 * A pull uses `startVerifier`: the sandbox starts before the file is complete (a spare started
 * after the pull before, verifier-spare.ts, or one started with the download, so its start-up
 * overlaps it) and waits; `finish` tells it the file is complete, and it checks the GGUF structure. The sha256 is the
 * registry's own, hashed as the bytes were written, and the expected digest and the signature are
 * checked here, in the daemon, against that digest: the file is read once, by the download.
 */
import { createPublicKey, verify as verifySignature } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { basename, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BkgError } from '../../api/errors.js';
import type { Logger } from '../../log.js';
import { newSandboxId, WORKSPACE_MOUNT, type SandboxDefinition } from '../../runtime/definition.js';
import { withDefaults } from '../../runtime/limits.js';
import type { SandboxRunner } from '../../runtime/engine.js';
import { hostnameOf } from '../../runtime/spec.js';
import type { GgufSummary } from './gguf-verifier.js';

export type { GgufSummary } from './gguf-verifier.js';

/** What the sandboxed verifier reported about a file that passed. */
export interface VerifyReport {
  sha256: string;
  size: number;
  gguf: GgufSummary;
  /** Fingerprint of the trusted key whose signature verified, or null when no signature was given. */
  signedBy: string | null;
  /**
   * waitedMs: from the sandbox's start until it was told the file is complete (a spare's wait, or
   * the download); durationMs: from then to the verdict; peakMemoryBytes: null when the verdict
   * came before the sandbox ended.
   */
  sandbox: { id: string; hostname: string; uid: number | null; interfaces: string[]; waitedMs: number; durationMs: number; peakMemoryBytes: number | null };
}

/** What the registry checks itself, against the digest it computed: the pinned sha256 and a signature. */
export interface VerifyChecks {
  expectedSha256?: string;
  signature?: Buffer;
  trustedKeys?: { fingerprint: string; key: string }[];
  /** Aborting stops the verifier. */
  signal?: AbortSignal;
}

export interface StartVerifyOptions {
  runtime: SandboxRunner;
  log: Logger;
  /** The node binary, visible inside the sandbox (under /usr or a top-level bin dir). */
  nodePath: string;
  /** The file alone in its directory: that directory becomes the sandbox's workspace. */
  file: string;
  memoryBytes?: number;
  /** The verification's time limit, from `finish` on (default: verifyTimeoutMs of the file's size). */
  timeoutMs?: number;
}

const STDOUT_CAP = 64 * 1024;
const STDERR_CAP = 8 * 1024;
export const VERIFY_MEMORY_BYTES = 256 * 1024 ** 2;

function failed(reason: string, details: Record<string, unknown> = {}): BkgError {
  return new BkgError('MODEL_VERIFICATION_FAILED', `model verification failed: ${reason}`, { details: { reason, ...details } });
}

/** Room to hash: at least 60 s, plus a second per 25 MiB. */
export function verifyTimeoutMs(size: number): number {
  return 60_000 + Math.ceil(size / (25 * 1024 ** 2)) * 1000;
}

/**
 * The compiled verifier: beside this module in dist/. Run from src/ (vitest), that is the build's
 * copy under dist/, which the test setup builds first.
 */
export function verifierFile(): string {
  const beside = fileURLToPath(new URL('./gguf-verifier.js', import.meta.url));
  return existsSync(beside) ? beside : fileURLToPath(new URL('../../../dist/llm/registry/gguf-verifier.js', import.meta.url));
}

/**
 * The verifier's command line. Its text goes in as an inline ES module rather than as a path, so
 * the sandbox needs no view of bkg's own files: only node (under /usr or a bin dir) and the model.
 */
export function verifierArgv(nodePath: string): string[] {
  const file = verifierFile();
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (err) {
    throw new BkgError('INTERNAL', `the GGUF verifier is missing (${file})`, { hint: 'Build bkg first: npm run build:ts.', cause: err });
  }
  return [nodePath, '--input-type=module', '-e', source];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The digest of the complete file, as the registry computed it while writing it. */
export interface FileDigest {
  sha256: string;
  size: number;
}

/** A verifier sandbox started ahead of the file: `finish` once the file is complete, or `cancel`. */
export interface VerifierRun {
  /** The file is complete (and has this digest): verify it, with `checks`. Rejects with MODEL_VERIFICATION_FAILED. */
  finish(digest: FileDigest, checks?: VerifyChecks): Promise<VerifyReport>;
  /** The sandbox has ended (it can verify nothing any more). */
  readonly ended: boolean;
  /** Stop the sandbox (the pull failed or was cancelled); waits for it to end. Never rejects. */
  cancel(): Promise<void>;
  /** Resolves once the sandbox has ended and is cleaned up (finish resolves on the verifier's line, before that). */
  readonly closed: Promise<void>;
}

/** How long the waiting verifier may live before `finish` (a download of any size; the download has its own idle timeout). */
const WAIT_LIMIT_MS = 7 * 24 * 3600 * 1000;

/**
 * Start the verifier sandbox now, over `o.file`'s directory: the file must exist (it may still be
 * empty and growing). It waits for `finish`.
 */
export function startVerifier(o: StartVerifyOptions): VerifierRun {
  const id = newSandboxId();
  const def: SandboxDefinition = {
    id,
    argv: verifierArgv(o.nodePath),
    env: { BKG_VERIFY_FILE: `${WORKSPACE_MOUNT}/${basename(o.file)}`, BKG_VERIFY_WAIT: '1' },
    limits: withDefaults({ memoryBytes: o.memoryBytes ?? VERIFY_MEMORY_BYTES, pids: 64, diskBytes: 16 * 1024 ** 2, timeoutMs: WAIT_LIMIT_MS }),
    network: 'none',
    workspace: dirname(o.file),
  };
  let stdout = '';
  let stderr = '';
  let stdin: Writable | null = null;
  /** finish() was called: the file is complete. */
  let go = false;
  let stop: (() => void) | undefined;
  let stopped = false;
  let timedOut = false;
  let ended = false;
  const started = performance.now();
  /** Resolves when the verifier's line is complete (it prints one, then exits). */
  let lineDone: () => void = () => {};
  const line = new Promise<'line'>((resolve) => (lineDone = () => resolve('line')));
  const kill = (): void => {
    stopped = true;
    stop?.();
  };
  const run = o.runtime
    .run(def, {
      stdio: ['pipe', 'pipe', 'pipe'],
      onStdin: (w) => {
        stdin = w;
        if (go) w.end('go\n'); // finish() came first
      },
      onStdout: (c) => {
        if (stdout.length < STDOUT_CAP) stdout += c.toString('utf8');
        if (stdout.includes('\n') || stdout.length >= STDOUT_CAP) lineDone();
      },
      onStderr: (c) => {
        if (stderr.length < STDERR_CAP) stderr += c.toString('utf8');
      },
      onStarted: (ctl) => {
        stop = () => ctl.stop();
        if (stopped) stop();
      },
    })
    .finally(() => void (ended = true));
  run.catch(() => {});
  const closed = run.then(
    () => undefined,
    () => undefined,
  );

  return {
    closed,
    get ended() {
      return ended;
    },
    async cancel(): Promise<void> {
      kill();
      (stdin as Writable | null)?.end();
      await closed;
    },
    async finish(digest: FileDigest, checks: VerifyChecks = {}): Promise<VerifyReport> {
      const limit = o.timeoutMs ?? verifyTimeoutMs(digest.size);
      const timer = setTimeout(() => {
        timedOut = true;
        kill();
      }, limit);
      const onAbort = (): void => kill();
      if (checks.signal?.aborted) kill();
      checks.signal?.addEventListener('abort', onAbort, { once: true });
      let structure: Omit<VerifyReport, 'sha256' | 'signedBy'>;
      const told = performance.now();
      const waitedMs = told - started;
      try {
        go = true;
        (stdin as Writable | null)?.end('go\n');
        // The verdict is the line: taken as soon as it is complete, while the sandbox is torn
        // down (`closed`); without a line, the way the sandbox ended says why.
        const first = await Promise.race([line, run]);
        if (checks.signal?.aborted) throw new BkgError('DOWNLOAD_FAILED', 'the pull was cancelled during verification');
        if (timedOut) throw failed(`the verifier timed out after ${limit} ms`, { sandbox: id });
        if (first === 'line') structure = checkLine({ id, def, stdout, size: digest.size, waitedMs, durationMs: performance.now() - told, peakMemoryBytes: null });
        else {
          checkExit({ o, id, def, result: first, stderr });
          structure = checkLine({ id, def, stdout, size: digest.size, waitedMs, durationMs: performance.now() - told, peakMemoryBytes: first.peakMemoryBytes });
        }
      } finally {
        clearTimeout(timer);
        checks.signal?.removeEventListener('abort', onAbort);
      }
      if (checks.expectedSha256 && digest.sha256 !== checks.expectedSha256) throw failed(`sha256 mismatch: expected ${checks.expectedSha256}, got ${digest.sha256}`, { sandbox: id, sha256: digest.sha256 });
      const signedBy = checks.signature ? checkSignature(Buffer.from(digest.sha256, 'hex'), checks.signature, checks.trustedKeys ?? [], { sandbox: id, sha256: digest.sha256 }) : null;
      const report: VerifyReport = { ...structure, sha256: digest.sha256, signedBy };
      o.log.debug({ sha256: report.sha256, size: report.size, signedBy, sandbox: report.sandbox }, 'model verified in sandbox');
      return report;
    },
  };
}

/** The fingerprint of the trusted key whose Ed25519 signature over the raw digest verifies; MODEL_VERIFICATION_FAILED otherwise. */
function checkSignature(digest: Buffer, sig: Buffer, keys: { fingerprint: string; key: string }[], details: Record<string, unknown>): string {
  if (sig.length !== 64) throw failed(`malformed signature: an Ed25519 signature has 64 bytes, this one ${sig.length}`, details);
  if (keys.length === 0) throw failed('untrusted signer: a signature was given but no keys are trusted', details);
  for (const k of keys) {
    const raw = Buffer.from(k.key, 'base64');
    if (raw.length !== 32) continue;
    const pub = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
    if (verifySignature(null, digest, pub, sig)) return k.fingerprint;
  }
  throw failed(`bad signature or untrusted signer: the signature does not verify with any of the ${keys.length} trusted key(s)`, details);
}

type RunResultOf = Awaited<ReturnType<StartVerifyOptions['runtime']['run']>>;

/** A verifier that ended without printing its line: why. */
function checkExit(c: { o: Pick<StartVerifyOptions, 'nodePath'>; id: string; def: SandboxDefinition; result: RunResultOf; stderr: string }): void {
  const { id, def, result } = c;
  const tail = c.stderr.trim().split('\n').slice(-3).join(' | ').slice(0, 500);
  if (result.timedOut) throw failed(`the verifier timed out after ${def.limits.timeoutMs} ms`, { sandbox: id });
  if (result.oomKilled) throw failed(`the verifier ran out of memory (${def.limits.memoryBytes} bytes)`, { sandbox: id });
  if (result.execError) throw new BkgError('HELPER_FAILED', `the verifier could not start in the sandbox: ${result.execError}`, { details: { node: c.o.nodePath } });
  if (result.exitCode !== 0) throw failed(`the verifier exited with ${result.exitCode ?? `signal ${result.signal}`}${tail ? `: ${tail}` : ''}`, { sandbox: id });
}

/** The verifier's one line, checked strictly: the GGUF summary, the size it saw and where it ran. */
function checkLine(c: { id: string; def: SandboxDefinition; stdout: string; size: number; waitedMs: number; durationMs: number; peakMemoryBytes: number | null }): Omit<VerifyReport, 'sha256' | 'signedBy'> {
  const { id, def } = c;
  const line = c.stdout.trim().split('\n')[0] ?? '';
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    throw failed('the verifier printed no result', { sandbox: id });
  }
  if (!isObject(parsed) || typeof parsed.ok !== 'boolean' || !isObject(parsed.sandbox)) throw failed('the verifier printed a malformed result', { sandbox: id });
  const sb = parsed.sandbox;
  const expectedHost = hostnameOf(def);
  if (sb.hostname !== expectedHost) throw failed(`the result did not come from sandbox ${expectedHost}`, { sandbox: id });
  if (parsed.ok !== true) {
    const reason = typeof parsed.reason === 'string' ? parsed.reason.slice(0, 500) : 'unknown reason';
    throw failed(reason, { sandbox: id });
  }
  const { gguf } = parsed;
  if (parsed.sha256 !== null || parsed.signed_by !== null) throw failed('the verifier reported a digest or a signer in structure-only mode', { sandbox: id });
  if (parsed.size !== c.size) throw failed(`the verifier saw ${String(parsed.size)} bytes, the file has ${c.size}`, { sandbox: id });
  if (!isObject(gguf)) throw failed('the verifier reported no GGUF summary', { sandbox: id });
  return {
    size: c.size,
    gguf: gguf as unknown as GgufSummary,
    sandbox: {
      id,
      hostname: expectedHost,
      uid: typeof sb.uid === 'number' ? sb.uid : null,
      interfaces: Array.isArray(sb.interfaces) ? sb.interfaces.filter((x): x is string => typeof x === 'string') : [],
      waitedMs: c.waitedMs,
      durationMs: c.durationMs,
      peakMemoryBytes: c.peakMemoryBytes,
    },
  };
}
