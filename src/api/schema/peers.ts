/** The P2P plugin (README "P2P plugin"): this node, its trusted peers, models pulled from peers. */
import { NullableTimestamp, Timestamp, z } from './common.js';

const PeerIdText = z.string().min(10).max(128).regex(/^[1-9A-HJ-NP-Za-km-z]+$/, 'a libp2p peer id (base58)');
export const PeerParams = z.object({ id: PeerIdText }).strict();

export const PeersInitRequest = z.object({
  network_key: z.string().max(4096).optional().describe('The fleet\'s network key (the pnet swarm.key text); absent: make one when this host has none.'),
}).strict();
export const PeersInitResponse = z.object({
  peer_id: z.string(),
  identity_created: z.boolean(),
  network_key_created: z.boolean(),
  network_key_fingerprint: z.string().describe('sha256 of the key, first 16 hex digits: the same on every host of the mesh.'),
  network_key: z.string().describe('The swarm.key text, to give to the other hosts of the mesh (over a channel you trust).'),
}).strict();

export const AddPeerRequest = z.object({
  address: z.string().min(1).max(1024).describe('A multiaddr ending in /p2p/PEER_ID, or a bare peer id.'),
  name: z.string().min(1).max(128).optional(),
}).strict();

export const PeerModel = z.object({
  id: z.string(),
  name: z.string(),
  sha256: z.string(),
  size_bytes: z.int(),
  signed_by: z.string().nullable(),
  signature_base64: z.string().nullable(),
}).strict();

export const PeerView = z.object({
  peer_id: z.string(),
  name: z.string().nullable(),
  addrs: z.array(z.string()),
  added_at: Timestamp,
  added_by: z.string(),
  connected: z.boolean(),
  latency_ms: z.number().nullable(),
  penalties: z.int(),
  last_seen_at: NullableTimestamp,
  models: z.array(PeerModel).nullable().describe('What it holds (asked now); null when it could not be asked.'),
}).strict();
export const PeerList = z.object({ peers: z.array(PeerView) }).strict();

export const PeersStatus = z.object({
  enabled: z.boolean(),
  peer_id: z.string().nullable(),
  listen: z.array(z.string()),
  network_key_fingerprint: z.string().nullable(),
  trusted: z.int(),
  connected: z.int(),
}).strict();

export const PeerPullRequest = z.object({
  name: z.string().min(1).max(128).describe('A model id or name some trusted peer holds.'),
}).strict();

export type PeerView = z.infer<typeof PeerView>;
export type PeerModel = z.infer<typeof PeerModel>;
export type PeersStatus = z.infer<typeof PeersStatus>;
export type PeersInitResponse = z.infer<typeof PeersInitResponse>;
