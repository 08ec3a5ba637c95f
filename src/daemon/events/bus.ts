/**
 * The event bus of one daemon run: it numbers events (ids from 1, monotonic, under a random `run`
 * id), keeps the newest `bufferSize` of them for replay (usage samples excepted: they are live
 * only), and hands each to its listeners. Readers go through the buffer with a cursor of their own
 * (subscription.ts) rather than holding queues: one that falls behind the buffer is cut off, so
 * nothing grows without bound however slow a reader is.
 */
import { randomBytes } from 'node:crypto';
import type { DaemonEvent, NewEvent, StreamGap, StreamReady } from '../../api/schema/events.js';
import type { EventScope } from '../auth/authorize.js';

/** An event as the bus made it: numbered, with who may see it, and its JSON made once for every reader. */
export interface Published {
  readonly event: DaemonEvent;
  readonly scope: EventScope;
  /** usage: what each sample is about, in the order of `event.samples`. */
  readonly samples?: readonly EventScope[];
  /** Its place in the replay buffer (absolute, from 0); null for live-only events (usage). */
  readonly seq: number | null;
  json(): string;
}

/** Where a new reader starts: the stream.ready it is told (less `replayed`, which depends on its filter), a gap, and its first buffer position. */
export interface Opening {
  readonly ready: Omit<StreamReady, 'replayed'>;
  readonly gap: StreamGap | null;
  readonly seq: number;
}

export class EventBus {
  /** This run of the daemon: ids start again at 1 in the next one. */
  readonly run = randomBytes(8).toString('hex');
  private nextId = 1;
  private readonly ring: (Published | undefined)[];
  /** The absolute buffer positions of the oldest event kept and of the next one. */
  private first = 0;
  private next = 0;
  /** The id of the newest event that left the buffer (0: none has). */
  private evictedId = 0;
  private readonly listeners = new Set<(p: Published) => void>();

  constructor(readonly bufferSize: number, private readonly now: () => Date = () => new Date()) {
    if (!Number.isInteger(bufferSize) || bufferSize < 1) throw new Error(`event buffer size must be a positive integer, not ${bufferSize}`);
    this.ring = new Array<Published | undefined>(bufferSize);
  }

  /** The id of the newest event so far (0: none yet). */
  get lastId(): number {
    return this.nextId - 1;
  }

  /** The id of the oldest event still buffered (0: none). */
  get oldestId(): number {
    return this.at(this.first)?.event.id ?? 0;
  }

  /** The buffer position of the oldest event kept, and one past the newest. */
  get firstSeq(): number {
    return this.first;
  }

  get endSeq(): number {
    return this.next;
  }

  /** The buffered event at absolute position `seq`; undefined when it left the buffer or is yet to come. */
  at(seq: number): Published | undefined {
    return seq >= this.first && seq < this.next ? this.ring[seq % this.bufferSize] : undefined;
  }

  /** Number the event, buffer it (unless usage), and hand it to every listener. */
  publish(e: NewEvent, scope: EventScope, samples?: readonly EventScope[]): Published {
    const event = { id: this.nextId++, at: this.now().toISOString(), ...e } as DaemonEvent;
    let json: string | null = null;
    const live = event.type === 'usage';
    const p: Published = { event, scope, ...(samples ? { samples } : {}), seq: live ? null : this.next, json: () => (json ??= JSON.stringify(event)) };
    if (!live) {
      if (this.next - this.first === this.bufferSize) {
        this.evictedId = (this.ring[this.first % this.bufferSize] as Published).event.id;
        this.first++;
      }
      this.ring[this.next % this.bufferSize] = p;
      this.next++;
    }
    for (const fn of this.listeners) fn(p);
    return p;
  }

  /** Be handed every event published from now on; returns the way to stop. */
  listen(fn: (p: Published) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Where a reader starts. Without `since`: live, from the next event. With it: replay from the
   * first buffered event after `since`, unless that is impossible (a gap: another run, an id this
   * run never had, or events that left the buffer), when the reader is told so and goes on live.
   */
  open(req: { since?: number; run?: string } = {}): Opening {
    const ready = { type: 'stream.ready' as const, run: this.run, last_id: this.lastId, oldest_id: this.oldestId };
    if (req.since === undefined) return { ready, gap: null, seq: this.next };
    const since = req.since;
    const why = req.run !== undefined && req.run !== this.run
      ? `the events after ${since} belong to another run of the daemon (${req.run}); this run (${this.run}) started again at 1`
      : since > this.lastId
        ? `this run of the daemon has no event ${since} (the newest is ${this.lastId}): the daemon restarted since`
        : since < this.evictedId
          ? `the events after ${since} have left the replay buffer (the oldest kept is ${this.oldestId}; the buffer keeps ${this.bufferSize}, BKG_EVENTS_BUFFER)`
          : null;
    if (why !== null) return { ready, gap: { type: 'stream.gap', since, oldest_id: this.oldestId, message: why }, seq: this.next };
    return { ready, gap: null, seq: this.seqAfter(since) };
  }

  /** The buffer position of the first event with an id above `id` (ids grow with positions). */
  private seqAfter(id: number): number {
    let lo = this.first;
    let hi = this.next;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.at(mid) as Published).event.id <= id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
