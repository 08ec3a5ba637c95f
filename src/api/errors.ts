/**
 * The one error registry: every error bkg reports has a stable code, an HTTP
 * status, a CLI exit code and a default hint. CLI, daemon and MCP map errors
 * through `toErrorBody` / `exitCodeFor`, never ad hoc.
 */
export interface ErrorSpec {
  readonly status: number;
  readonly exitCode: number;
  readonly hint: string;
}

export const ERRORS = {
  INVALID_ARGUMENT: { status: 400, exitCode: 2, hint: 'Check the named field or flag; `bkg <command> --help` lists valid values.' },
  INVALID_SECCOMP_PROFILE: { status: 400, exitCode: 2, hint: 'Pass a seccomp profile in the OCI, Docker or Podman JSON format (for example Docker\'s or Podman\'s default profile as published); details.field names the part that is wrong.' },
  INVALID_CONFIG: { status: 400, exitCode: 2, hint: 'Fix the named setting; bkg never falls back to defaults for an invalid config.' },
  RUNTIME_NOT_FOUND: { status: 400, exitCode: 2, hint: 'Install the interpreter on the host (under /usr, /bin or /opt) or pick another --runtime.' },
  WORKSPACE_INVALID: { status: 400, exitCode: 2, hint: 'Pass an existing directory other than / as --workspace.' },
  ISOLATION_UNAVAILABLE: { status: 503, exitCode: 3, hint: 'Run `bkg doctor` to see which kernel feature is missing and how to enable it.' },
  LIMIT_UNENFORCEABLE: { status: 503, exitCode: 3, hint: 'Run `bkg doctor`: a cgroup controller needed for this limit is not available to bkg.' },
  HELPER_MISSING: { status: 503, exitCode: 3, hint: 'Rebuild the helper with `npm run build:helper` (needs a C compiler: apt-get install gcc).' },
  HELPER_FAILED: { status: 500, exitCode: 3, hint: 'The sandbox helper failed while setting up; the message names the step. `bkg doctor` checks the host.' },
  UNSUPPORTED_ARCH: { status: 503, exitCode: 3, hint: 'bkg sandboxes currently support x86_64 hosts only.' },
  NOT_FOUND: { status: 404, exitCode: 2, hint: 'Check the id or name (it may have been deleted, or belong to another namespace).' },
  CONFLICT: { status: 409, exitCode: 2, hint: 'Pick another name, or remove the existing one first.' },
  NO_HOST_WORKSPACE: { status: 409, exitCode: 2, hint: 'Only a sandbox created with a host directory (`--workspace DIR`, cave.yaml `workspace:`) can apply its /workspace changes; copy files out of this one with `bkg cp NAME:/workspace/FILE .` (`bkg diff NAME` lists them).' },
  SANDBOX_NOT_RUNNING: { status: 409, exitCode: 2, hint: 'Start the sandbox first (`bkg run NAME`); `bkg ls` shows its status.' },
  FORBIDDEN: { status: 403, exitCode: 4, hint: 'This API key\'s role or namespace does not allow that action.' },
  NETWORK_DENIED: { status: 403, exitCode: 4, hint: 'The sandbox\'s egress allowlist (`--network allow:HOST[:PORT],…`) does not let that host or port through; the message says which and why. If it should be reachable, give the sandbox an allowlist that names it (a name, *.DOMAIN, an IP or CIDR; without a port, 80 and 443).' },
  UNAUTHENTICATED: { status: 401, exitCode: 4, hint: 'Pass a valid API key as `Authorization: Bearer <key>` (or use the local unix socket).' },
  METHOD_NOT_ALLOWED: { status: 405, exitCode: 2, hint: 'The Allow header lists the methods this path accepts.' },
  PAYLOAD_TOO_LARGE: { status: 413, exitCode: 2, hint: 'Send a smaller request body; the daemon\'s limit is BKG_MAX_BODY.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, exitCode: 2, hint: 'Send the request body as JSON with `Content-Type: application/json`.' },
  RATE_LIMITED: { status: 429, exitCode: 5, hint: 'Too many requests; retry after the number of seconds in the Retry-After header.' },
  QUOTA_EXCEEDED: { status: 403, exitCode: 5, hint: 'The namespace\'s policy caps this (the message names the quota): delete or stop sandboxes you no longer need (`bkg ls`, `bkg rm NAME`), or ask an admin to raise it (`bkg policy set NAMESPACE ...`).' },
  DAEMON_UNAVAILABLE: { status: 503, exitCode: 3, hint: 'Check $BKG_HOME/logs/daemon.out; `bkg daemon start --foreground` shows why it cannot start.' },
  AUDIT_TAMPERED: { status: 409, exitCode: 6, hint: 'The audit log was modified outside bkg; the row named was edited, deleted or reordered.' },
  SIGNATURE_INVALID: { status: 422, exitCode: 6, hint: 'The release\'s provenance is not signed by the key given (or was changed after signing): do not install it. Check that --key is the publisher\'s public key.' },
  DIGEST_MISMATCH: { status: 422, exitCode: 6, hint: 'A released file differs from the one its signed provenance names (details.subject): it was changed or replaced after signing. Do not install it.' },
  MODEL_VERIFICATION_FAILED: { status: 422, exitCode: 2, hint: 'The model file failed verification in a sandbox (digest, signature or GGUF structure); the message names the check. Nothing was added to the cache.' },
  DOWNLOAD_FAILED: { status: 502, exitCode: 3, hint: 'The model source could not be fetched (after retries); check the URL or path and the network, then pull again.' },
  SYNC_UNAVAILABLE: { status: 503, exitCode: 3, hint: 'The fleet database (Postgres) cannot be reached; this host keeps serving its own sandboxes from its local copy. `bkg daemon status` shows the sync state.' },
  SYNC_STALE: { status: 401, exitCode: 4, hint: 'This host has not synced with the fleet for longer than its staleness bound, so it refuses keys made on other hosts until it catches up. Use a key made on this host, or the local socket; `bkg daemon status` shows when it last synced.' },
  SLOW_CONSUMER: { status: 429, exitCode: 5, hint: 'The event stream\'s reader fell behind the daemon\'s replay buffer (BKG_EVENTS_BUFFER) and was cut off; reconnect with ?since= and the id of the last event read (a stream.gap says what was lost).' },
  HOST_UNAVAILABLE: { status: 503, exitCode: 3, hint: 'The host that owns this sandbox does not answer; `bkg ls --all-hosts` shows each sandbox\'s host. Retry when it is back.' },
  P2P_DISABLED: { status: 409, exitCode: 2, hint: 'This daemon runs without its P2P node: start it with `bkg daemon start --p2p` (BKG_P2P=1) after `bkg peers init`.' },
  PEER_UNAVAILABLE: { status: 503, exitCode: 3, hint: 'No trusted peer that holds this model answers: `bkg peers ls` shows which peers are connected and what they hold.' },
  INTERNAL: { status: 500, exitCode: 1, hint: 'This is a bug in bkg; please report it with the command you ran.' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/**
 * Marks every BkgError, whichever copy of this module made it: the CLI's fast path carries one copy
 * in its bundle and dist/ holds another (the dashboard, oclif's commands), so `instanceof` goes by
 * the mark, not by the class object.
 */
const BRAND = Symbol.for('bkg.error');

export class BkgError extends Error {
  static override [Symbol.hasInstance](v: unknown): boolean {
    return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[BRAND] === true;
  }

  readonly code: ErrorCode;
  readonly hint: string;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, opts: { hint?: string; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'BkgError';
    Object.defineProperty(this, BRAND, { value: true });
    this.code = code;
    this.hint = opts.hint ?? ERRORS[code].hint;
    if (opts.details) this.details = opts.details;
  }

  get status(): number {
    return ERRORS[this.code].status;
  }

  get exitCode(): number {
    return ERRORS[this.code].exitCode;
  }
}

export interface ErrorBody {
  /** `trace_id`: the request's trace, when the daemon exports traces and kept this one. */
  error: { code: ErrorCode; message: string; hint: string; details?: Record<string, unknown>; trace_id?: string };
}

/** Normalise anything thrown into a BkgError (unknown errors become INTERNAL). */
export function asBkgError(err: unknown): BkgError {
  if (err instanceof BkgError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new BkgError('INTERNAL', message, { cause: err });
}

/** The wire shape of an error, shared by REST, MCP and `--json` output. */
export function toErrorBody(err: unknown): { status: number; body: ErrorBody } {
  const e = asBkgError(err);
  const body: ErrorBody = { error: { code: e.code, message: e.message, hint: e.hint } };
  if (e.details) body.error.details = e.details;
  return { status: e.status, body };
}

export function exitCodeFor(err: unknown): number {
  return asBkgError(err).exitCode;
}

/** Where an MCP tool error carries the error body (`structuredContent` is the tool's declared output, for successes). */
export const MCP_ERROR_META = 'bkg/error';

/** The same error as an MCP tool result: isError, our stable code in the text, and the whole body in `_meta["bkg/error"]`. */
export function toMcpToolError(err: unknown): { isError: true; content: { type: 'text'; text: string }[]; _meta: Record<string, ErrorBody['error']> } {
  const { body } = toErrorBody(err);
  return { isError: true, content: [{ type: 'text', text: `${body.error.code}: ${body.error.message}\nhint: ${body.error.hint}` }], _meta: { [MCP_ERROR_META]: body.error } };
}
