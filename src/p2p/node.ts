/**
 * One libp2p node per daemon (README "P2P plugin"): TCP, Noise, Yamux, inside a private network
 * (pnet: a node without the mesh's network key cannot complete a handshake). Trust is explicit:
 * a connection from a peer id that `trusted` does not accept is refused once it is encrypted
 * (its id is known then), and so is a stream of our protocol; each refusal is `refused` (the
 * daemon audits it). The protocol is request/answer: one length-prefixed JSON request, one JSON
 * header, and for chunks one frame of bytes.
 */
import type { Logger } from '../log.js';
import { loadLibp2p, type Libp2pModules } from './load.js';
import { privateNetwork } from './pnet.js';

export const PROTOCOL = '/bkg/p2p/1.0.0';
/** The largest frame either side accepts (a chunk of at most MAX_CHUNK_BYTES, with room to spare). */
export const MAX_FRAME_BYTES = 8 * 1024 * 1024 + 1024;
/**
 * Yamux frames of up to 256 KiB (default 64) and a first window of 1 MiB per stream (default
 * 256 KiB): a default 1 MiB chunk crosses in 4 frames without waiting for a window update, and
 * the per-frame work is paid a quarter as often (ad hoc, one holder vs plain HTTP, three paired
 * part-2-only runs: 0.17–0.26× with the defaults, 0.31–0.38× with these).
 */
const YAMUX_MESSAGE_BYTES = 256 * 1024;
const YAMUX_WINDOW_BYTES = 1024 * 1024;

export interface P2pNodeOptions {
  privateKey: Uint8Array;
  /** swarm.key text */
  networkKey: string;
  /** multiaddrs to listen on, e.g. /ip4/127.0.0.1/tcp/0 */
  listen: string[];
  trusted(peerId: string): boolean;
  refused(peerId: string, what: string): void;
  log: Logger;
}

export interface Answer {
  header: Record<string, unknown>;
  data?: Uint8Array;
  /** A streamed answer: after the header, each event `send`s one JSON frame; `signal` aborts when the asker goes away. */
  events?: (send: (e: Record<string, unknown>) => Promise<void>, signal: AbortSignal) => Promise<void>;
}

/** An answer as asked: the bytes after the header are the pieces they arrived in, never joined. */
export interface Reply {
  header: Record<string, unknown>;
  data?: Uint8Array[];
}

/** Answers one request from a trusted peer. */
export type RequestHandler = (req: Record<string, unknown>, from: string) => Promise<Answer>;

type Node = Awaited<ReturnType<Libp2pModules['libp2p']['createLibp2p']>>;

/** The transport stack of every node: TCP, the private network, Noise, Yamux (bench/p2p.mjs builds its bare nodes from it too). */
export function transportOptions(m: Libp2pModules, networkKey: string) {
  return {
    transports: [m.tcp.tcp()],
    connectionProtector: privateNetwork(m.utils, m.xsalsa20, networkKey),
    connectionEncrypters: [m.noise.noise()],
    streamMuxers: [m.yamux.yamux({ maxMessageSize: YAMUX_MESSAGE_BYTES, streamOptions: { initialStreamWindowSize: YAMUX_WINDOW_BYTES } })],
  };
}

export class P2pNode {
  private constructor(
    private readonly node: Node,
    private readonly m: Libp2pModules,
    private readonly o: P2pNodeOptions,
  ) {}

  static async start(o: P2pNodeOptions): Promise<P2pNode> {
    const m = await loadLibp2p();
    const privateKey = m.keys.privateKeyFromProtobuf(o.privateKey);
    const deny = async (peer: { toString(): string }): Promise<boolean> => {
      const id = peer.toString();
      if (o.trusted(id)) return false;
      o.refused(id, 'connection');
      return true;
    };
    const node = await m.libp2p.createLibp2p({
      privateKey,
      addresses: { listen: o.listen },
      ...transportOptions(m, o.networkKey),
      connectionGater: { denyInboundEncryptedConnection: deny, denyOutboundEncryptedConnection: deny },
      services: { ping: m.ping.ping() },
    });
    return new P2pNode(node, m, o);
  }

  get peerId(): string {
    return this.node.peerId.toString();
  }

  addrs(): string[] {
    return this.node.getMultiaddrs().map((a) => a.toString());
  }

  /** Serve our protocol: each stream carries one request from a trusted peer. */
  async serve(handler: RequestHandler): Promise<void> {
    await this.node.handle(PROTOCOL, async (stream, conn) => {
      const from = conn.remotePeer.toString();
      if (!this.o.trusted(from)) {
        this.o.refused(from, PROTOCOL);
        stream.abort(new Error('not a trusted peer'));
        return;
      }
      try {
        const frames = this.m.lp.decode(stream, { maxDataLength: MAX_FRAME_BYTES })[Symbol.asyncIterator]();
        const first = await frames.next();
        if (first.done) return;
        const req = JSON.parse(Buffer.from(first.value.subarray()).toString('utf8')) as Record<string, unknown>;
        let answer: Answer;
        try {
          answer = await handler(req, from);
        } catch (err) {
          answer = { header: { error: err instanceof Error ? err.message : String(err) } };
        }
        await this.write(stream, Buffer.from(JSON.stringify(answer.header)));
        if (answer.data) await this.write(stream, answer.data);
        if (answer.events) {
          const gone = new AbortController();
          stream.addEventListener('close', () => gone.abort(), { once: true });
          // a caller that went away (or a write that failed) stops the answer through the signal, not by throwing into its maker
          const send = async (e: Record<string, unknown>): Promise<void> => {
            if (gone.signal.aborted) return;
            await this.write(stream, Buffer.from(JSON.stringify(e))).catch((err: unknown) => gone.abort(err));
          };
          await answer.events(send, gone.signal);
        }
        await stream.close();
      } catch (err) {
        this.o.log.debug({ err, peer: from }, 'p2p: a request ended early');
        stream.abort(err instanceof Error ? err : new Error(String(err)));
      }
    }, { maxInboundStreams: 64 });
  }

