/**
 * The holder's side of replication: what this node announces (its verified models), each model's
 * chunk manifest (the sha256 of every chunk, computed once from the blob, which must still have
 * its registered digest), and chunks read from the blob.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { Answer } from './node.js';

export const DEFAULT_CHUNK_BYTES = 1024 * 1024;
export const MIN_CHUNK_BYTES = 16 * 1024;
export const MAX_CHUNK_BYTES = 8 * 1024 * 1024;

/** A model as announced to trusted peers: the registry's metadata with the signature it was verified with. */
export interface HeldModel {
  id: string;
  name: string;
  sha256: string;
  size_bytes: number;
  signed_by: string | null;
  signature_base64: string | null;
}

/** What the registry lends the holder. */
export interface ModelHolder {
  models(): HeldModel[];
  /** The blob of a model held here, by digest, or null. */
  blobPath(sha256: string): string | null;
}

export interface ChunkManifest {
  sha256: string;
  size: number;
  chunk_bytes: number;
  /** sha256 of each chunk, in order: the chunk's content address. */
  chunks: string[];
}

/** Hash a file chunk by chunk, and whole. */
export async function manifestOf(path: string, chunkBytes: number): Promise<ChunkManifest> {
  const whole = createHash('sha256');
  const chunks: string[] = [];
  let cur = createHash('sha256');
  let inChunk = 0;
  let size = 0;
  for await (const buf of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    whole.update(buf);
    size += buf.length;
    let off = 0;
    while (off < buf.length) {
      const take = Math.min(chunkBytes - inChunk, buf.length - off);
      cur.update(buf.subarray(off, off + take));
      inChunk += take;
      off += take;
      if (inChunk === chunkBytes) {
        chunks.push(cur.digest('hex'));
        cur = createHash('sha256');
        inChunk = 0;
      }
    }
  }
  if (inChunk > 0 || size === 0) chunks.push(cur.digest('hex'));
  return { sha256: whole.digest('hex'), size, chunk_bytes: chunkBytes, chunks };
}

/** Answers the requests of trusted peers: models, manifest, chunk. */
export class ChunkServer {
  /** By digest: computed once (the blob of a verified model never changes). */
  private readonly manifests = new Map<string, Promise<ChunkManifest>>();
  private readonly blobs = new OpenBlobs();

  constructor(private readonly holder: ModelHolder, private readonly chunkBytes: number) {}

  async handle(req: Record<string, unknown>): Promise<Answer> {
    switch (req.op) {
      case 'models':
        return { header: { models: this.holder.models() } };
      case 'manifest':
        return { header: { manifest: await this.manifest(String(req.sha256)) } };
      case 'chunk': {
        const m = await this.manifest(String(req.sha256));
        const index = Number(req.index);
        if (!Number.isInteger(index) || index < 0 || index >= m.chunks.length) throw new Error(`no chunk ${String(req.index)}`);
        const data = await this.read(String(req.sha256), index * m.chunk_bytes, Math.min(m.chunk_bytes, m.size - index * m.chunk_bytes));
        return { header: { data: true, index, bytes: data.length }, data };
      }
      default:
        throw new Error(`unknown request ${JSON.stringify(req.op)}`);
    }
  }

  /** The manifest of a model held here; an error when it is not held or its blob lost its digest. */
  manifest(sha256: string): Promise<ChunkManifest> {
    let m = this.manifests.get(sha256);
    if (!m) {
      const path = this.holder.blobPath(sha256);
      if (!path) return Promise.reject(new Error(`no model with sha256 ${sha256} here`));
      m = manifestOf(path, this.chunkBytes).then((mf) => {
        if (mf.sha256 !== sha256) throw new Error(`the blob of ${sha256} no longer has its digest`);
        return mf;
      });
      m.catch(() => this.manifests.delete(sha256));
      this.manifests.set(sha256, m);
    }
    return m;
  }

  /** Bytes of a held blob; protected so that a test can make a node that lies. */
  protected async read(sha256: string, offset: number, length: number): Promise<Uint8Array> {
    const path = this.holder.blobPath(sha256);
    if (!path) throw new Error(`no model with sha256 ${sha256} here`);
    return this.blobs.read(path, offset, length);
  }

  /** Close the blobs still open. */
  async close(): Promise<void> {
    await this.blobs.close();
  }
}

const IDLE_CLOSE_MS = 1000;

interface OpenBlob {
  fh: Promise<FileHandle>;
  reads: number;
  idle: NodeJS.Timeout | null;
}

/**
 * Blobs stay open while a peer reads their chunks (not opened and closed for each one), and are
 * closed a second after the last read, so that a removed model's space is not held.
 */
export class OpenBlobs {
  private readonly files = new Map<string, OpenBlob>();

  async read(path: string, offset: number, length: number): Promise<Uint8Array> {
    let f = this.files.get(path);
    if (!f) {
      const fresh: OpenBlob = { fh: open(path, 'r'), reads: 0, idle: null };
      fresh.fh.catch(() => this.files.get(path) === fresh && this.files.delete(path));
      this.files.set(path, fresh);
      f = fresh;
    }
    if (f.idle) clearTimeout(f.idle);
    f.idle = null;
    f.reads++;
    try {
      const buf = Buffer.allocUnsafe(length);
      const { bytesRead } = await (await f.fh).read(buf, 0, length, offset);
      return buf.subarray(0, bytesRead);
    } finally {
      if (--f.reads === 0 && this.files.get(path) === f) {
        const done = f;
        done.idle = setTimeout(() => void this.drop(path, done), IDLE_CLOSE_MS);
        done.idle.unref();
      }
    }
  }

  private async drop(path: string, f: OpenBlob): Promise<void> {
    if (this.files.get(path) === f) this.files.delete(path);
    if (f.idle) clearTimeout(f.idle);
    await f.fh.then((fh) => fh.close()).catch(() => {});
  }

  /** Close every blob (a read in flight finishes first: FileHandle.close waits for it). */
  async close(): Promise<void> {
    await Promise.all([...this.files].map(([path, f]) => this.drop(path, f)));
  }

  /** How many blobs are open now. */
  get size(): number {
    return this.files.size;
  }
}
