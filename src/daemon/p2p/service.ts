/**
 * The P2P plugin in the daemon: starts this host's libp2p node when P2P is on, keeps the trusted
 * peers connected, announces the registry's models to them and serves their chunks, and pulls
 * models from them (chunks from every peer that holds the model, then the registry's own
 * verification in a sandbox). The one Authorizer decides who may connect (trustsPeer) and audits
 * refusals (denyPeer).
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BkgError } from '../../api/errors.js';
import type { PeersInitResponse, PeersStatus, PeerModel, PeerView } from '../../api/schema/peers.js';
import type { StartedDownload } from '../../llm/registry/types.js';
import type { InferenceEngine, ModelLookup } from '../../llm/types.js';
import type { ModelRegistry } from '../../llm/registry/index.js';
import type { Logger } from '../../log.js';
import { ChunkServer, MAX_CHUNK_BYTES, MIN_CHUNK_BYTES, type ChunkManifest, type HeldModel } from '../../p2p/chunks.js';
import { NO_TRACING, type Tracing } from '../../runtime/tracing.js';
import { fetchChunks } from '../../p2p/fetch.js';
import { networkKeyFingerprint } from '../../p2p/keys.js';
import type { P2pNode } from '../../p2p/node.js';
import type { AuditRepository, ModelRepository, ModelSignatureRepository, PeerRepository, PeerRow } from '../../store/repositories.js';
import type { Authorizer } from '../auth/authorize.js';
import type { P2pConfig } from './config.js';
import type { P2pKeys } from './identity.js';
import { ChatRouting } from './routing.js';

export interface PeerServiceDeps {
  config: P2pConfig | null;
  home: string;
  peers: PeerRepository;
  models: Pick<ModelRepository, 'list' | 'bySha256'>;
  signatures: ModelSignatureRepository;
  registry: Pick<ModelRegistry, 'blobPath' | 'startDownload'> & ModelLookup;
  /** The local inference engine (loaded on first use): routed chats from trusted peers run on it. */
  engine: () => Promise<InferenceEngine>;
  keys: P2pKeys;
  authz: Pick<Authorizer, 'trustsPeer' | 'denyPeer'>;
  audit: Pick<AuditRepository, 'append'>;
  log: Logger;
  /** Traces: a model's transfer from peers is a span (absent: none). */
  tracing?: Tracing;
}

const REDIAL_MS = 5000;
const ASK_MS = 3000;
/** A refused peer is audited at most this often. */
const REFUSAL_AUDIT_MS = 60_000;

export class PeerService {
  private node: P2pNode | null = null;
  private timer: NodeJS.Timeout | null = null;
  private chunks: ChunkServer | null = null;
  private readonly refusedAt = new Map<string, number>();
  private readonly log: Logger;
  /** Chats for models a trusted peer holds (RemoteModels for the LLM routes), and those peers' chats for ours. */
  readonly routing: ChatRouting;

  constructor(private readonly d: PeerServiceDeps) {
    this.log = d.log.child({ component: 'p2p' });
    this.routing = new ChatRouting({
      node: () => this.node, peers: d.peers, models: d.registry, engine: d.engine, audit: d.audit, log: this.log, modelsOf: (peer) => this.modelsOf(peer),
    });
  }

  /**
   * Start the node when P2P is on and this host has its network key (otherwise `bkg peers init`
   * starts it). libp2p loads only here.
   */
  async start(): Promise<void> {
    if (!this.d.config || this.node) return;
    const key = this.d.keys.networkKey();
    if (!key) {
      this.log.info('P2P is on, but this host has no network key yet: `bkg peers init` makes or takes one and starts the node');
      return;
    }
    const id = await this.d.keys.ensureIdentity();
    const { P2pNode } = await import('../../p2p/node.js');
    this.node = await P2pNode.start({
      privateKey: id.privateKey, networkKey: key, listen: [...this.d.config.listen], log: this.log,
      trusted: (peer) => this.d.authz.trustsPeer(peer),
      refused: (peer, door) => this.refused(peer, door),
    });
    const server = new ChunkServer({ models: () => this.held(), blobPath: (sha) => this.blobPath(sha) }, this.d.config.chunkBytes);
    this.chunks = server;
    await this.node.serve((req, from) => (req.op === 'chat' ? this.routing.serve(req, from) : server.handle(req)));
    this.log.info({ peerId: this.node.peerId, addrs: this.node.addrs() }, 'p2p node listening');
    this.redial();
    this.timer = setInterval(() => this.redial(), REDIAL_MS);
    this.timer.unref();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    try {
      await this.node?.stop();
    } finally {
      this.node = null;
      await this.chunks?.close();
      this.chunks = null;
    }
  }

