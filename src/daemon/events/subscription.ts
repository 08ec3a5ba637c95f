/**
 * One reader of the event stream, over a transport (a WebSocket or server-sent events): what its
 * key may receive and it asked for, sent in id order as fast as it reads. It walks the bus's
 * replay buffer with a cursor of its own, so it holds no queue: a usage event not yet sent is
 * replaced by the next one, and a reader that falls behind the buffer is cut off (SLOW_CONSUMER),
 * told so in a last stream.end message.
 */
import type { ErrorCode } from '../../api/errors.js';
import type { EventType, StreamEnd, StreamReady } from '../../api/schema/events.js';
import type { Principal } from '../auth/api-keys.js';
import type { Authorizer } from '../auth/authorize.js';
import type { EventBus, Opening, Published } from './bus.js';

/** How messages reach a reader. */
export interface Transport {
  /** Write one message: its type, its JSON text, and its id (null for stream control messages). */
  send(type: string, json: string, id: number | null): void;
  /** Bytes written and not yet handed to the network. */
  backlog(): number;
  /** Call `fn` once, when the backlog has gone down. */
  onDrain(fn: () => void): void;
  /** Write the last message and close. */
  end(json: string, code: ErrorCode): void;
  /** A keep-alive; false when the reader did not answer the last one (it is gone, and was cut). */
  heartbeat(): boolean;
  onClose(fn: () => void): void;
  /** Cut the connection now. */
  terminate(): void;
}

/** Past this many bytes not yet handed to the network, a reader is paused until it reads. */
export const HIGH_WATER_BYTES = 256 * 1024;

export interface SubscriptionDeps {
  bus: EventBus;
  authz: Authorizer;
  principal: Principal;
  types: ReadonlySet<EventType>;
  transport: Transport;
  /** Told once, when the reader is gone (ended by either side). */
  onGone: (s: Subscription) => void;
}

export class Subscription {
  /** The next buffer position to look at. */
  private cursor: number;
  /** The newest usage event for this reader not yet sent (its id and text). */
  private usage: { id: number; text: string } | null = null;
  private waiting = false;
  private done = false;
  private closed = false;
  private readonly closers: (() => void)[] = [];

  constructor(private readonly d: SubscriptionDeps, private readonly opening: Opening) {
    this.cursor = opening.seq;
    d.transport.onClose(() => {
      this.closed = true;
      this.gone();
      for (const fn of this.closers.splice(0)) fn();
    });
  }

  /** Call `fn` once the connection has closed. */
  onClosed(fn: () => void): void {
    if (this.closed) fn();
    else this.closers.push(fn);
  }

  /** Cut the connection now, without a last message. */
  terminate(): void {
    this.gone();
    if (!this.closed) this.d.transport.terminate();
  }

  get principal(): Principal {
    return this.d.principal;
  }

  get wantsUsage(): boolean {
    return this.d.types.has('usage');
  }

  /** stream.ready (with how many buffered events follow), a stream.gap if any, then the replay and live events. */
  start(): void {
    let replayed = 0;
    for (let seq = this.cursor; seq < this.d.bus.endSeq; seq++) if (this.text(this.d.bus.at(seq) as Published) !== null) replayed++;
    const ready: StreamReady = { ...this.opening.ready, replayed };
    this.d.transport.send('stream.ready', JSON.stringify(ready), null);
    if (this.opening.gap) this.d.transport.send('stream.gap', JSON.stringify(this.opening.gap), null);
    this.pump();
  }

  /** A new event on the bus. */
  deliver(p: Published): void {
    if (this.done) return;
    if (p.seq === null) {
      const text = this.text(p);
      if (text !== null) this.usage = { id: p.event.id, text };
    }
    this.pump();
  }

  /** Keep the connection alive; a reader that stopped answering is dropped. */
  heartbeat(): void {
    if (!this.done && !this.d.transport.heartbeat()) this.gone();
  }

  /** End the stream with a last stream.end message. */
  end(code: ErrorCode, message: string): void {
    if (this.done) return;
    const msg: StreamEnd = { type: 'stream.end', code, message };
    this.gone();
    this.d.transport.end(JSON.stringify(msg), code);
  }

  private gone(): void {
    if (this.done) return;
    this.done = true;
    this.usage = null;
    this.d.onGone(this);
  }

  /** Send what is due, in id order, while the reader keeps up. */
  private pump(): void {
    const { bus, transport } = this.d;
    while (!this.done) {
      if (this.cursor < bus.firstSeq) {
        this.end('SLOW_CONSUMER', `this reader fell behind the daemon's replay buffer of ${bus.bufferSize} events and was cut off; reconnect with ?since= and the id of the last event it read`);
        return;
      }
      if (transport.backlog() >= HIGH_WATER_BYTES) {
        if (!this.waiting) {
          this.waiting = true;
          transport.onDrain(() => {
            this.waiting = false;
            this.pump();
          });
        }
        return;
      }
      const next = bus.at(this.cursor);
      if (this.usage && (!next || this.usage.id < next.event.id)) {
        const u = this.usage;
        this.usage = null;
        transport.send('usage', u.text, u.id);
        continue;
      }
      if (!next) return;
      this.cursor++;
      const text = this.text(next);
      if (text !== null) transport.send(next.event.type, text, next.event.id);
    }
  }

  /** The event's text as this reader receives it, or null when it receives none of it (usage: only the samples its key may see). */
  private text(p: Published): string | null {
    const { authz, principal, types } = this.d;
    if (!types.has(p.event.type)) return null;
    if (p.event.type !== 'usage' || !p.samples) return authz.mayReceive(principal, p.scope) ? p.json() : null;
    const scopes = p.samples;
    const samples = p.event.samples.filter((_, i) => authz.mayReceive(principal, scopes[i] as (typeof scopes)[number]));
    if (samples.length === 0) return null;
    return samples.length === p.event.samples.length ? p.json() : JSON.stringify({ ...p.event, samples });
  }
}
