/**
 * The peer listener: where the other hosts of a fleet forward requests for the sandboxes this host
 * runs. HTTPS with mutual TLS only (a client certificate the fleet CA signed, checked by TLS before
 * a byte of HTTP is read; plain TCP never gets an answer), serving the same router as the other
 * listeners, as the caller the forwarding host names (peer-auth.ts), plus the exec WebSocket.
 * Forwarded calls take only the actions forwarding needs (sandboxes, MCP, reading the daemon and
 * policies): a host's certificate never mints keys, changes policies or stops another host.
 */
import { readFileSync } from 'node:fs';
import { BkgError } from '../../api/errors.js';
import type { DaemonConfig } from '../config.js';
import type { Principal } from '../auth/api-keys.js';
import type { Authorizer } from '../auth/authorize.js';
import type { Action } from '../auth/rights.js';
import { createHttpServer, type DaemonHttpServer } from '../http/server.js';
import type { Router } from '../http/router.js';
import type { Logger } from '../../log.js';
import type { Registry } from '../prometheus.js';
import { createPeerAuthenticator, type PeerAuthDeps, type PeerAuthenticator } from './peer-auth.js';

export type PeerConfig = NonNullable<DaemonConfig['peer']>;

export interface PeerServerOptions extends PeerAuthDeps {
  peer: PeerConfig;
  router: Router<Principal, Action>;
  log: Logger;
  authz: Pick<Authorizer, 'require' | 'deny'>;
  metrics: Registry;
  maxBodyBytes: number;
}

export interface PeerServer {
  readonly http: DaemonHttpServer;
  /** For the exec WebSocket on this listener. */
  readonly authenticate: PeerAuthenticator;
  /** Bind BKG_PEER_ADDRESS:BKG_PEER_PORT; returns the port. */
  listen(): Promise<number>;
  close(): Promise<void>;
}

/** What a forwarded call may do at most (then the caller's own rights decide). */
export const PEER_ACTIONS: ReadonlySet<Action> = new Set<Action>([
  'sandbox.list', 'sandbox.read', 'sandbox.create', 'sandbox.start', 'sandbox.stop', 'sandbox.delete', 'sandbox.exec', 'sandbox.files.write', 'sandbox.apply',
  'mcp.session', 'daemon.read', 'policy.read',
]);

/** The TLS files of BKG_TLS_CERT, BKG_TLS_KEY and BKG_TLS_CA, read once. */
export function readPeerTls(peer: PeerConfig): { cert: Buffer; key: Buffer; ca: Buffer } {
  return { cert: readFileSync(peer.cert), key: readFileSync(peer.key), ca: readFileSync(peer.ca) };
}

export function createPeerServer(o: PeerServerOptions): PeerServer {
  const authenticate = createPeerAuthenticator(o);
  const authorize = (p: Principal, action: Action, route: string): void => {
    if (!PEER_ACTIONS.has(action)) o.authz.deny(p, action, route, new BkgError('FORBIDDEN', `${action} is not taken from other hosts: do it on this host`, { details: { action } }));
    o.authz.require(p, action, route);
  };
  const http = createHttpServer({ router: o.router, log: o.log.child({ listener: 'peer' }), authenticate, authorize, metrics: o.metrics, maxBodyBytes: o.maxBodyBytes, tls: readPeerTls(o.peer) });
  return {
    http,
    authenticate,
    async listen() {
      const bound = await http.listen({ port: o.peer.port, host: o.peer.address });
      return bound.port ?? o.peer.port;
    },
    close: () => http.close(),
  };
}
