/**
 * The transfer path under the daemon's P2P: our pnet protector (libp2p's PSK v1 wire, XOR in
 * place) against @libp2p/pnet itself, both ways, with the right key and a wrong one; chunks served
 * from blobs kept open while read and closed when idle; and a real fetch between two nodes whose
 * chunks arrive as pieces and are written with writev, byte for byte.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { ChunkServer, manifestOf, OpenBlobs } from '../../src/p2p/chunks.js';
import { fetchChunks, writeAll } from '../../src/p2p/fetch.js';
import { generateIdentity, generateNetworkKey, networkKeyBytes } from '../../src/p2p/keys.js';
import { generateKey, preSharedKey } from '@libp2p/pnet';
import { loadLibp2p } from '../../src/p2p/load.js';
import { P2pNode, transportOptions } from '../../src/p2p/node.js';

const silent = createLogger({ level: 'silent' });
const ECHO = '/bkg-test/echo/1.0.0';
let dir = '';

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'bkg-p2p-transfer-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('networkKeyBytes', () => {
  it('reads the 32 key bytes of a swarm.key (as @libp2p/pnet writes one) and refuses anything else', async () => {
    const text = await generateNetworkKey();
    const packaged = new Uint8Array(95);
    generateKey(packaged);
    expect(text.length).toBe(95);
    expect(text.split('\n').slice(0, 2)).toEqual(Buffer.from(packaged).toString().split('\n').slice(0, 2));
    const key = networkKeyBytes(text);
    expect(Buffer.from(key).toString('hex')).toBe(text.split('\n')[2]);
    expect(Buffer.from(networkKeyBytes(`${text.replace(/\n/g, '\r\n')}\r\n`)).equals(Buffer.from(key))).toBe(true);
    for (const bad of ['', '/key/swarm/psk/1.0.0/\n/base64/\n' + 'a'.repeat(64), '/key/swarm/psk/1.0.0/\n/base16/\n' + 'a'.repeat(63), '/key/swarm/psk/1.0.0/\n/base16/\n' + 'g'.repeat(64)]) {
      expect(() => networkKeyBytes(bad)).toThrow(/not a swarm\.key/);
    }
  });
});

describe('our pnet protector against @libp2p/pnet', () => {
  type Lib = Awaited<ReturnType<typeof loadLibp2p>>;
  const nodes: { stop(): void | Promise<void> }[] = [];
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
  });

  /** A bare libp2p node with the daemon's stack, behind either protector, echoing `ECHO` streams. */
  async function bare(m: Lib, which: 'ours' | 'packaged', networkKey: string) {
    const stack = transportOptions(m, networkKey);
    const node = await m.libp2p.createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      ...stack,
      connectionProtector: which === 'ours' ? stack.connectionProtector : preSharedKey({ psk: new TextEncoder().encode(networkKey) }),
    });
    await node.handle(ECHO, async (stream) => {
      for await (const buf of stream) if (!stream.send(buf)) await stream.onDrain();
      await stream.close();
    });
    nodes.push(node);
    return node;
  }

  /** Send `payload` through an echo stream from `from` to `to`; what came back. */
  async function echo(from: Awaited<ReturnType<typeof bare>>, to: Awaited<ReturnType<typeof bare>>, payload: Buffer): Promise<Buffer> {
    const stream = await from.dialProtocol(to.getMultiaddrs()[0] as Parameters<typeof from.dialProtocol>[0], ECHO, { signal: AbortSignal.timeout(10_000) });
    const back: Uint8Array[] = [];
    const reading = (async () => {
      for await (const buf of stream) back.push(buf.subarray());
    })();
    for (let at = 0; at < payload.length; at += 100_003) {
      if (!stream.send(payload.subarray(at, at + 100_003))) await stream.onDrain();
    }
    await stream.close();
    await reading;
    return Buffer.concat(back);
  }

  it('carries bytes both ways when either side is ours (the same wire), and not under another key', async () => {
    const m = await loadLibp2p();
    const key = await generateNetworkKey();
    const ours = await bare(m, 'ours', key);
    const packaged = await bare(m, 'packaged', key);
    const payload = randomBytes(3 * 1024 * 1024 + 17);
    expect((await echo(ours, packaged, payload)).equals(payload)).toBe(true);
    expect((await echo(packaged, ours, payload)).equals(payload)).toBe(true);

    const stranger = await bare(m, 'ours', await generateNetworkKey());
    const packagedStranger = await bare(m, 'packaged', await generateNetworkKey());
    await expect(echo(stranger, packaged, payload.subarray(0, 1000))).rejects.toThrow();
    await expect(echo(packagedStranger, ours, payload.subarray(0, 1000))).rejects.toThrow();
  }, 60_000);

  it('refuses a peer that sends our own nonce back (one keystream both ways)', async () => {
    const m = await loadLibp2p();
    const key = await generateNetworkKey();
    const ours = await bare(m, 'ours', key);
    // a raw TCP server that answers every nonce with itself
    const mirror = createServer((socket) => {
      socket.on('error', () => {}); // the node resets it
      socket.once('data', (d: Buffer) => socket.write(d.subarray(0, 24)));
    });
    await new Promise<void>((r) => mirror.listen(0, '127.0.0.1', r));
    try {
      const port = (mirror.address() as AddressInfo).port;
      const err = await ours.dial(m.multiaddr.multiaddr(`/ip4/127.0.0.1/tcp/${port}`), { signal: AbortSignal.timeout(5000) }).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect(JSON.stringify(err, Object.getOwnPropertyNames(err)) + String((err as Error).cause ?? '')).toMatch(/remote nonce is our own/);
    } finally {
      mirror.close();
    }
  }, 30_000);
});

