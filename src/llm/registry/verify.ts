/**
 * Verification inside a throwaway bkg sandbox: the verifier (gguf-verifier.ts, compiled) run as
 * `node --input-type=module -e <its text>` with no network, capped memory, processes, disk and
 * time, and only the candidate file visible (its directory is the copy-on-write workspace, so the
 * file on the host cannot be changed from inside). The registry trusts nothing but the one JSON
 * line the verifier prints, and checks that line strictly.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BkgError } from '../../api/errors.js';
import type { Logger } from '../../log.js';
import { newSandboxId, WORKSPACE_MOUNT, type SandboxDefinition } from '../../runtime/definition.js';
import { withDefaults } from '../../runtime/limits.js';
import type { SandboxRunner } from '../../runtime/engine.js';
import { hostnameOf } from '../../runtime/spec.js';
import type { GgufSummary } from './gguf-verifier.js';
import { isSha256 } from './names.js';

export type { GgufSummary } from './gguf-verifier.js';

/** What the sandboxed verifier reported about a file that passed. */
export interface VerifyReport {
  sha256: string;
  size: number;
  gguf: GgufSummary;
  /** Fingerprint of the trusted key whose signature verified, or null when no signature was given. */
  signedBy: string | null;
  sandbox: { id: string; hostname: string; uid: number | null; interfaces: string[]; durationMs: number; peakMemoryBytes: number | null };
}

export interface VerifyOptions {
  runtime: SandboxRunner;
  log: Logger;
  /** The node binary, visible inside the sandbox (under /usr or a top-level bin dir). */
  nodePath: string;
  /** The file alone in its directory: that directory becomes the sandbox's workspace. */
  file: string;
  expectedSha256?: string;
  signature?: Buffer;
  trustedKeys?: { fingerprint: string; key: string }[];
  memoryBytes?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
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

export async function verifyInSandbox(o: VerifyOptions): Promise<VerifyReport> {
  const size = statSync(o.file).size;
  const id = newSandboxId();
  const env: Record<string, string> = { BKG_VERIFY_FILE: `${WORKSPACE_MOUNT}/${basename(o.file)}` };
  if (o.expectedSha256) env.BKG_VERIFY_SHA256 = o.expectedSha256;
  if (o.signature) {
    env.BKG_VERIFY_SIG = o.signature.toString('base64');
    env.BKG_VERIFY_KEYS = JSON.stringify(o.trustedKeys ?? []);
  }
  const def: SandboxDefinition = {
    id,
    argv: verifierArgv(o.nodePath),
    env,
    limits: withDefaults({ memoryBytes: o.memoryBytes ?? VERIFY_MEMORY_BYTES, pids: 64, diskBytes: 16 * 1024 ** 2, timeoutMs: o.timeoutMs ?? verifyTimeoutMs(size) }),
    network: 'none',
    workspace: dirname(o.file),
  };
  let stdout = '';
  let stderr = '';
  let stop: (() => void) | undefined;
  const onAbort = () => stop?.();
  o.signal?.addEventListener('abort', onAbort, { once: true });
  let result;
  try {
    result = await o.runtime.run(def, {
      stdio: ['ignore', 'pipe', 'pipe'],
      onStdout: (c) => {
        if (stdout.length < STDOUT_CAP) stdout += c.toString('utf8');
      },
      onStderr: (c) => {
        if (stderr.length < STDERR_CAP) stderr += c.toString('utf8');
      },
      onStarted: (ctl) => {
        stop = () => ctl.stop();
        if (o.signal?.aborted) stop();
      },
    });
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
  }
  if (o.signal?.aborted) throw new BkgError('DOWNLOAD_FAILED', 'the pull was cancelled during verification');
  const tail = stderr.trim().split('\n').slice(-3).join(' | ').slice(0, 500);
  if (result.timedOut) throw failed(`the verifier timed out after ${def.limits.timeoutMs} ms`, { sandbox: id });
  if (result.oomKilled) throw failed(`the verifier ran out of memory (${def.limits.memoryBytes} bytes)`, { sandbox: id });
  if (result.execError) throw new BkgError('HELPER_FAILED', `the verifier could not start in the sandbox: ${result.execError}`, { details: { node: o.nodePath } });
  if (result.exitCode !== 0) throw failed(`the verifier exited with ${result.exitCode ?? `signal ${result.signal}`}${tail ? `: ${tail}` : ''}`, { sandbox: id });

  const line = stdout.trim().split('\n').pop() ?? '';
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
    throw failed(reason, { sandbox: id, ...(typeof parsed.sha256 === 'string' && isSha256(parsed.sha256) ? { sha256: parsed.sha256 } : {}) });
  }
  const { sha256, gguf, signed_by: signedBy } = parsed;
  if (typeof sha256 !== 'string' || !isSha256(sha256)) throw failed('the verifier reported no valid sha256', { sandbox: id });
  if (parsed.size !== size) throw failed(`the verifier saw ${String(parsed.size)} bytes, the file has ${size}`, { sandbox: id });
  if (o.expectedSha256 && sha256 !== o.expectedSha256) throw failed(`sha256 mismatch: expected ${o.expectedSha256}, got ${sha256}`, { sandbox: id, sha256 });
  if (!isObject(gguf)) throw failed('the verifier reported no GGUF summary', { sandbox: id });
  if (o.signature) {
    const fingerprints = new Set((o.trustedKeys ?? []).map((k) => k.fingerprint));
    if (typeof signedBy !== 'string' || !fingerprints.has(signedBy)) throw failed('the signature was not verified by a trusted key', { sandbox: id, sha256 });
  } else if (signedBy !== null) {
    throw failed('the verifier reported a signer for an unsigned model', { sandbox: id });
  }
  const report: VerifyReport = {
    sha256,
    size,
    gguf: gguf as unknown as GgufSummary,
    signedBy: (signedBy as string | null) ?? null,
    sandbox: {
      id,
      hostname: expectedHost,
      uid: typeof sb.uid === 'number' ? sb.uid : null,
      interfaces: Array.isArray(sb.interfaces) ? sb.interfaces.filter((x): x is string => typeof x === 'string') : [],
      durationMs: result.durationMs,
      peakMemoryBytes: result.peakMemoryBytes,
    },
  };
  o.log.debug({ sha256, size, signedBy: report.signedBy, sandbox: report.sandbox }, 'model verified in sandbox');
  return report;
}
