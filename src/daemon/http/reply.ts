/**
 * Writing replies and errors. Every error goes through `toErrorBody`; anything that is not a
 * BkgError becomes a generic 500 INTERNAL (logged with its stack, never sent).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { BkgError, toErrorBody } from '../../api/errors.js';
import type { Logger } from '../../log.js';
import { hasBody } from './body.js';
import type { Reply } from './context.js';

const JSON_TYPE = 'application/json; charset=utf-8';

/** A reply with a non-JSON body, e.g. the Prometheus text format. */
export function textReply(text: string, contentType: string, status = 200): Reply {
  return { status, headers: { 'content-type': contentType }, stream: Readable.from([Buffer.from(text)]) };
}

function baseHeaders(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('cache-control', 'no-store');
  res.setHeader('x-content-type-options', 'nosniff');
  // A body the handler left unread (or stopped reading) is not drained: the connection closes.
  if (hasBody(req) && !req.complete) res.setHeader('connection', 'close');
}

/** Pipe a reply stream; an error before the first byte is sent becomes an error reply (sendError). */
function pipeStream(stream: Readable, res: ServerResponse): Promise<void> {
  if (res.destroyed) {
    stream.destroy();
    return Promise.resolve();
  }
  return new Promise((resolve, reject) => {
    stream.once('error', (err) => {
      stream.unpipe(res);
      reject(err);
    });
    res.once('close', () => {
      if (!stream.destroyed) stream.destroy();
      resolve();
    });
    stream.pipe(res);
  });
}

export async function sendReply(req: IncomingMessage, res: ServerResponse, reply: Reply): Promise<void> {
  if (!Number.isInteger(reply.status) || reply.status < 200 || reply.status > 599) {
    throw new Error(`handler returned an invalid status ${String(reply.status)}`);
  }
  if (reply.takeover) return reply.takeover(res);
  const payload = reply.stream || reply.body === undefined ? undefined : JSON.stringify(reply.body);
  baseHeaders(req, res);
  for (const [name, value] of Object.entries(reply.headers ?? {})) if (value !== undefined) res.setHeader(name, value);
  res.statusCode = reply.status;
  if (reply.stream) return pipeStream(reply.stream, res);
  if (payload === undefined) {
    res.setHeader('content-length', 0);
    res.end();
    return;
  }
  res.setHeader('content-type', JSON_TYPE);
  const bytes = Buffer.from(payload); // encoded once: a large answer is not measured and encoded again
  res.setHeader('content-length', bytes.length);
  res.end(bytes);
}

function retryAfter(e: BkgError): string {
  const s = Number(e.details?.retry_after_s);
  return String(Number.isFinite(s) && s > 0 ? Math.ceil(s) : 1);
}

/** Render any thrown value as `{"error": {code, message, hint}}` with its status and headers (and `trace_id` when the request is traced). */
export function sendError(req: IncomingMessage, res: ServerResponse, err: unknown, log: Logger, traceId: string | null = null): void {
  if (!(err instanceof BkgError)) log.error({ err }, 'unhandled error in request handler');
  else if (err.status >= 500) log.error({ err }, 'request failed');
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const e = err instanceof BkgError ? err : new BkgError('INTERNAL', 'internal error');
  const { status, body } = toErrorBody(e);
  if (traceId) body.error.trace_id = traceId;
  for (const name of res.getHeaderNames()) if (name !== 'x-request-id') res.removeHeader(name);
  baseHeaders(req, res);
  if (e.code === 'UNAUTHENTICATED') res.setHeader('www-authenticate', 'Bearer');
  if (e.code === 'RATE_LIMITED') res.setHeader('retry-after', retryAfter(e));
  const allow = e.details?.allow;
  if (e.code === 'METHOD_NOT_ALLOWED' && Array.isArray(allow)) res.setHeader('allow', allow.join(', '));
  let payload: string;
  try {
    payload = JSON.stringify(body);
  } catch {
    payload = JSON.stringify({ error: { code: body.error.code, message: body.error.message, hint: body.error.hint } });
  }
  res.statusCode = status;
  res.setHeader('content-type', JSON_TYPE);
  res.setHeader('content-length', Buffer.byteLength(payload));
  res.end(payload);
}