  private async write(stream: Parameters<Parameters<Node['handle']>[1]>[0], bytes: Uint8Array): Promise<void> {
    if (!stream.send(this.m.lp.encode.single(bytes))) await stream.onDrain();
  }

  /** Connect to a peer at `addr` (a multiaddr ending in /p2p/ID). */
  async dial(addr: string, signal?: AbortSignal): Promise<void> {
    await this.node.dial(this.m.multiaddr.multiaddr(addr), signal ? { signal } : {});
  }

  connected(peerId: string): boolean {
    return this.node.getConnections().some((c) => c.remotePeer.toString() === peerId && c.status === 'open');
  }

  connectedPeers(): string[] {
    return [...new Set(this.node.getConnections().filter((c) => c.status === 'open').map((c) => c.remotePeer.toString()))];
  }

  /** Round trip in ms over an open connection, or null. */
  async ping(peerId: string): Promise<number | null> {
    if (!this.connected(peerId)) return null;
    try {
      return await (this.node.services as { ping: { ping(p: unknown, o: { signal: AbortSignal }): Promise<number> } }).ping.ping(this.m.peerId.peerIdFromString(peerId), { signal: AbortSignal.timeout(2000) });
    } catch {
      return null;
    }
  }

  async hangUp(peerId: string): Promise<void> {
    await this.node.hangUp(this.m.peerId.peerIdFromString(peerId)).catch(() => {});
  }

  /** One request to a connected peer; rejects on a transport error, or with the peer's error. */
  async ask(peerId: string, req: Record<string, unknown>, signal?: AbortSignal): Promise<Reply> {
    const opts = { signal: signal ?? AbortSignal.timeout(30_000) };
    const stream = await this.node.dialProtocol(this.m.peerId.peerIdFromString(peerId), PROTOCOL, opts);
    try {
      await this.write(stream, Buffer.from(JSON.stringify(req)));
      const frames = this.m.lp.decode(stream, { maxDataLength: MAX_FRAME_BYTES })[Symbol.asyncIterator]();
      const first = await frames.next();
      if (first.done) throw new Error('the peer closed the stream without an answer');
      const header = JSON.parse(Buffer.from(first.value.subarray()).toString('utf8')) as Record<string, unknown>;
      if (typeof header.error === 'string') throw new Error(`peer ${peerId}: ${header.error}`);
      let data: Uint8Array[] | undefined;
      if (header.data === true) {
        const second = await frames.next();
        if (second.done) throw new Error('the peer closed the stream before its data');
        // the frame's pieces as received: a chunk is hashed and written piece by piece, never joined
        data = [...second.value];
      }
      await stream.close().catch(() => {});
      return data ? { header, data } : { header };
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
  }

  /** One request whose answer is a stream of JSON events (after the header); resolves when the peer ends it. */
  async askStream(peerId: string, req: Record<string, unknown>, onEvent: (e: Record<string, unknown>) => void | Promise<void>, signal: AbortSignal): Promise<void> {
    // one protocol, known to be served: selected optimistically, without a round trip of its own
    const stream = await this.node.dialProtocol(this.m.peerId.peerIdFromString(peerId), PROTOCOL, { signal, negotiateFully: false });
    const stop = (): void => stream.abort(new Error('the routed call was cancelled'));
    signal.addEventListener('abort', stop, { once: true });
    try {
      await this.write(stream, Buffer.from(JSON.stringify(req)));
      let first = true;
      for await (const frame of this.m.lp.decode(stream, { maxDataLength: MAX_FRAME_BYTES })) {
        const e = JSON.parse(Buffer.from(frame.subarray()).toString('utf8')) as Record<string, unknown>;
        if (first && typeof e.error === 'string') throw new Error(`peer ${peerId}: ${e.error}`);
        if (!first) await onEvent(e);
        first = false;
      }
      if (signal.aborted) throw signal.reason ?? new Error('the routed call was cancelled');
    } catch (err) {
      // onEvent's own error or the peer's: the stream ends here, and the holder stops making the answer
      stream.abort(err instanceof Error ? err : new Error(String(err)));
      throw err;
    } finally {
      signal.removeEventListener('abort', stop);
    }
  }

  /** Sign with this node's identity (a peer checks it with `verify` and our peer id). */
  async sign(data: Uint8Array): Promise<Uint8Array> {
    return this.m.keys.privateKeyFromProtobuf(this.o.privateKey).sign(data);
  }

  /** Whether `sig` over `data` was made by `peerId`'s key (Ed25519 peer ids hold their public key). */
  async verify(peerId: string, data: Uint8Array, sig: Uint8Array): Promise<boolean> {
    try {
      const key = this.m.peerId.peerIdFromString(peerId).publicKey;
      return key ? await key.verify(data, sig) : false;
    } catch {
      return false;
    }
  }

  async stop(): Promise<void> {
    await this.node.stop();
  }
}