  status(): PeersStatus {
    const key = this.d.keys.networkKey();
    return {
      enabled: this.node !== null,
      peer_id: this.node?.peerId ?? this.d.keys.peerId(),
      listen: this.node?.addrs() ?? [],
      network_key_fingerprint: key ? networkKeyFingerprint(key) : null,
      trusted: this.d.peers.list().length,
      connected: this.node ? this.d.peers.list().filter((p) => this.node?.connected(p.peerId)).length : 0,
    };
  }

  async init(networkKey?: string): Promise<PeersInitResponse> {
    const id = await this.d.keys.ensureIdentity();
    const nk = await this.d.keys.ensureNetworkKey(networkKey);
    await this.start();
    return { peer_id: id.peerId, identity_created: id.created, network_key_created: nk.created, network_key_fingerprint: networkKeyFingerprint(nk.key), network_key: nk.key };
  }

  async list(): Promise<PeerView[]> {
    return Promise.all(this.d.peers.list().map((p) => this.view(p, true)));
  }

  async add(address: string, name: string | undefined, actor: string): Promise<{ peer: PeerView; created: boolean }> {
    const { peerId, addr } = parseAddress(address);
    if (peerId === (this.node?.peerId ?? this.d.keys.peerId())) throw new BkgError('INVALID_ARGUMENT', 'address: that is this host\'s own peer id', { details: { field: 'address' } });
    const { peer, created } = this.d.peers.upsert(peerId, addr ? [addr] : [], name ?? null, actor);
    if (this.node && addr) await this.node.dial(addr, AbortSignal.timeout(5000)).catch((err: unknown) => this.log.info({ peer: peerId, err: (err as Error).message }, 'p2p: the new peer does not answer yet'));
    return { peer: await this.view(peer, false), created };
  }

  async remove(peerId: string): Promise<void> {
    if (!this.d.peers.delete(peerId)) throw new BkgError('NOT_FOUND', `no trusted peer ${peerId}`, { details: { id: peerId } });
    await this.node?.hangUp(peerId);
  }

