/** The host registry: each daemon's heartbeat, and which hosts are alive by the database's clock. */
import type { Sql } from './connection.js';
import type { HeartbeatInput, HostRecord } from './types.js';

/** Record `h` with heartbeat_at = now() (the database's clock, the same for every host). */
export async function heartbeat(sql: Sql, h: HeartbeatInput): Promise<void> {
  const startedAt = typeof h.startedAt === 'string' ? h.startedAt : h.startedAt.toISOString();
  await sql(
    `INSERT INTO hosts (id, name, peer_url, version, started_at, heartbeat_at, load) VALUES ($1, $2, $3, $4, $5, now(), $6::jsonb)
     ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, peer_url = EXCLUDED.peer_url, version = EXCLUDED.version,
       started_at = EXCLUDED.started_at, heartbeat_at = now(), load = EXCLUDED.load`,
    [h.id, h.name, h.peerUrl, h.version, startedAt, JSON.stringify(h.load)],
  );
}

interface HostRow {
  id: string;
  name: string;
  peer_url: string | null;
  version: string;
  started_at: Date;
  heartbeat_at: Date;
  load: Record<string, unknown>;
  alive: boolean;
}

/** Every registered host; `alive` when its last heartbeat is at most `maxAgeMs` old. */
export async function hosts(sql: Sql, maxAgeMs: number): Promise<HostRecord[]> {
  const rows = await sql<HostRow>(
    'SELECT id, name, peer_url, version, started_at, heartbeat_at, load, heartbeat_at >= now() - make_interval(secs => $1) AS alive FROM hosts ORDER BY name, id',
    [maxAgeMs / 1000],
  );
  return rows.map((r) => ({
    id: r.id, name: r.name, peerUrl: r.peer_url, version: r.version, startedAt: r.started_at.toISOString(),
    heartbeatAt: r.heartbeat_at.toISOString(), load: r.load, alive: r.alive,
  }));
}
