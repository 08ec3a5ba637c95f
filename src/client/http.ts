/**
 * The one HTTP transport of bkg's clients (the CLI's daemon client and its exec fast path): a
 * request over node:http to the daemon's unix socket or TCP address (node:https for https://),
 * with keep-alive through the caller's agent. Loads nothing beyond Node's own modules.
 */
import { Agent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import type { Endpoint } from './endpoint.js';

export interface HttpRequest {
  method: string;
  /** Path and query string. */
  path: string;
  headers?: OutgoingHttpHeaders;
  body?: string | Uint8Array;
  /** Give up when the connection is idle this long (ms); 0 or absent: wait as long as it takes. */
  timeoutMs?: number;
  /** Keep-alive agent (one per client); absent: a connection of its own, closed after the answer. */
  agent?: Agent;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A keep-alive agent for one client of one endpoint. */
export function keepAliveAgent(): Agent {
  return new Agent({ keepAlive: true, maxSockets: 8 });
}

export async function sendHttp(ep: Endpoint, r: HttpRequest): Promise<HttpResponse> {
  const res = await openHttp(ep, r);
  const chunks: Buffer[] = [];
  for await (const c of res as AsyncIterable<Buffer>) chunks.push(c);
  return { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) };
}

/** The response as it arrives (a stream, e.g. server-sent events). */
export async function openHttp(ep: Endpoint, r: HttpRequest): Promise<IncomingMessage> {
  const url = new URL(ep.origin);
  const request = url.protocol === 'https:' ? (await import('node:https')).request : httpRequest;
  const headers: OutgoingHttpHeaders = { ...(ep.apiKey ? { authorization: `Bearer ${ep.apiKey}` } : {}), ...r.headers };
  if (r.body !== undefined) headers['content-length'] = Buffer.byteLength(r.body);
  if (!r.agent) headers.connection = 'close';
  return new Promise((resolve, reject) => {
    const req = request(
      {
        method: r.method, path: r.path, headers, agent: r.agent ?? false,
        ...(ep.socketPath ? { socketPath: ep.socketPath } : { host: url.hostname, port: url.port || (url.protocol === 'https:' ? 443 : 80) }),
      },
      resolve,
    );
    if (r.timeoutMs) req.setTimeout(r.timeoutMs, () => req.destroy(Object.assign(new Error(`no answer within ${r.timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(r.body);
  });
}