  /** Pull a model some trusted peers hold: chunks from all of them, then the registry's verification. */
  async pull(name: string, actor: string): Promise<StartedDownload> {
    const node = this.requireNode();
    const offers = await Promise.all(this.d.peers.list().filter((p) => node.connected(p.peerId)).map(async (p) => ({ peer: p.peerId, models: await this.modelsOf(p.peerId) })));
    const holding = offers.flatMap((o) => (o.models ?? []).filter((m) => m.id === name || m.name === name).map((m) => ({ peer: o.peer, m })));
    if (holding.length === 0) throw new BkgError('PEER_UNAVAILABLE', `no connected trusted peer holds a model "${name}"`, { details: { model: name, asked: offers.length } });
    // the digest most holders agree on
    const bySha = new Map<string, typeof holding>();
    for (const h of holding) bySha.set(h.m.sha256, [...(bySha.get(h.m.sha256) ?? []), h]);
    const group = [...bySha.values()].sort((a, b) => b.length - a.length)[0] as typeof holding;
    const model = (group.find((h) => h.m.signature_base64) ?? group[0])?.m as PeerModel;
    const manifest = await this.agreedManifest(model, group.map((h) => h.peer));
    const part = join(this.d.home, 'models', 'p2p', `sha256-${model.sha256}.part`);
    const release = (): void => {
      rmSync(part, { force: true });
      rmSync(`${part}.have`, { force: true });
    };
    return this.d.registry.startDownload({
      source: `peers:sha256:${model.sha256}`,
      name: model.id,
      sha256: model.sha256,
      ...(model.signature_base64 ? { sig: Buffer.from(model.signature_base64, 'base64') } : {}),
      fetch: async ({ onProgress, signal }) => {
        mkdirSync(join(this.d.home, 'models', 'p2p'), { recursive: true, mode: 0o700 });
        const transfer = { 'bkg.model': model.id, 'p2p.holders': manifest.holders.length, 'p2p.chunks': manifest.manifest.chunks.length, 'p2p.bytes': manifest.manifest.size };
        const r = await (this.d.tracing ?? NO_TRACING).span('p2p.fetch', transfer, async (set) => {
          const got = await fetchChunks({
            manifest: manifest.manifest, holders: manifest.holders, dest: part, log: this.log, onProgress,
            ask: (peer, req, s) => node.ask(peer, req, s),
            penalise: (peer, index) => this.penalise(peer, `sent a bad chunk ${index} of ${model.id}`),
            ...(signal ? { signal } : {}),
          }).catch((err: unknown) => {
            throw err instanceof BkgError ? err : new BkgError('DOWNLOAD_FAILED', `from peers: ${(err as Error).message}`);
          });
          set({ 'p2p.peers_used': Object.keys(got.chunksFrom).length, 'p2p.chunks_rejected': got.rejected.length, 'p2p.chunks_resumed': got.resumedChunks });
          return got;
        });
        this.d.audit.append({ actor, namespace: null, action: 'peer.fetch', target: model.id, outcome: 'ok', details: { sha256: model.sha256, chunks_from: r.chunksFrom, rejected: r.rejected, resumed_chunks: r.resumedChunks } });
        return { path: part, release };
      },
    });
  }

  // ---- internals ----

  private requireNode(): P2pNode {
    if (!this.node) throw new BkgError('P2P_DISABLED', 'this daemon runs without its P2P node');
    return this.node;
  }

  private refused(peer: string, door: string): void {
    const now = Date.now();
    if (now - (this.refusedAt.get(peer) ?? 0) < REFUSAL_AUDIT_MS) return;
    this.refusedAt.set(peer, now);
    this.log.warn({ peer, door }, 'p2p: refused a peer that is not trusted');
    this.d.authz.denyPeer(peer, door);
  }

  private penalise(peer: string, why: string): void {
    this.d.peers.penalise(peer);
    this.log.warn({ peer, why }, 'p2p: peer penalised');
    this.d.audit.append({ actor: `peer:${peer}`, namespace: null, action: 'peer.penalty', target: peer, outcome: 'denied', details: { reason: why } });
  }

  private redial(): void {
    const node = this.node;
    if (!node) return;
    for (const p of this.d.peers.list()) {
      if (node.connected(p.peerId)) continue;
      for (const addr of p.addrs) node.dial(addr, AbortSignal.timeout(4000)).catch(() => {});
    }
  }

  private held(): HeldModel[] {
    return this.d.models.list().filter((m) => existsSync(this.d.registry.blobPath(m))).map((m) => {
      const sig = m.signed_by ? this.d.signatures.get(m.sha256) : null;
      return { id: m.id, name: m.name, sha256: m.sha256, size_bytes: m.size_bytes, signed_by: sig ? m.signed_by : null, signature_base64: sig ? sig.toString('base64') : null };
    });
  }

  private blobPath(sha256: string): string | null {
    const m = this.d.models.bySha256(sha256);
    if (!m) return null;
    const path = this.d.registry.blobPath(m);
    return existsSync(path) ? path : null;
  }

  private async modelsOf(peer: string): Promise<PeerModel[] | null> {
    try {
      const a = await this.requireNode().ask(peer, { op: 'models' }, AbortSignal.timeout(ASK_MS));
      return Array.isArray(a.header.models) ? (a.header.models as PeerModel[]) : null;
    } catch {
      return null;
    }
  }

