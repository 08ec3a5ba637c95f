/**
 * Server-sent events on a plain `http.ServerResponse`, for streaming
 * completions (OpenAI's `stream: true`).
 *
 *     const sse = writeSse(res);
 *     await engine.chat({ ..., signal: sse.signal, onText: (t) => sse.sendEvent(chunk(t)).then(() => undefined) });
 *     await sse.sendEvent('[DONE]');
 *     sse.end();
 *
 * - Writes are coalesced: an event goes to the socket at once when nothing
 *   was written in the last `coalesceMs` (so the first token, and every token
 *   of a model slower than that, is never delayed); events that come faster
 *   are gathered and written together at most `coalesceMs` after the previous
 *   write (or at once when `coalesceBytes` are waiting). One write (one
 *   syscall, one HTTP chunk, one wake-up of the client) then carries many
 *   tokens. `end()` writes whatever is waiting together with the end of the
 *   response.
 * - `sendEvent` resolves true at once while the socket keeps up; once a write
 *   finds the socket's buffer full it resolves only after 'drain', so an
 *   awaiting producer is slowed to the client's pace (backpressure).
 * - `signal` aborts when the client goes away before `end()`; after that,
 *   `sendEvent` writes nothing and resolves `false`.
 */
import type { ServerResponse } from 'node:http';

export interface SseWriter {
  /** Aborts when the client disconnects before `end()`. */
  readonly signal: AbortSignal;
  /** True once ended or the client is gone. */
  readonly closed: boolean;
  /**
   * Send one event. Strings are sent as they are (e.g. OpenAI's `[DONE]`);
   * anything else as JSON. Resolves true once written or queued for the next
   * coalesced write (after 'drain' when the socket's buffer was full), false
   * when the stream is closed.
   */
  sendEvent(data: unknown, event?: string): Promise<boolean>;
  /** An SSE comment line (`: text`), e.g. a keep-alive; ignored by clients. */
  comment(text: string): Promise<boolean>;
  /** Write what is queued now (normally done by the coalescing timer or `end()`). */
  flush(): void;
  /** Write what is queued and finish the response. Idempotent. */
  end(): void;
}

export interface SseOptions {
  /** HTTP status (default 200). */
  status?: number;
  /** Extra response headers. */
  headers?: Record<string, string>;
  /** Gather events for at most this long after a write (default 8 ms; 0 writes every event at once). */
  coalesceMs?: number;
  /** Write at once when this much is waiting (default 16 KiB). */
  coalesceBytes?: number;
}

export const SSE_COALESCE_MS = 8;
const SSE_COALESCE_BYTES = 16 * 1024;
const TRUE = Promise.resolve(true);
const FALSE = Promise.resolve(false);

/** Start an SSE response: writes the headers now and returns the writer. */
export function writeSse(res: ServerResponse, opts: SseOptions = {}): SseWriter {
  const coalesceMs = opts.coalesceMs ?? SSE_COALESCE_MS;
  const coalesceBytes = opts.coalesceBytes ?? SSE_COALESCE_BYTES;
  const controller = new AbortController();
  let ended = false;
  let gone = false;
  /** Events not yet written, and when the last write was. */
  let pending = '';
  let lastWrite = -Infinity;
  let timer: NodeJS.Timeout | null = null;
  /** Set while the socket's buffer is full: resolves on 'drain' (true) or 'close' (false). */
  let blocked: Promise<boolean> | null = null;

  res.writeHead(opts.status ?? 200, {
    ...opts.headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no', // no proxy buffering (nginx)
  });
  res.socket?.setNoDelay(true);
  res.flushHeaders();

  const cancelTimer = (): void => {
    if (timer) clearTimeout(timer);
    timer = null;
  };
  const onGone = (): void => {
    if (gone) return;
    gone = true;
    cancelTimer();
    pending = '';
    if (!ended) controller.abort(new Error('client disconnected'));
  };
  // 'close' fires both on a normal end and on a dropped connection; only the latter aborts.
  res.on('close', onGone);
  res.on('error', onGone);
  if (res.destroyed) onGone();

  const waitDrain = (): Promise<boolean> =>
    new Promise<boolean>((resolve) => {
      const settle = (ok: boolean) => (): void => {
        res.off('drain', onDrain);
        res.off('close', onClose);
        blocked = null;
        resolve(ok);
      };
      const onDrain = settle(true);
      const onClose = settle(false);
      res.once('drain', onDrain);
      res.once('close', onClose);
    });

  const flush = (): void => {
    cancelTimer();
    if (pending === '' || ended || gone || res.destroyed) return;
    const chunk = pending;
    pending = '';
    lastWrite = performance.now();
    if (!res.write(chunk) && !blocked) blocked = waitDrain();
  };

  const write = (chunk: string): Promise<boolean> => {
    if (ended || gone || res.destroyed) return FALSE;
    pending += chunk;
    if (blocked) return blocked; // flushed on 'drain' by the next event or end()
    const idle = performance.now() - lastWrite;
    if (idle >= coalesceMs || pending.length >= coalesceBytes) flush();
    else timer ??= setTimeout(flush, Math.max(1, Math.ceil(coalesceMs - idle)));
    return blocked ?? TRUE;
  };

  return {
    signal: controller.signal,
    get closed() {
      return ended || gone;
    },
    sendEvent(data: unknown, event?: string): Promise<boolean> {
      return write(formatEvent(data, event));
    },
    comment(text: string): Promise<boolean> {
      return write(
        text
          .split(/\r\n|\r|\n/)
          .map((l) => `: ${l}\n`)
          .join('') + '\n',
      );
    },
    flush,
    end(): void {
      if (ended) return;
      cancelTimer();
      const rest = pending;
      pending = '';
      ended = true;
      if (!gone && !res.writableEnded) {
        if (rest) res.end(rest);
        else res.end();
      }
    },
  };
}

/** One SSE event as wire text: `event:` (when given), a `data:` line per line of data, a blank line. */
export function formatEvent(data: unknown, event?: string): string {
  let out = '';
  if (event !== undefined) {
    if (/[\r\n]/.test(event)) throw new TypeError('an SSE event name cannot contain a line break');
    out += `event: ${event}\n`;
  }
  // JSON never holds a raw line break: one data line, no splitting (the per-token path).
  if (typeof data !== 'string') return `${out}data: ${JSON.stringify(data) ?? 'null'}\n\n`;
  if (!/[\r\n]/.test(data)) return `${out}data: ${data}\n\n`;
  for (const line of data.split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
  return out + '\n';
}
