/**
 * The daemon's live event stream (GET /api/v1/events, messages: src/api/schema/events.ts) over its
 * WebSocket: every message is checked against the contract and handed to the caller, typed. It
 * does not reconnect on its own: a caller that wants to go on opens it again with `since` and
 * `run` from the last event and stream.ready it saw, and is told by onGap when that cannot replay.
 */
import { createRequire } from 'node:module';
import type WebSocketClass from 'ws';
import { BkgError, ERRORS, type ErrorCode } from '../api/errors.js';
import { pathOf } from '../api/paths.js';
import { DaemonEvent, StreamEnd, StreamGap, StreamReady } from '../api/schema/events.js';
import type { Endpoint } from './endpoint.js';
import { errorFromResponse } from './errors.js';

export interface EventStreamHandlers {
  onEvent(e: DaemonEvent): void;
  onReady?(r: StreamReady): void;
  onGap?(g: StreamGap): void;
  /** The stream ended (daemon's stream.end, the connection closed, or an error); err null after close(). */
  onClose?(err: BkgError | null): void;
}

export interface EventStreamOptions {
  /** Replay the buffered events after this id first. */
  since?: number;
  /** The run `since` belongs to (stream.ready's `run`): from another run, the daemon reports a gap. */
  run?: string;
  /** Event types, or prefixes such as `sandbox.*` (default: every event the key may see). */
  types?: string[];
}

export interface EventStream {
  close(): void;
}

/** The stream's URL on the endpoint: ws+unix:// for a socket, ws(s):// for BKG_API_URL. */
export function eventsUrl(ep: Endpoint, opts: EventStreamOptions = {}): string {
  const q = new URLSearchParams();
  if (opts.since !== undefined) q.set('since', String(opts.since));
  if (opts.run !== undefined) q.set('run', opts.run);
  if (opts.types?.length) q.set('types', opts.types.join(','));
  const path = `${pathOf('events')}${q.size ? `?${q.toString()}` : ''}`;
  if (ep.socketPath) return `ws+unix://${ep.socketPath}:${path}`;
  return `${ep.origin.replace(/^http/, 'ws')}${path}`;
}

const codeOf = (code: string): ErrorCode => (Object.hasOwn(ERRORS, code) ? (code as ErrorCode) : 'INTERNAL');

export function openEventStream(ep: Endpoint, opts: EventStreamOptions, h: EventStreamHandlers): EventStream {
  // required, not imported: loading a CommonJS package through ESM costs the CLI ~20 ms of export scanning
  const WebSocket = createRequire(import.meta.url)('ws') as typeof WebSocketClass;
  const ws = new WebSocket(eventsUrl(ep, opts), { headers: ep.apiKey ? { authorization: `Bearer ${ep.apiKey}` } : {}, ...(ep.socketPath ? { servername: '' } : {}) }); // see http.ts: no IPv6 regex over a unix socket
  let closing = false;
  let reported = false;
  let ended: BkgError | null = null;
  const finish = (err: BkgError | null): void => {
    if (reported) return;
    reported = true;
    h.onClose?.(err);
  };
  const fail = (err: BkgError): void => {
    ended ??= err;
    ws.terminate();
  };

  ws.on('unexpected-response', (_req, res) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    const refused = (err: BkgError): void => {
      finish(err);
      ws.terminate();
    };
    res.on('end', () => refused(errorFromResponse(res.statusCode ?? 0, Buffer.concat(chunks))));
    res.on('error', () => refused(new BkgError('DAEMON_UNAVAILABLE', `the daemon refused the event stream (HTTP ${res.statusCode ?? '?'})`)));
  });
  ws.on('error', (err) => {
    ended ??= new BkgError('DAEMON_UNAVAILABLE', `event stream failed: ${err.message}`, { details: { url: ep.url } });
  });
  ws.on('message', (data: Buffer, isBinary) => {
    if (reported || isBinary) return;
    let msg: { type?: unknown };
    try {
      msg = JSON.parse(data.toString('utf8')) as { type?: unknown };
    } catch {
      return fail(new BkgError('INTERNAL', 'the daemon sent an event stream message that is not JSON'));
    }
    const schema = msg.type === 'stream.ready' ? StreamReady : msg.type === 'stream.gap' ? StreamGap : msg.type === 'stream.end' ? StreamEnd : DaemonEvent;
    const checked = schema.safeParse(msg);
    if (!checked.success) return fail(new BkgError('INTERNAL', `the daemon sent an event stream message outside the contract: ${checked.error.issues[0]?.message ?? 'invalid'}`, { details: { type: String(msg.type) } }));
    const m = checked.data;
    if (m.type === 'stream.ready') h.onReady?.(m);
    else if (m.type === 'stream.gap') h.onGap?.(m);
    else if (m.type === 'stream.end') ended = new BkgError(codeOf(m.code), m.message, { details: { code: m.code } });
    else h.onEvent(m);
  });
  ws.on('close', () => finish(closing ? null : (ended ?? new BkgError('DAEMON_UNAVAILABLE', 'the event stream closed', { details: { url: ep.url } }))));

  return {
    close(): void {
      if (closing) return;
      closing = true;
      if (ws.readyState === ws.OPEN) ws.close(1000);
      else ws.terminate();
    },
  };
}
