/**
 * The daemon's live event stream, built once by the composition root (main.ts): the bus, the
 * publisher the other parts report through, the usage sampler (running only while a reader wants
 * usage), and the readers themselves, each checked against its key's rights for every event
 * (Authorizer.mayReceive). Readers are kept alive with heartbeats, dropped when their key is
 * revoked, and told stream.end when the daemon stops.
 */
import { BkgError } from '../../api/errors.js';
import type { EventsQuery } from '../../api/schema/events.js';
import type { Logger } from '../../log.js';
import type { CgroupLayout } from '../../runtime/cgroups.js';
import type { NamespaceRepo, SandboxRepo } from '../../store/repos/index.js';
import type { ApiKeyStore, Principal } from '../auth/api-keys.js';
import type { Authorizer } from '../auth/authorize.js';
import type { DaemonConfig } from '../config.js';
import { EventBus, type Opening, type Published } from './bus.js';
import { parseSince, parseTypes } from './filter.js';
import { EventPublisher } from './publisher.js';
import { UsageSampler } from './sampler.js';
import { Subscription, type Transport } from './subscription.js';

export type { SandboxEvents } from './publisher.js';
export { EventPublisher } from './publisher.js';

/** A heartbeat (SSE comment, WebSocket ping) this often; a reader's key is checked again too. */
export const HEARTBEAT_MS = 15_000;
/** How long a stopping daemon waits for its readers to take their stream.end. */
const CLOSE_WAIT_MS = 300;

export interface EventsDeps {
  config: DaemonConfig['events'];
  authz: Authorizer;
  keys: Pick<ApiKeyStore, 'get'>;
  sandboxes: Pick<SandboxRepo, 'list'>;
  namespaces: Pick<NamespaceRepo, 'get'>;
  cgroups: CgroupLayout;
  log: Logger;
  now?: () => Date;
}

/** A reader's request, checked before anything is sent (a bad one is refused with HTTP 400). */
export interface Ticket {
  readonly principal: Principal;
  readonly types: ReturnType<typeof parseTypes>;
  readonly opening: Opening;
}

export class DaemonEvents {
  readonly bus: EventBus;
  readonly publish: EventPublisher;
  private readonly sampler: UsageSampler;
  private readonly subs = new Set<Subscription>();
  private heartbeat: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly d: EventsDeps) {
    this.bus = new EventBus(d.config.bufferSize, d.now);
    this.publish = new EventPublisher(this.bus, d.namespaces);
    this.sampler = new UsageSampler({ sandboxes: d.sandboxes, layout: d.cgroups, publish: this.publish, intervalMs: d.config.intervalMs, log: d.log });
    this.bus.listen((p) => this.dispatch(p));
  }

  /** How many readers are connected. */
  get readers(): number {
    return this.subs.size;
  }

  /** Check a reader's request: its types, and where it starts (?since=, ?run=, else Last-Event-ID). */
  admit(principal: Principal, query: EventsQuery, lastEventId?: string | string[]): Ticket {
    if (this.closed) throw new BkgError('DAEMON_UNAVAILABLE', 'the daemon is stopping');
    const types = parseTypes(query.types);
    const since = parseSince(query.since, lastEventId);
    return { principal, types, opening: this.bus.open({ ...(since === undefined ? {} : { since }), ...(query.run === undefined ? {} : { run: query.run }) }) };
  }

  /** Serve an admitted reader over `transport` until either side ends it. */
  attach(t: Ticket, transport: Transport): void {
    if (this.closed) {
      transport.end(JSON.stringify({ type: 'stream.end', code: 'DAEMON_UNAVAILABLE', message: 'the daemon is stopping' }), 'DAEMON_UNAVAILABLE');
      return;
    }
    const sub = new Subscription({ bus: this.bus, authz: this.d.authz, principal: t.principal, types: t.types, transport, onGone: (s) => this.drop(s) }, t.opening);
    this.subs.add(sub);
    this.changed();
    sub.start();
  }

  /** End every reader with stream.end (DAEMON_UNAVAILABLE), wait a moment for them to take it, then cut what is left. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.sampler.stop();
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    const ending = [...this.subs];
    const gone = ending.map((s) => new Promise<void>((resolve) => s.onClosed(resolve)));
    for (const s of ending) s.end('DAEMON_UNAVAILABLE', 'the daemon is stopping');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(gone), new Promise((r) => (timer = setTimeout(r, CLOSE_WAIT_MS)))]);
    clearTimeout(timer);
    for (const s of ending) s.terminate();
  }

  private dispatch(p: Published): void {
    const e = p.event;
    // a revoked key's readers stop at once (others' revocations reach this host by sync: the heartbeat checks those)
    if (e.type === 'audit' && e.event.action === 'key.revoke' && e.event.outcome === 'ok' && e.event.target) this.recheck((s) => s.principal.id === e.event.target);
    for (const s of [...this.subs]) {
      try {
        s.deliver(p);
      } catch (err) {
        this.d.log.warn({ err }, 'event stream reader failed; cutting it');
        s.terminate();
      }
    }
  }

  private drop(s: Subscription): void {
    if (this.subs.delete(s)) this.changed();
  }

  /** Start or stop the sampler and the heartbeat as readers come and go. */
  private changed(): void {
    if (this.closed) return;
    const usage = [...this.subs].some((s) => s.wantsUsage);
    if (usage && !this.sampler.running) this.sampler.start();
    else if (!usage && this.sampler.running) this.sampler.stop();
    if (this.subs.size > 0 && !this.heartbeat) {
      this.heartbeat = setInterval(() => this.beat(), HEARTBEAT_MS);
      this.heartbeat.unref();
    } else if (this.subs.size === 0 && this.heartbeat) {
      clearInterval(this.heartbeat);
      this.heartbeat = null;
    }
  }

  private beat(): void {
    this.recheck(() => true);
    for (const s of [...this.subs]) s.heartbeat();
  }

  /** End the streams of keys that were revoked since they connected. */
  private recheck(which: (s: Subscription) => boolean): void {
    for (const s of [...this.subs]) {
      if (!which(s)) continue;
      const key = this.d.keys.get(s.principal.id);
      if (key && key.revokedAt !== null) s.end('UNAUTHENTICATED', 'the API key of this stream was revoked');
    }
  }
}
