/** Test helpers for the daemon's event stream: a reader over the client's openEventStream, and a raw server-sent-events reader over node:http. */
import { request, type IncomingMessage } from 'node:http';
import type { BkgError } from '../../src/api/errors.js';
import type { DaemonEvent, StreamGap, StreamReady } from '../../src/api/schema/events.js';
import type { Endpoint } from '../../src/client/endpoint.js';
import { openEventStream, type EventStreamOptions } from '../../src/client/events.js';
import type { Target } from './daemon.js';

export interface Reader {
  ready: Promise<StreamReady>;
  events: DaemonEvent[];
  gaps: StreamGap[];
  /** Resolves with onClose's error (null after close()). */
  closed: Promise<BkgError | null>;
  /** The first event (received so far or to come) that `pred` accepts. */
  find<T extends DaemonEvent = DaemonEvent>(pred: (e: DaemonEvent) => boolean, what: string, ms?: number): Promise<T>;
  /** Until `n` events have arrived. */
  count(n: number, ms?: number): Promise<DaemonEvent[]>;
  close(): void;
}

/** The daemon's unix socket as the client's Endpoint; `key`: authenticate with it (else: the host admin). */
export function socketEndpoint(socketPath: string, key?: string): Endpoint {
  return { origin: 'http://localhost', socketPath, url: `unix://${socketPath}`, ...(key ? { apiKey: key } : {}) };
}

export function tcpEndpoint(port: number, key: string): Endpoint {
  return { origin: `http://127.0.0.1:${port}`, url: `http://127.0.0.1:${port}`, apiKey: key };
}

export function readEvents(ep: Endpoint, opts: EventStreamOptions = {}): Reader {
  const events: DaemonEvent[] = [];
  const gaps: StreamGap[] = [];
  const waiters = new Set<() => void>();
  const wake = (): void => {
    for (const w of [...waiters]) w();
  };
  let ready!: (r: StreamReady) => void;
  let closed!: (e: BkgError | null) => void;
  let isClosed = false;
  const readyP = new Promise<StreamReady>((r) => (ready = r));
  const closedP = new Promise<BkgError | null>((r) => (closed = r));
  const stream = openEventStream(ep, opts, {
    onEvent: (e) => {
      events.push(e);
      wake();
    },
    onReady: (r) => ready(r),
    onGap: (g) => gaps.push(g),
    onClose: (err) => {
      isClosed = true;
      closed(err);
      wake();
    },
  });
  const wait = <T>(check: () => T | undefined, what: string, ms: number): Promise<T> =>
    new Promise((resolve, reject) => {
      const done = (): boolean => {
        const v = check();
        if (v === undefined) return false;
        clearTimeout(timer);
        waiters.delete(poll);
        resolve(v);
        return true;
      };
      const poll = (): void => {
        if (done()) return;
        if (isClosed) {
          clearTimeout(timer);
          waiters.delete(poll);
          void closedP.then((err) => reject(new Error(`the stream closed (${err?.code ?? 'by us'}: ${err?.message ?? ''}) before ${what}; got ${events.map((e) => e.type).join(', ')}`)));
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(poll);
        reject(new Error(`no ${what} within ${ms} ms; got ${events.map((e) => e.type).join(', ')}`));
      }, ms);
      waiters.add(poll);
      poll();
    });
  return {
    ready: readyP,
    events,
    gaps,
    closed: closedP,
    find: <T extends DaemonEvent>(pred: (e: DaemonEvent) => boolean, what: string, ms = 10_000) => wait(() => events.find(pred) as T | undefined, what, ms),
    count: (n, ms = 10_000) => wait(() => (events.length >= n ? events.slice(0, n) : undefined), `${n} events`, ms),
    close: () => stream.close(),
  };
}

export interface SseFrame {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
}

/** Parse server-sent events text into frames (a partial last frame is left out). */
export function sseFrames(text: string): SseFrame[] {
  const frames: SseFrame[] = [];
  for (const block of text.split('\n\n').slice(0, -1)) {
    const f: SseFrame = {};
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) f.comment = line.slice(1).trim();
      const m = /^(id|event|data): ?(.*)$/.exec(line);
      if (m) f[m[1] as 'id' | 'event' | 'data'] = m[2];
    }
    frames.push(f);
  }
  return frames;
}

/** A raw GET of the event stream as server-sent events over node:http (what curl does). */
export function openSse(t: Target, query = '', headers: Record<string, string> = {}): Promise<{ res: IncomingMessage; text: () => string; frames: () => SseFrame[]; until: (pred: (f: SseFrame[]) => boolean, ms?: number) => Promise<SseFrame[]>; close: () => void }> {
  return new Promise((resolve, reject) => {
    const req = request({
      method: 'GET', path: `/api/v1/events${query}`,
      headers: { accept: 'text/event-stream', ...(t.key ? { authorization: `Bearer ${t.key}` } : {}), ...headers },
      ...(t.socketPath ? { socketPath: t.socketPath } : { host: '127.0.0.1', port: t.port }),
    }, (res) => {
      let buf = '';
      const listeners = new Set<() => void>();
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        buf += c;
        for (const l of [...listeners]) l();
      });
      res.on('end', () => {
        for (const l of [...listeners]) l();
      });
      const until = (pred: (f: SseFrame[]) => boolean, ms = 10_000): Promise<SseFrame[]> =>
        new Promise((ok, fail) => {
          const check = (): void => {
            const f = sseFrames(buf);
            if (pred(f)) {
              listeners.delete(check);
              clearTimeout(timer);
              ok(f);
            } else if (res.complete) {
              listeners.delete(check);
              clearTimeout(timer);
              fail(new Error(`the event stream ended before the frames looked right: ${buf.slice(-500)}`));
            }
          };
          const timer = setTimeout(() => {
            listeners.delete(check);
            fail(new Error(`the frames did not look right within ${ms} ms: ${buf.slice(-500)}`));
          }, ms);
          listeners.add(check);
          check();
        });
      resolve({ res, text: () => buf, frames: () => sseFrames(buf), until, close: () => req.destroy() });
    });
    req.on('error', reject);
    req.end();
  });
}
