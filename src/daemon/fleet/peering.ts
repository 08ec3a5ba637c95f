/**
 * This host's part in forwarding: the forwarder (with this host's TLS certificate, when it has
 * one), what the sandbox service sees of the other hosts through it, the exec stream proxy, and
 * the mutual-TLS peer listener the other hosts forward to (with BKG_PEER_PORT and the TLS files).
 */
import type { Logger } from '../../log.js';
import type { DaemonConfig } from '../config.js';
import type { RemoteSandboxes, SandboxService } from '../sandbox/service.js';
import type { FleetDirectory } from './directory.js';
import { Forwarder } from './forward.js';
import { createPeerServer, readPeerTls, type PeerServer, type PeerServerOptions } from './peer-server.js';
import { remoteSandboxes } from './remote-sandboxes.js';
import { ExecStreamProxy } from './ws-proxy.js';

export interface Peering {
  readonly forwarder: Forwarder;
  /** For the sandbox service: calls on other hosts' sandboxes go there. */
  readonly remote: RemoteSandboxes;
  /** The peer listener over the daemon's router; null when this host has none (no BKG_PEER_PORT). */
  listener(o: Omit<PeerServerOptions, 'peer' | 'directory'>): PeerServer | null;
  /** For the exec WebSocket: streams of other hosts' sandboxes are relayed there. */
  proxy(svc: SandboxService): ExecStreamProxy;
  close(): void;
}

export function createPeering(o: { config: DaemonConfig; directory: FleetDirectory; log: Logger; connectTimeoutMs?: number }): Peering {
  const { peer } = o.config;
  const forwarder = new Forwarder({ directory: o.directory, tls: peer ? readPeerTls(peer) : null, ...(o.connectTimeoutMs ? { connectTimeoutMs: o.connectTimeoutMs } : {}) });
  const log = o.log.child({ component: 'fleet' });
  return {
    forwarder,
    remote: remoteSandboxes(forwarder, o.directory),
    listener: (l) => (peer ? createPeerServer({ ...l, peer, directory: o.directory }) : null),
    proxy: (svc) => new ExecStreamProxy({ svc, forwarder, log }),
    close: () => forwarder.close(),
  };
}
