/**
 * The daemon's part in a fleet: the sync with the fleet database (src/store/sync), the host
 * directory other parts forward through, and what status and health report. A daemon without
 * BKG_DATABASE_URL gets a fleet of one: itself, never stale.
 */
import type { SyncStatusView } from '../../api/admin.js';
import type { Logger } from '../../log.js';
import type { SqliteStore } from '../../store/index.js';
import { FleetDb } from '../../store/pg/index.js';
import { Syncer } from '../../store/sync/syncer.js';
import type { DaemonConfig } from '../config.js';
import { soloDirectory, type FleetDirectory, type PeerHost } from './directory.js';

/** A host whose last heartbeat is older than this is taken for dead. */
export const HOST_ALIVE_MS = 10_000;
/** How long a read of the host registry is reused. */
const HOSTS_TTL_MS = 1000;

export interface Fleet {
  readonly directory: FleetDirectory;
  /** Where this host's peer listener is reached (https://...), or null. */
  readonly peerUrl: string | null;
  status(): SyncStatusView | { enabled: false };
  /** Past the staleness bound (never, for a host on its own). */
  stale(): boolean;
  /** Fleet-wide reads under row-level security, while the fleet database answers (null: on its own, or it is away). */
  db(): FleetDb | null;
  /** The health problems to report (a stale host is unhealthy). */
  problems(): string[];
  start(): void;
  close(): Promise<void>;
}

export interface FleetDeps {
  config: DaemonConfig;
  store: SqliteStore;
  log: Logger;
  version: string;
  /** This host's load, for the heartbeat (and placement). */
  load: () => Record<string, unknown>;
  /** Tables other hosts changed. */
  onApplied?: (tables: ReadonlySet<string>) => void;
}

export function createFleet(d: FleetDeps): Fleet {
  const { config, store } = d;
  const peerUrl = config.peer ? `https://${config.peer.address}:${config.peer.port}` : null;
  const sync = config.sync;
  if (!sync) {
    return {
      directory: soloDirectory(store.hostId, config.hostName), peerUrl, status: () => ({ enabled: false }), stale: () => false, db: () => null,
      problems: () => [], start: () => {}, close: async () => {},
    };
  }
  let current: FleetDb | null = null;
  const syncer = new Syncer({
    db: store.db, audit: store.audit, hostId: store.hostId, hostName: config.hostName, url: sync.url, maxStalenessMs: sync.maxStalenessMs,
    log: d.log, version: d.version, peerUrl, load: d.load, ...(d.onApplied ? { onApplied: d.onApplied } : {}),
    connect: async () => {
      const db = await FleetDb.connect(sync.url, { log: d.log, hostId: store.hostId });
      const close = db.close.bind(db);
      current = db;
      // the syncer owns the connection; fleet reads use it while it is up
      return Object.assign(db, { close: async () => { if (current === db) current = null; await close(); } });
    },
  });
  const directory = new RegistryDirectory(store.hostId, config.hostName, peerUrl, () => current);
  return {
    directory, peerUrl, status: () => syncer.status(), stale: () => syncer.stale(), db: () => current,
    problems: () => (syncer.stale() ? [`fleet sync is stale: no sync with ${syncer.status().url} within ${sync.maxStalenessMs / 1000}s; keys made on other hosts are refused`] : []),
    start: () => syncer.start(),
    close: () => syncer.close(),
  };
}

/** The host registry of the fleet database, read at most once a second; the last read stands in while it is away. */
class RegistryDirectory implements FleetDirectory {
  private cached: { at: number; hosts: PeerHost[] } | null = null;

  constructor(readonly selfId: string, readonly selfName: string, private readonly selfPeerUrl: string | null, private readonly db: () => FleetDb | null) {}

  async hosts(): Promise<PeerHost[]> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < HOSTS_TTL_MS) return this.withSelf(this.cached.hosts);
    const db = this.db();
    try {
      if (!db) throw new Error('the fleet database is away');
      const hosts = (await db.hosts(HOST_ALIVE_MS)).map((h) => ({ id: h.id, name: h.name, peerUrl: h.peerUrl, alive: h.alive, load: h.load }));
      this.cached = { at: now, hosts };
      return this.withSelf(hosts);
    } catch {
      // away: the last read, each host alive only while that read is recent enough to vouch for it
      const last = this.cached;
      return this.withSelf((last?.hosts ?? []).map((h) => ({ ...h, alive: h.alive && now - last!.at < HOST_ALIVE_MS })));
    }
  }

  private withSelf(hosts: PeerHost[]): PeerHost[] {
    return hosts.some((h) => h.id === this.selfId) ? hosts : [...hosts, { id: this.selfId, name: this.selfName, peerUrl: this.selfPeerUrl, alive: true, load: {} }];
  }

  async host(id: string): Promise<PeerHost | null> {
    return (await this.hosts()).find((h) => h.id === id) ?? null;
  }
}
