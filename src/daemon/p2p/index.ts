/** The P2P plugin's part of the composition root: its keys, its service (the node starts only with BKG_P2P=1), its routes. */
import type { Tracing } from '../../runtime/tracing.js';
import type { ModelRegistry } from '../../llm/registry/index.js';
import type { InferenceEngine } from '../../llm/types.js';
import type { Logger } from '../../log.js';
import type { SqliteStore } from '../../store/index.js';
import type { Principal } from '../auth/api-keys.js';
import type { Authorizer } from '../auth/authorize.js';
import type { Action } from '../auth/rights.js';
import type { DaemonConfig } from '../config.js';
import type { Router } from '../http/router.js';
import { peerRoutes } from '../routes/peers.js';
import { P2pKeys } from './identity.js';
import { PeerService } from './service.js';

export async function createP2p(d: { config: DaemonConfig; store: SqliteStore; masterKey: Buffer; registry: ModelRegistry; engine: () => Promise<InferenceEngine>; authz: Authorizer; router: Router<Principal, Action>; log: Logger; tracing?: Tracing }): Promise<PeerService> {
  const service = new PeerService({
    config: d.config.p2p, home: d.config.home, peers: d.store.peers, models: d.store.models, signatures: d.store.modelSignatures, registry: d.registry, engine: d.engine,
    keys: new P2pKeys(d.store.peers, d.masterKey, d.config.home), authz: d.authz, audit: d.store.audit, log: d.log, ...(d.tracing ? { tracing: d.tracing } : {}),
  });
  peerRoutes(d.router, service);
  await service.start();
  return service;
}
