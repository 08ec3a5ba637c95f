/** Errors of the daemon client: a non-2xx answer as the BkgError the daemon reported, and a daemon that cannot be reached. */
import { BkgError, ERRORS, type ErrorCode } from '../api/errors.js';
import type { Endpoint } from './endpoint.js';

/** Errors that mean nothing listens on the socket or port, so the request was never sent. */
export const NOT_LISTENING = new Set(['ECONNREFUSED', 'ENOENT']);

export function errCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERRORS, code);
}

export function snippet(body: Buffer): string {
  const text = body.toString('utf8', 0, Math.min(body.length, 200)).replace(/\s+/g, ' ').trim();
  return text ? `: ${text}` : '';
}

/** The BkgError for a non-2xx answer: the daemon's own code, message and hint; unknown codes are INTERNAL. */
export function errorFromResponse(status: number, body: Buffer): BkgError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const e = (parsed as { error?: unknown } | undefined)?.error;
  if (typeof e !== 'object' || e === null || typeof (e as { message?: unknown }).message !== 'string') {
    return new BkgError('INTERNAL', `the daemon answered HTTP ${status} without an error body${snippet(body)}`, { details: { status } });
  }
  const { code, message, hint, details } = e as { code?: unknown; message: string; hint?: unknown; details?: unknown };
  const extra = typeof details === 'object' && details !== null && !Array.isArray(details) ? (details as Record<string, unknown>) : undefined;
  const opts = { ...(typeof hint === 'string' ? { hint } : {}) };
  if (isErrorCode(code)) return new BkgError(code, message, { ...opts, ...(extra ? { details: extra } : {}) });
  return new BkgError('INTERNAL', `the daemon reported ${typeof code === 'string' ? code : 'an error'}: ${message}`, {
    ...opts,
    details: { ...extra, status, ...(typeof code === 'string' ? { code } : {}) },
  });
}


/** DAEMON_UNAVAILABLE for a daemon that cannot be reached (a BkgError passes through). */
export function unreachable(endpoint: Endpoint, err: unknown): unknown {
  if (err instanceof BkgError) return err;
  const code = errCode(err);
  const where = endpoint.url;
  const reason = err instanceof Error ? err.message : String(err);
  if (code === 'EACCES' || code === 'EPERM') {
    return new BkgError('DAEMON_UNAVAILABLE', `cannot connect to the bkg daemon at ${where}: permission denied`, {
      hint: 'The socket belongs to another user: run bkg as that user, set BKG_HOME to your own directory, or use BKG_API_URL with BKG_API_KEY.',
      cause: err,
    });
  }
  const hint = endpoint.home === undefined
    ? 'Check BKG_API_URL (and that the daemon runs there); unset it to use the local daemon.'
    : undefined;
  const what = code !== undefined && NOT_LISTENING.has(code) ? 'nothing is listening' : reason;
  return new BkgError('DAEMON_UNAVAILABLE', `cannot reach the bkg daemon at ${where}: ${what}`, { ...(hint ? { hint } : {}), details: { url: where, ...(code ? { cause: code } : {}) }, cause: err });
}