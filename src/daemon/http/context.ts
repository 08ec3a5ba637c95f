/** The types a route handler sees: its request context and the reply it returns. */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Logger } from '../../log.js';

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

/** unix: the local sockets; tcp: loopback TCP; peer: the mutual-TLS listener other hosts of a fleet forward requests to. */
export type Transport = 'unix' | 'tcp' | 'peer';

export interface RequestContext<P = unknown> {
  readonly req: IncomingMessage;
  /** Path parameters, percent-decoded and checked (no '/', '\\', NUL or control characters, never '.' or '..'). */
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /** Whatever `authenticate` returned; `undefined` only in public routes. */
  readonly principal: P;
  readonly transport: Transport;
  /**
   * The JSON body (read once, memoised): `undefined` when the request has none; otherwise any JSON
   * value — check it with `validate`. Throws PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE or
   * INVALID_ARGUMENT.
   */
  body(): Promise<unknown>;
  /** A child logger carrying the request id, method and route. */
  readonly log: Logger;
}

export interface Reply {
  readonly status: number;
  /** Sent as JSON (unless `stream` is set). */
  readonly body?: unknown;
  readonly headers?: OutgoingHttpHeaders;
  /** Sent as is (e.g. a file download); set content-type in `headers`. */
  readonly stream?: Readable;
  /** The handler writes the response itself (a protocol with its own framing, such as MCP's). */
  readonly takeover?: (res: ServerResponse) => Promise<void>;
  /** For a route that declares `audit`: what the audit record names (default target: the path's id). */
  readonly audit?: { target?: string | null; namespace?: string | null; details?: Record<string, unknown> };
}

export type Handler<P = unknown> = (ctx: RequestContext<P>) => Promise<Reply>;
