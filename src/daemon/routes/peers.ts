/** Admin routes of the P2P plugin: this node, its trusted peers, models pulled from peers. */
import { ROUTES } from '../../api/routes.js';
import type { Principal } from '../auth/api-keys.js';
import type { Action } from '../auth/rights.js';
import type { Router } from '../http/router.js';
import type { PeerService } from '../p2p/service.js';

export function peerRoutes(router: Router<Principal, Action>, peers: PeerService): void {
  router
    .route(ROUTES.peersInit, async ({ input: { body } }) => {
      const r = await peers.init(body.network_key);
      return { status: 200, body: r, audit: { target: r.peer_id } };
    })
    .route(ROUTES.peersStatus, async () => ({ status: 200, body: peers.status() }))
    .route(ROUTES.listPeers, async () => ({ status: 200, body: { peers: await peers.list() } }))
    .route(ROUTES.addPeer, async ({ principal, input: { body } }) => {
      const { peer, created } = await peers.add(body.address, body.name, principal.id);
      return { status: created ? 201 : 200, body: peer, audit: { target: peer.peer_id } };
    })
    .route(ROUTES.removePeer, async ({ input: { params } }) => {
      await peers.remove(params.id);
      return { status: 204, audit: { target: params.id } };
    })
    .route(ROUTES.peerPull, async ({ principal, input: { body } }) => ({ status: 202, body: await peers.pull(body.name, principal.id), audit: { target: body.name } }));
}
