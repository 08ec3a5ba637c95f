/**
 * The P2P plugin's tables: this node's libp2p identity (ciphertext only: the daemon encrypts it
 * under the master key), the peers it trusts, and the signatures models were verified with (so
 * a peer can verify a replicated model the same way).
 */
import { BkgError } from '../../api/errors.js';
import type { Db } from '../db.js';
import type { ModelSignatureRepository, P2pIdentityRow, PeerRepository, PeerRow, SealedP2pIdentity } from '../repositories.js';
import { constraintKind } from '../sqlite-errors.js';

interface Row {
  peer_id: string;
  addrs_json: string;
  name: string | null;
  added_at: string;
  added_by: string;
  penalties: number;
  last_seen_at: string | null;
}

function toPeer(r: Row): PeerRow {
  return { peerId: r.peer_id, addrs: JSON.parse(r.addrs_json) as string[], name: r.name, addedAt: r.added_at, addedBy: r.added_by, penalties: r.penalties, lastSeenAt: r.last_seen_at };
}

export class PeerRepo implements PeerRepository {
  private readonly getStmt;
  private readonly listStmt;
  private readonly insertStmt;
  private readonly addrsStmt;
  private readonly deleteStmt;
  private readonly penaliseStmt;
  private readonly seenStmt;
  private readonly identityStmt;
  private readonly setIdentityStmt;

  constructor(db: Db, private readonly now: () => Date = () => new Date()) {
    this.getStmt = db.prepare('SELECT * FROM peers WHERE peer_id = ?');
    this.listStmt = db.prepare('SELECT * FROM peers ORDER BY added_at, peer_id');
    this.insertStmt = db.prepare('INSERT INTO peers (peer_id, addrs_json, name, added_at, added_by) VALUES (?, ?, ?, ?, ?)');
    this.addrsStmt = db.prepare('UPDATE peers SET addrs_json = ?, name = COALESCE(?, name) WHERE peer_id = ?');
    this.deleteStmt = db.prepare('DELETE FROM peers WHERE peer_id = ?');
    this.penaliseStmt = db.prepare('UPDATE peers SET penalties = penalties + 1 WHERE peer_id = ?');
    this.seenStmt = db.prepare('UPDATE peers SET last_seen_at = ? WHERE peer_id = ?');
    this.identityStmt = db.prepare('SELECT peer_id, ciphertext, created_at FROM p2p_identity WHERE id = 1');
    this.setIdentityStmt = db.prepare('INSERT INTO p2p_identity (id, peer_id, ciphertext, created_at) VALUES (1, ?, ?, ?)');
  }

  get(peerId: string): PeerRow | null {
    const r = this.getStmt.get(peerId) as Row | undefined;
    return r ? toPeer(r) : null;
  }

  list(): PeerRow[] {
    return (this.listStmt.all() as Row[]).map(toPeer);
  }

  /** Add a peer, or update the addresses (and name) of one already trusted; `created` says which. */
  upsert(peerId: string, addrs: string[], name: string | null, by: string): { peer: PeerRow; created: boolean } {
    const existing = this.get(peerId);
    if (existing) {
      const merged = [...new Set([...existing.addrs, ...addrs])];
      this.addrsStmt.run(JSON.stringify(merged), name, peerId);
      return { peer: this.get(peerId) as PeerRow, created: false };
    }
    this.insertStmt.run(peerId, JSON.stringify(addrs), name, this.now().toISOString(), by);
    return { peer: this.get(peerId) as PeerRow, created: true };
  }

  delete(peerId: string): boolean {
    return this.deleteStmt.run(peerId).changes > 0;
  }

  penalise(peerId: string): void {
    this.penaliseStmt.run(peerId);
  }

  seen(peerId: string, at: string): void {
    this.seenStmt.run(at, peerId);
  }

  identity(): P2pIdentityRow | null {
    const r = this.identityStmt.get() as { peer_id: string; ciphertext: Buffer; created_at: string } | undefined;
    return r ? { peerId: r.peer_id, ciphertext: r.ciphertext, createdAt: r.created_at } : null;
  }

  /** Store the node's identity once; CONFLICT when one exists (an identity is never replaced). */
  setIdentity(id: SealedP2pIdentity): void {
    try {
      this.setIdentityStmt.run(id.peerId, id.ciphertext, this.now().toISOString());
    } catch (err) {
      if (constraintKind(err) !== undefined) throw new BkgError('CONFLICT', 'this host already has a P2P identity', { details: { peer_id: this.identity()?.peerId } });
      throw err;
    }
  }
}

export class ModelSignatureRepo implements ModelSignatureRepository {
  private readonly getStmt;
  private readonly putStmt;

  constructor(db: Db) {
    this.getStmt = db.prepare('SELECT signature FROM model_signatures WHERE sha256 = ?');
    this.putStmt = db.prepare('INSERT INTO model_signatures (sha256, signature) VALUES (?, ?) ON CONFLICT (sha256) DO UPDATE SET signature = excluded.signature');
  }

  get(sha256: string): Buffer | null {
    return (this.getStmt.get(sha256) as { signature: Buffer } | undefined)?.signature ?? null;
  }

  put(sha256: string, signature: Buffer): void {
    this.putStmt.run(sha256, signature);
  }
}
