/**
 * The dashboard's live feed: the daemon's event stream (src/client/events.ts), opened as early as
 * possible and kept open. When it closes (the daemon restarted, the network dropped, the daemon cut
 * a slow reader off) it reconnects with `since`/`run` of the last event seen, so the daemon replays
 * what was missed, or says with `stream.gap` that it cannot (then the dashboard reloads its snapshot).
 * Messages that arrive before anyone listens are kept and handed over in order.
 */
import type { BkgError } from '../../api/errors.js';
import type { DaemonEvent, StreamGap, StreamReady } from '../../api/schema/events.js';
import type { Endpoint } from '../../client/endpoint.js';

/** src/client/events.ts, as the dashboard uses it. */
export interface EventStreamHandlers {
  onEvent(e: DaemonEvent): void;
  onReady?(r: StreamReady): void;
  onGap?(g: StreamGap): void;
  onClose?(err: BkgError | null): void;
}
export interface EventStreamOptions { since?: number; run?: string; types?: string[] }
export type OpenEventStream = (ep: Endpoint, opts: EventStreamOptions, h: EventStreamHandlers) => { close(): void };

export interface FeedSink {
  event(e: DaemonEvent): void;
  ready(r: StreamReady): void;
  gap(g: StreamGap): void;
  /** The stream is down; a reconnect is scheduled. */
  down(message: string | null): void;
}

type Message = { kind: 'event'; e: DaemonEvent } | { kind: 'ready'; r: StreamReady } | { kind: 'gap'; g: StreamGap } | { kind: 'down'; message: string | null };

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(t: unknown): void;
}

const BACKOFF_MS = [250, 500, 1000, 2000, 5000];

export class LiveFeed {
  private stream: { close(): void } | null = null;
  private sink: FeedSink | null = null;
  private queue: Message[] = [];
  private run: string | undefined;
  private lastId = 0;
  private failures = 0;
  private timer: unknown = null;
  private closed = false;

  constructor(
    private readonly open: OpenEventStream,
    private readonly endpoint: Endpoint,
    private readonly timers: Timers = { setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (t) => clearTimeout(t as ReturnType<typeof setTimeout>) },
  ) {}

  start(): void {
    this.connect();
  }

  /** From now on, messages go to `sink` (those kept so far first). */
  attach(sink: FeedSink): void {
    this.sink = sink;
    const kept = this.queue;
    this.queue = [];
    for (const m of kept) this.deliver(m);
  }

  /** Where the feed stands (for a reconnect, and for tests). */
  position(): { run: string | undefined; lastId: number } {
    return { run: this.run, lastId: this.lastId };
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    this.stream?.close();
    this.stream = null;
  }

  private connect(): void {
    if (this.closed) return;
    const opts: EventStreamOptions = this.run !== undefined && this.lastId > 0 ? { since: this.lastId, run: this.run } : {};
    let ended = false;
    try {
      this.stream = this.open(this.endpoint, opts, {
        onEvent: (e) => {
          this.lastId = Math.max(this.lastId, e.id);
          this.deliver({ kind: 'event', e });
        },
        onReady: (r) => {
          // another daemon run numbers from 1 again: what it said last is where we are now
          if (this.run !== r.run) this.lastId = r.last_id;
          this.run = r.run;
          this.failures = 0;
          this.deliver({ kind: 'ready', r });
        },
        onGap: (g) => this.deliver({ kind: 'gap', g }),
        onClose: (err) => {
          if (ended) return;
          ended = true;
          this.stream = null;
          this.lost(err ? err.message : null);
        },
      });
    } catch (err) {
      ended = true;
      this.lost(err instanceof Error ? err.message : String(err));
    }
  }

  private lost(message: string | null): void {
    if (this.closed) return;
    this.deliver({ kind: 'down', message });
    const wait = BACKOFF_MS[Math.min(this.failures, BACKOFF_MS.length - 1)] as number;
    this.failures++;
    this.timer = this.timers.setTimeout(() => {
      this.timer = null;
      this.connect();
    }, wait);
  }

  private deliver(m: Message): void {
    const s = this.sink;
    if (!s) {
      this.queue.push(m);
      return;
    }
    if (m.kind === 'event') s.event(m.e);
    else if (m.kind === 'ready') s.ready(m.r);
    else if (m.kind === 'gap') s.gap(m.g);
    else s.down(m.message);
  }
}
