/**
 * The one HTTP transport of bkg's clients (the CLI's daemon client, its exec fast path, and as a
 * WHATWG fetch the MCP bridge): a request over node:http to the daemon's unix socket or TCP
 * address (node:https for https://), with keep-alive through the caller's agent. Loads nothing
 * beyond Node's own modules.
 */
import { Readable } from 'node:stream';
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
  /** Abandon the request (and its response stream). */
  signal?: AbortSignal;
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
        method: r.method, path: r.path, headers, agent: r.agent ?? false, ...(r.signal ? { signal: r.signal } : {}),
        // servername '' over a unix socket: Node's agent would otherwise test the host with its IPv6 regex, ~10 ms to compile at the CLI's start
        ...(ep.socketPath ? { socketPath: ep.socketPath, servername: '' } : { host: url.hostname, port: url.port || (url.protocol === 'https:' ? 443 : 80) }),
      },
      resolve,
    );
    if (r.timeoutMs) req.setTimeout(r.timeoutMs, () => req.destroy(Object.assign(new Error(`no answer within ${r.timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(r.body);
  });
}

/**
 * A WHATWG fetch to the endpoint over this transport (for libraries that take one, like the MCP
 * SDK): the URL's path and query are sent to the endpoint; no timeouts (event streams idle, tools
 * run long); the response body streams as it arrives.
 */
export function fetchOver(ep: Endpoint, agent: Agent): (url: string | URL, init?: RequestInit) => Promise<Response> {
  return async (url, init = {}) => {
    const target = new URL(String(url));
    const headers: OutgoingHttpHeaders = {};
    new Headers(init.headers).forEach((value, name) => {
      headers[name] = value;
    });
    const method = (init.method ?? 'GET').toUpperCase();
    const body = init.body === undefined || init.body === null
      ? undefined
      : typeof init.body === 'string' ? init.body : new Uint8Array(await new Response(init.body).arrayBuffer());
    const res = await openHttp(ep, {
      method, path: target.pathname + target.search, headers, agent, ...(body === undefined ? {} : { body }), ...(init.signal ? { signal: init.signal } : {}),
    });
    const out = new Headers();
    for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) out.append(res.rawHeaders[i] as string, res.rawHeaders[i + 1] as string);
    const status = res.statusCode ?? 0;
    const empty = method === 'HEAD' || status === 204 || status === 304;
    if (empty) res.resume();
    return new Response(empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), { status, statusText: res.statusMessage ?? '', headers: out });
  };
}
