/**
 * The mesh's private network: libp2p's pnet protocol, PSK v1 (the wire of @libp2p/pnet and
 * go-libp2p's pnet). Each side sends a random 24-byte nonce; from then on every byte either way is
 * XSalsa20 under the swarm key and the sender's nonce, so a node without the key cannot even read
 * the Noise handshake. This implementation keeps that wire (a test connects it to @libp2p/pnet)
 * and uses the same cipher code (the `xsalsa20` package), but XORs every buffer in place: the
 * packaged protector joins each batch of outgoing buffers into a new one and allocates a fresh
 * buffer for every read and write, which on a bulk transfer made V8 run a major GC every few MiB
 * (a GC observer in a holder of bench/p2p.mjs's part 2: most of its CPU went there). In place is
 * safe here: what arrives is the socket's own fresh buffer, and what leaves is Noise's freshly
 * encrypted output.
 */
import type { AbortOptions, MessageStream, MultiaddrConnection } from '@libp2p/interface';
import { networkKeyBytes } from './keys.js';

/** What libp2p sends and receives: a Uint8Array or a Uint8ArrayList (which iterates its buffers). */
type Bytes = Parameters<MultiaddrConnection['send']>[0];

/** The `xsalsa20` package's factory (its types: xsalsa20.d.ts). */
export type XSalsa20Factory = typeof import('xsalsa20').default;
type XSalsa20 = ReturnType<XSalsa20Factory>;

type Utils = typeof import('@libp2p/utils');

export const NONCE_BYTES = 24;
const HANDSHAKE_TIMEOUT_MS = 1000;

/** XOR every buffer of `data` in place with the next bytes of `cipher`'s stream. */
function xorInPlace(cipher: XSalsa20, data: Bytes): void {
  if (data instanceof Uint8Array) {
    cipher.update(data, data);
    return;
  }
  for (const buf of data) cipher.update(buf, buf);
}

/** libp2p's `connectionProtector` for the mesh with this swarm.key. */
export function privateNetwork(utils: Utils, xsalsa20: XSalsa20Factory, networkKey: string): () => { protect(conn: MessageStream, options?: AbortOptions): Promise<MessageStream> } {
  const psk = networkKeyBytes(networkKey);

  class ProtectedConnection extends utils.AbstractMultiaddrConnection {
    private readonly inbound: XSalsa20;
    private readonly outbound: XSalsa20;
    private done = false;

    constructor(private readonly conn: MultiaddrConnection, localNonce: Uint8Array, remoteNonce: Uint8Array) {
      super({ log: conn.log.newScope('pnet'), remoteAddr: conn.remoteAddr, direction: conn.direction });
      this.inbound = xsalsa20(remoteNonce, psk);
      this.outbound = xsalsa20(localNonce, psk);
      conn.addEventListener('message', (evt) => {
        if (this.done) return;
        try {
          xorInPlace(this.inbound, evt.data);
        } catch (err) {
          // the cipher's WASM memory could not grow: this connection ends, not the process
          this.abort(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        this.onData(evt.data);
      });
      conn.addEventListener('drain', () => this.onMuxerDrain());
      conn.addEventListener('close', (evt) => {
        this.finish();
        if (evt.error == null) this.onTransportClosed();
        else if (evt.local) this.abort(evt.error);
        else this.onRemoteReset();
      });
    }

    /** The ciphers' state is wiped once the connection is gone (their WASM slots are reused). */
    private finish(): void {
      if (this.done) return;
      this.done = true;
      for (const cipher of [this.inbound, this.outbound]) {
        try {
          cipher.finalize();
        } catch {
          // the package's view of its WASM memory went stale when another cipher grew it (a write
          // larger than the memory; never one of ours, @libp2p/pnet's joined batches): the slot is left
        }
      }
    }

    async sendClose(options?: AbortOptions): Promise<void> {
      await this.conn.close(options);
    }

    sendData(data: Bytes): { sentBytes: number; canSendMore: boolean } {
      if (this.done) throw new Error('the connection is closed');
      xorInPlace(this.outbound, data);
      return { sentBytes: data.byteLength, canSendMore: this.conn.send(data) };
    }

    sendReset(err: Error): void {
      this.conn.abort(err);
    }

    sendPause(): void {
      this.conn.pause();
    }

    sendResume(): void {
      this.conn.resume();
    }
  }

  return () => ({
    async protect(connection: MessageStream, options?: AbortOptions): Promise<MessageStream> {
      const localNonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
      const opts = options ?? { signal: AbortSignal.timeout(HANDSHAKE_TIMEOUT_MS) };
      const bytes = utils.byteStream(connection);
      const [remote] = await Promise.all([bytes.read({ bytes: NONCE_BYTES, ...opts }), bytes.write(localNonce, opts)]);
      const remoteNonce = remote.subarray();
      // our own nonce sent back would make both directions one keystream (@libp2p/pnet does not check)
      if (Buffer.from(remoteNonce).equals(Buffer.from(localNonce))) throw new Error('pnet: the remote nonce is our own');
      return new ProtectedConnection(bytes.unwrap() as MultiaddrConnection, localNonce, remoteNonce);
    },
  });
}
