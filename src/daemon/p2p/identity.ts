/**
 * This host's P2P identity and the mesh's network key. The identity's private key is stored in
 * the database encrypted like API keys and secrets: AES-256-GCM under a subkey of the master key
 * (HKDF), bound to the peer id. The network key (pnet's swarm.key) is a key file of its own,
 * $BKG_HOME/p2p/swarm.key (0600), the same on every host of the mesh.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { BkgError } from '../../api/errors.js';
import { generateIdentity, generateNetworkKey, networkKeyFingerprint, parseNetworkKey } from '../../p2p/keys.js';
import type { PeerRepository } from '../../store/repositories.js';
import { createKeyFile, readKeyFile } from '../auth/key-file.js';

const ENC_INFO = 'bkg p2p identity v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const NETWORK_KEY = { label: 'P2P network key file', hint: 'It must be the swarm.key of the mesh (`bkg peers init` writes it), mode 0600.' };

export class P2pKeys {
  private readonly key: Buffer;
  readonly networkKeyPath: string;

  constructor(private readonly peers: Pick<PeerRepository, 'identity' | 'setIdentity'>, masterKey: Buffer, home: string) {
    this.key = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), ENC_INFO, 32));
    this.networkKeyPath = join(home, 'p2p', 'swarm.key');
  }

  /** The identity, creating it when the host has none. */
  async ensureIdentity(): Promise<{ peerId: string; privateKey: Uint8Array; created: boolean }> {
    const row = this.peers.identity();
    if (row) return { peerId: row.peerId, privateKey: this.open(row.peerId, row.ciphertext), created: false };
    const id = await generateIdentity();
    const iv = randomBytes(IV_BYTES);
    const c = createCipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
    c.setAAD(Buffer.from(id.peerId));
    const data = Buffer.concat([c.update(id.privateKey), c.final()]);
    this.peers.setIdentity({ peerId: id.peerId, ciphertext: Buffer.concat([iv, c.getAuthTag(), data]) });
    return { ...id, created: true };
  }

  peerId(): string | null {
    return this.peers.identity()?.peerId ?? null;
  }

  private open(peerId: string, ct: Buffer): Uint8Array {
    try {
      const d = createDecipheriv('aes-256-gcm', this.key, ct.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
      d.setAAD(Buffer.from(peerId));
      d.setAuthTag(ct.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([d.update(ct.subarray(IV_BYTES + TAG_BYTES)), d.final()]);
    } catch (err) {
      throw new BkgError('INVALID_CONFIG', 'the P2P identity cannot be decrypted: the master key is not the one it was made under, or its row was altered', { cause: err });
    }
  }

  /** The network key text, or null when this host has none yet. */
  networkKey(): string | null {
    const text = readKeyFile(this.networkKeyPath, NETWORK_KEY);
    if (text === null) return null;
    const key = parseNetworkKey(text);
    if (!key) throw new BkgError('INVALID_CONFIG', `${NETWORK_KEY.label} ${this.networkKeyPath} is not a swarm.key (/key/swarm/psk/1.0.0/, /base16/, 64 hex digits)`);
    return key;
  }

  /** Take `given` (or make a key when none is given and the host has none). A different key than the one held is CONFLICT. */
  async ensureNetworkKey(given?: string): Promise<{ key: string; created: boolean }> {
    const wanted = given === undefined ? null : parseNetworkKey(given);
    if (given !== undefined && !wanted) throw new BkgError('INVALID_ARGUMENT', 'network_key: not a swarm.key (/key/swarm/psk/1.0.0/, /base16/, 64 hex digits)', { details: { field: 'network_key' } });
    const held = this.networkKey();
    if (held) {
      if (wanted && wanted !== held) {
        throw new BkgError('CONFLICT', `this host already holds another network key (fingerprint ${networkKeyFingerprint(held)})`, { hint: `Remove ${this.networkKeyPath} first (this host leaves its mesh), then run \`bkg peers init\` again.` });
      }
      return { key: held, created: false };
    }
    const key = wanted ?? (await generateNetworkKey());
    if (!createKeyFile(this.networkKeyPath, key)) return { key: this.networkKey() as string, created: false };
    // created: a fresh key was made here (taking the mesh's key is not creating one)
    return { key, created: wanted === null };
  }
}
