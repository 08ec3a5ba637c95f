/**
 * The daemon's live event stream (GET /api/v1/events as server-sent events over fetch, with the
 * key in the Authorization header). One stream per signed-in page; it reconnects after a drop,
 * asking for what it missed (?since=ID&run=RUN), and tells its listeners when it had to skip
 * (stream.gap, a new daemon run): they refetch a snapshot then.
 */
import { ApiError, raw } from './api';
import { readSse } from './sse';

export interface StreamEvent {
  type: string;
  id?: number;
  [field: string]: unknown;
}

export type EventListener = (e: StreamEvent) => void;

export interface EventFeed {
  /** Subscribe; returns the unsubscribe. Listeners also get `{type: 'resync'}` when a snapshot must be refetched. */
  on(listener: EventListener): () => void;
  /** Whether the stream is connected now. */
  connected(): boolean;
  close(): void;
}

/** `onRefused`: the key was refused (revoked, or unknown here): the stream stops and the page signs out. */
export function openEventFeed(key: string, onState: (connected: boolean) => void, onRefused: (message: string) => void): EventFeed {
  const listeners = new Set<EventListener>();
  const ac = new AbortController();
  let since: number | null = null;
  let run: string | null = null;
  let isConnected = false;
  const emit = (e: StreamEvent): void => {
    for (const l of listeners) l(e);
  };
  const setState = (c: boolean): void => {
    if (c !== isConnected) {
      isConnected = c;
      onState(c);
    }
  };

  void (async () => {
    let delay = 500;
    while (!ac.signal.aborted) {
      try {
        const q = since !== null && run !== null ? `?since=${since}&run=${encodeURIComponent(run)}` : '';
        const res = await raw(key, 'GET', `/api/v1/events${q}`, { headers: { accept: 'text/event-stream' }, signal: ac.signal });
        if (!res.body) throw new Error('no body');
        await readSse(
          res.body,
          (m) => {
            const e = JSON.parse(m.data) as StreamEvent;
            if (e.type === 'stream.ready') {
              const fresh = run !== (e.run as string);
              run = e.run as string;
              setState(true);
              delay = 500;
              if (fresh) emit({ type: 'resync' });
              return;
            }
            if (e.type === 'stream.gap') {
              emit({ type: 'resync' });
              return;
            }
            if (e.type === 'stream.end' && e.code === 'UNAUTHENTICATED') {
              onRefused(String(e.message));
              ac.abort();
              return;
            }
            if (typeof e.id === 'number') since = e.id;
            emit(e);
          },
          ac.signal,
        );
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) {
          onRefused(err.body.message);
          ac.abort();
        }
        // dropped or aborted: try again below unless closed
      }
      setState(false);
      if (ac.signal.aborted) return;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 10_000);
    }
  })();

  return {
    on(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    connected: () => isConnected,
    close: () => ac.abort(),
  };
}
