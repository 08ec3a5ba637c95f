/**
 * Server-sent events read from a fetch() body, so the request can carry the key in its
 * Authorization header (EventSource cannot send headers, and the key never goes in a URL).
 */

export interface SseMessage {
  event: string;
  data: string;
  id: string | null;
}

/** Calls `onMessage` for each event of the stream until it ends or `signal` aborts. */
export async function readSse(body: ReadableStream<Uint8Array>, onMessage: (m: SseMessage) => void, signal?: AbortSignal): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const stop = (): void => void reader.cancel().catch(() => {});
  signal?.addEventListener('abort', stop, { once: true });
  let buf = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buf.search(/\r?\n\r?\n/)) >= 0) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + (buf[end] === '\r' ? 4 : 2));
        let event = 'message';
        let id: string | null = null;
        const data: string[] = [];
        for (const line of block.split(/\r?\n/)) {
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') event = value;
          else if (field === 'data') data.push(value);
          else if (field === 'id') id = value;
        }
        if (data.length > 0) onMessage({ event, data: data.join('\n'), id });
      }
    }
  } finally {
    signal?.removeEventListener('abort', stop);
  }
}