  /** Each holder's manifest; the one most agree on, when it fits the model (the others are not used, and penalised). */
  private async agreedManifest(m: PeerModel, holders: string[]): Promise<{ manifest: ChunkManifest; holders: string[] }> {
    const node = this.requireNode();
    const got = await Promise.all(holders.map(async (peer) => {
      try {
        const a = await node.ask(peer, { op: 'manifest', sha256: m.sha256 }, AbortSignal.timeout(60_000));
        const mf = a.header.manifest as ChunkManifest;
        return fits(mf, m) ? { peer, mf } : null;
      } catch {
        return null;
      }
    }));
    const ok = got.filter((g): g is { peer: string; mf: ChunkManifest } => g !== null);
    if (ok.length === 0) throw new BkgError('PEER_UNAVAILABLE', `no peer holding ${m.id} sent a manifest that fits it`, { details: { model: m.id } });
    const key = (mf: ChunkManifest): string => `${mf.chunk_bytes}:${mf.chunks.join(',')}`;
    const counts = new Map<string, number>();
    for (const g of ok) counts.set(key(g.mf), (counts.get(key(g.mf)) ?? 0) + 1);
    const best = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] as string;
    for (const g of ok) if (key(g.mf) !== best) this.penalise(g.peer, `sent a manifest of ${m.id} that others disagree with`);
    const agreed = ok.filter((g) => key(g.mf) === best);
    return { manifest: (agreed[0] as { mf: ChunkManifest }).mf, holders: agreed.map((g) => g.peer) };
  }

  private async view(p: PeerRow, ask: boolean): Promise<PeerView> {
    const connected = this.node?.connected(p.peerId) ?? false;
    if (connected) this.d.peers.seen(p.peerId, new Date().toISOString());
    const [latency, models] = connected && ask ? await Promise.all([this.node?.ping(p.peerId) ?? null, this.modelsOf(p.peerId)]) : [null, null];
    const row = this.d.peers.get(p.peerId) ?? p;
    return {
      peer_id: row.peerId, name: row.name, addrs: row.addrs, added_at: row.addedAt, added_by: row.addedBy, connected,
      latency_ms: latency ?? null, penalties: row.penalties, last_seen_at: row.lastSeenAt, models: models ?? null,
    };
  }
}

function fits(mf: ChunkManifest | undefined, m: PeerModel): boolean {
  if (!mf || mf.sha256 !== m.sha256 || mf.size !== m.size_bytes || !Number.isInteger(mf.chunk_bytes)) return false;
  if (mf.chunk_bytes < MIN_CHUNK_BYTES || mf.chunk_bytes > MAX_CHUNK_BYTES || !Array.isArray(mf.chunks)) return false;
  return mf.chunks.length === Math.max(1, Math.ceil(mf.size / mf.chunk_bytes)) && mf.chunks.every((c) => typeof c === 'string' && /^[0-9a-f]{64}$/.test(c));
}

const PEER_ID = /^[1-9A-HJ-NP-Za-km-z]{10,128}$/;

/** `/ip4/…/tcp/…/p2p/ID` or a bare peer id. */
export function parseAddress(address: string): { peerId: string; addr: string | null } {
  const a = address.trim();
  if (PEER_ID.test(a)) return { peerId: a, addr: null };
  const m = /^(\/.+)\/p2p\/([1-9A-HJ-NP-Za-km-z]{10,128})$/.exec(a);
  if (!m || !/^\/(ip4|ip6|dns4|dns6|dns)\/[^/]+\/tcp\/\d{1,5}$/.test(m[1] as string)) {
    throw new BkgError('INVALID_ARGUMENT', `address: ${JSON.stringify(address)} is neither a peer id nor a multiaddr like /ip4/10.0.0.2/tcp/7421/p2p/12D3KooW…`, { details: { field: 'address' } });
  }
  return { peerId: m[2] as string, addr: a };
}
