/**
 * What the daemon knows about the other hosts of its fleet: who it is, and where each host's peer
 * listener is (from the host registry in the fleet database, refreshed by heartbeats). A host on
 * its own (no sync) has a directory with only itself in it.
 */
export interface PeerHost {
  id: string;
  name: string;
  /** https://ADDRESS:PORT of its mutual-TLS peer listener; null: it takes no forwarded requests. */
  peerUrl: string | null;
  /** Its last heartbeat is recent. */
  alive: boolean;
  /** What it reported with its heartbeat (running sandboxes, memory), for placement. */
  load: Record<string, unknown>;
}

export interface FleetDirectory {
  /** This host's id (sandboxes.host of the sandboxes it runs). */
  readonly selfId: string;
  readonly selfName: string;
  /** A host of the fleet by id; null when the registry does not know it. */
  host(id: string): Promise<PeerHost | null>;
  /** Every host of the fleet (this one included). */
  hosts(): Promise<PeerHost[]>;
}

/** The directory of a host on its own. */
export function soloDirectory(selfId: string, selfName: string): FleetDirectory {
  const me: PeerHost = { id: selfId, name: selfName, peerUrl: null, alive: true, load: {} };
  return {
    selfId,
    selfName,
    host: async (id) => (id === selfId ? me : null),
    hosts: async () => [me],
  };
}
