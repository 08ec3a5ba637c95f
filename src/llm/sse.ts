/**
 * Server-sent events on a plain `http.ServerResponse`, for streaming
 * completions (OpenAI's `stream: true`).
 *
 *     const sse = writeSse(res);
 *     await engine.chat({ ..., signal: sse.signal, onText: (t) => sse.sendEvent(chunk(t)).then(() => undefined) });
 *     await sse.sendEvent('[DONE]');
 *     sse.end();
 *
 * - `sendEvent` resolves once the event is written; when the socket's buffer
 *   is full it waits for 'drain', so an awaiting producer is slowed to the
 *   client's pace (backpressure).
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
   * anything else as JSON. Resolves true once written (after 'drain' when the
   * buffer was full), false when the stream is closed.
   */
  sendEvent(data: unknown, event?: string): Promise<boolean>;
  /** An SSE comment line (`: text`), e.g. a keep-alive; ignored by clients. */
  comment(text: string): Promise<boolean>;
  /** Finish the response. Idempotent. */
  end(): void;
}

export interface SseOptions {
  /** HTTP status (default 200). */
  status?: number;
  /** Extra response headers. */
  headers?: Record<string, string>;
}

/** Start an SSE response: writes the headers now and returns the writer. */
export function writeSse(res: ServerResponse, opts: SseOptions = {}): SseWriter {
  const controller = new AbortController();
  let ended = false;
  let gone = false;

  res.writeHead(opts.status ?? 200, {
    ...opts.headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no', // no proxy buffering (nginx)
  });
  res.socket?.setNoDelay(true);
  res.flushHeaders();

  const onGone = (): void => {
    if (gone) return;
    gone = true;
    if (!ended) controller.abort(new Error('client disconnected'));
  };
  // 'close' fires both on a normal end and on a dropped connection; only the latter aborts.
  res.on('close', onGone);
  res.on('error', onGone);
  if (res.destroyed) onGone();

  const write = (chunk: string): Promise<boolean> => {
    if (ended || gone || res.destroyed) return Promise.resolve(false);
    if (res.write(chunk)) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const settle = (ok: boolean) => (): void => {
        res.off('drain', onDrain);
        res.off('close', onClose);
        resolve(ok);
      };
      const onDrain = settle(true);
      const onClose = settle(false);
      res.once('drain', onDrain);
      res.once('close', onClose);
    });
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
    end(): void {
      if (ended) return;
      ended = true;
      if (!gone && !res.writableEnded) res.end();
    },
  };
}

/** One SSE event as wire text: `event:` (when given), a `data:` line per line of data, a blank line. */
export function formatEvent(data: unknown, event?: string): string {
  const body = typeof data === 'string' ? data : JSON.stringify(data);
  let out = '';
  if (event !== undefined) {
    if (/[\r\n]/.test(event)) throw new TypeError('an SSE event name cannot contain a line break');
    out += `event: ${event}\n`;
  }
  for (const line of (body ?? 'null').split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
  return out + '\n';
}
