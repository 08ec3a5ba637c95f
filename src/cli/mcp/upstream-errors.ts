/**
 * The JSON-RPC error the MCP bridge gives the editor for a request the daemon never answered: the
 * daemon's own error (code, message, hint) when it sent one, else what the client says about an
 * unreachable daemon (src/client/errors.ts), with the bkg code in `data.code`.
 */
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode as RpcErrorCode } from '@modelcontextprotocol/sdk/types.js';
import { BkgError, ERRORS, type ErrorCode } from '../../api/errors.js';
import type { Endpoint } from '../../client/endpoint.js';
import { errorFromResponse, isErrorCode, NOT_LISTENING, unreachable } from '../../client/errors.js';

export const MCP_PATH = '/mcp';

export interface RpcError {
  code: number;
  message: string;
  data: { code: ErrorCode; hint: string; status?: number };
}

/** The first string `code` along an error's cause chain (fetch wraps the socket's error). */
export function causeCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e !== null && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** The body text the SDK put in a StreamableHTTPError message ("Error POSTing to endpoint: <body>"). */
function httpErrorBody(err: StreamableHTTPError): string {
  return err.message.replace(/^Streamable HTTP error: (Error POSTing to endpoint|Failed to [a-z ]+): ?/, '');
}

function bkgCodeForStatus(status: number): ErrorCode {
  if (status === 401) return 'UNAUTHENTICATED';
  if (status === 403) return 'FORBIDDEN';
  if (status === 413) return 'PAYLOAD_TOO_LARGE';
  if (status === 429) return 'RATE_LIMITED';
  if (status === 503 || status === 502) return 'DAEMON_UNAVAILABLE';
  if (status >= 400 && status < 500) return 'INVALID_ARGUMENT';
  return 'INTERNAL';
}

function rpc(e: BkgError, status?: number, rpcCode: number = RpcErrorCode.InternalError): RpcError {
  return { code: rpcCode, message: `${e.code}: ${e.message}`, data: { code: e.code, hint: e.hint, ...(status === undefined ? {} : { status }) } };
}

/** The JSON-RPC error the editor gets for a request the daemon never answered. */
export function describeUpstreamError(err: unknown, endpoint: Endpoint, opts: { initialize?: boolean } = {}): RpcError {
  const where = endpoint.url;
  if (err instanceof StreamableHTTPError && err.code !== undefined && err.code > 0) {
    const status = err.code;
    const text = httpErrorBody(err);
    if (status === 404 && opts.initialize) {
      // A daemon that predates MCP answers its router's 404.
      return rpc(new BkgError('NOT_FOUND', `the bkg daemon at ${where} has no MCP endpoint (${MCP_PATH})`, { hint: 'Restart the daemon with a bkg version that has MCP (`bkg daemon stop`; it starts again on demand).' }), status);
    }
    let body: { error?: { code?: unknown; message?: unknown } } | undefined;
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      body = undefined;
    }
    if (isErrorCode(body?.error?.code)) return rpc(errorFromResponse(status, Buffer.from(text)), status);
    // a JSON-RPC error of the MCP server (its own numeric code), or a body that is not ours
    const message = typeof body?.error?.message === 'string' ? body.error.message : text ? text.slice(0, 200) : `HTTP ${status}`;
    const rpcCode = typeof body?.error?.code === 'number' ? body.error.code : RpcErrorCode.InternalError;
    if (status === 401) return rpc(new BkgError('UNAUTHENTICATED', `the bkg daemon at ${where} refused the request: ${message}`, { hint: 'Set BKG_API_KEY to a valid API key for BKG_API_URL (or use the local daemon).' }), status, rpcCode);
    const code = bkgCodeForStatus(status);
    return rpc(new BkgError(code, `the bkg daemon at ${where} answered HTTP ${status}: ${message}`, { hint: ERRORS[code].hint }), status, rpcCode);
  }
  const code = causeCode(err);
  if (code !== undefined && (code === 'EACCES' || code === 'EPERM' || NOT_LISTENING.has(code) || code.startsWith('ECONN') || code === 'EPIPE')) {
    const e = unreachable(endpoint, Object.assign(new Error(code), { code }));
    if (e instanceof BkgError) return rpc(e);
  }
  return rpc(new BkgError('INTERNAL', `forwarding to the bkg daemon at ${where} failed: ${err instanceof Error ? err.message : String(err)}`));
}