/** This process's descriptors open on `path`. */
function fdsOn(path: string): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith(path);
    } catch {
      return false;
    }
  }).length;
}

describe('OpenBlobs', () => {
  it('keeps a blob open while it is read, closes it a second after the last read, and reads the bytes asked', async () => {
    const file = join(dir, 'blob.bin');
    const bytes = randomBytes(300_000);
    writeFileSync(file, bytes);
    const blobs = new OpenBlobs();
    const parts = await Promise.all([0, 1, 2].map((i) => blobs.read(file, i * 100_000, 100_000)));
    expect(Buffer.concat(parts).equals(bytes)).toBe(true);
    expect(blobs.size).toBe(1);
    expect(fdsOn(file)).toBe(1);
    // past the end: only what is there
    expect((await blobs.read(file, 250_000, 100_000)).length).toBe(50_000);
    await new Promise((r) => setTimeout(r, 1300));
    expect(blobs.size).toBe(0);
    expect(fdsOn(file)).toBe(0);
    // a removed blob is not held open, and is refused
    rmSync(file);
    await expect(blobs.read(file, 0, 10)).rejects.toThrow(/ENOENT/);
    expect(blobs.size).toBe(0);
    await blobs.close();
  });

  it('close() closes what is open', async () => {
    const file = join(dir, 'blob2.bin');
    writeFileSync(file, randomBytes(1000));
    const blobs = new OpenBlobs();
    await blobs.read(file, 0, 10);
    expect(fdsOn(file)).toBe(1);
    await blobs.close();
    expect(blobs.size).toBe(0);
    expect(fdsOn(file)).toBe(0);
  });
});

describe('writeAll', () => {
  it('writes every piece at its place when the file takes fewer bytes than asked at a time', async () => {
    const file = join(dir, 'short.bin');
    const fh = await open(file, 'w+');
    try {
      const pieces = [randomBytes(5000), Buffer.alloc(0), randomBytes(1), randomBytes(12_345)];
      let calls = 0;
      // a real file that takes at most 999 bytes per writev, as a full pipe or a signal can make it
      const short = { writev: (bufs: Uint8Array[], position: number) => { calls++; return fh.writev([Buffer.concat(bufs).subarray(0, 999)], position); } };
      await writeAll(short, pieces, 100);
      const got = readFileSync(file);
      expect(got.subarray(100).equals(Buffer.concat(pieces))).toBe(true);
      expect(calls).toBe(Math.ceil(Buffer.concat(pieces).length / 999));
      // a file that takes nothing is an error, not a loop
      await expect(writeAll({ writev: async () => ({ bytesWritten: 0, buffers: [] }) }, [Buffer.from('x')], 0)).rejects.toThrow(/took no bytes/);
    } finally {
      await fh.close();
    }
  });
});

describe('a fetch between two real nodes', () => {
  it('writes every chunk, arriving in pieces, byte for byte; a lying holder\'s chunks are refetched from the honest one', async () => {
    const file = join(dir, 'model.bin');
    const bytes = randomBytes(5 * 1024 * 1024 + 12_345);
    writeFileSync(file, bytes);
    const chunkBytes = 256 * 1024;
    const manifest = await manifestOf(file, chunkBytes);
    const networkKey = await generateNetworkKey();
    const start = async () => {
      const id = await generateIdentity();
      return P2pNode.start({ privateKey: id.privateKey, networkKey, listen: ['/ip4/127.0.0.1/tcp/0'], trusted: () => true, refused: () => {}, log: silent });
    };
    const [honest, liar, fetcher] = await Promise.all([start(), start(), start()]);
    const holder = { models: () => [], blobPath: (sha: string) => (sha === manifest.sha256 ? file : null) };
    const servers = [new ChunkServer(holder, chunkBytes), new (class extends ChunkServer {
      protected override async read(sha256: string, offset: number, length: number): Promise<Uint8Array> {
        const data = Buffer.from(await super.read(sha256, offset, length));
        data[0] = (data[0] as number) ^ 1;
        return data;
      }
    })(holder, chunkBytes)];
    try {
      await honest.serve((req) => (servers[0] as ChunkServer).handle(req));
      await liar.serve((req) => (servers[1] as ChunkServer).handle(req));
      await fetcher.dial(honest.addrs()[0] as string);
      await fetcher.dial(liar.addrs()[0] as string);
      const dest = join(dir, 'fetched.part');
      const penalised: number[] = [];
      let pieces = 0;
      const r = await fetchChunks({
        manifest, holders: [honest.peerId, liar.peerId], dest, log: silent,
        ask: async (p, req, s) => {
          const a = await fetcher.ask(p, req, s);
          if (Array.isArray(a.data)) pieces = Math.max(pieces, a.data.length);
          return a;
        },
        penalise: (_peer, index) => penalised.push(index),
      });
      expect(readFileSync(dest).equals(bytes)).toBe(true);
      expect(r.rejected.every((x) => x.peer === liar.peerId)).toBe(true);
      expect(penalised.length).toBe(r.rejected.length);
      expect(r.rejected.length).toBeGreaterThan(0);
      expect(r.chunksFrom[honest.peerId]).toBe(manifest.chunks.length);
      // a 256 KiB chunk crosses the transport in more than one piece, and is never joined
      expect(pieces).toBeGreaterThan(1);
    } finally {
      await Promise.all([honest.stop(), liar.stop(), fetcher.stop()]);
      await Promise.all(servers.map((s) => s.close()));
    }
  }, 60_000);
});
