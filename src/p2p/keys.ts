/** A node's identity (an Ed25519 key pair, libp2p's protobuf form) and the mesh's network key (pnet's swarm.key). */
import { createHash, randomBytes } from 'node:crypto';
import { loadLibp2p } from './load.js';

export interface NewIdentity {
  peerId: string;
  /** The private key as libp2p's protobuf bytes: what the daemon encrypts and stores. */
  privateKey: Uint8Array;
}

export async function generateIdentity(): Promise<NewIdentity> {
  const { keys, peerId } = await loadLibp2p();
  const key = await keys.generateKeyPair('Ed25519');
  return { peerId: peerId.peerIdFromPrivateKey(key).toString(), privateKey: keys.privateKeyToProtobuf(key) };
}

const SWARM_KEY = /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n([0-9a-f]{64})\n?$/;

/** A fresh network key, in the swarm.key text format every host of the mesh must hold (as @libp2p/pnet's generateKey writes it). */
export async function generateNetworkKey(): Promise<string> {
  return `/key/swarm/psk/1.0.0/\n/base16/\n${randomBytes(32).toString('hex')}`;
}

/** The 32 key bytes of a swarm.key; an error when the text is not one. */
export function networkKeyBytes(text: string): Uint8Array {
  const hex = SWARM_KEY.exec(parseNetworkKey(text) ?? '')?.[1];
  if (!hex) throw new Error('the network key is not a swarm.key (/key/swarm/psk/1.0.0/, /base16/, 64 lowercase hex digits)');
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/** The key text normalised (one trailing newline), or null when it is not a swarm.key. */
export function parseNetworkKey(text: string): string | null {
  const norm = `${text.trim().replace(/\r\n/g, '\n')}\n`;
  return SWARM_KEY.test(norm) ? norm : null;
}

/** What hosts compare to see that they hold the same key (never the key itself). */
export function networkKeyFingerprint(text: string): string {
  return createHash('sha256').update(text.trim()).digest('hex').slice(0, 16);
}
