/**
 * Fetch a model's chunks from several trusted peers at once into a partial file: each peer runs a
 * few workers that take the next missing chunk; every chunk is hashed on arrival and written only
 * when its sha256 is the manifest's (a bad one is discarded, its peer penalised and never asked
 * for that chunk again, and the chunk goes back to the queue for another peer). The chunks held
 * are recorded beside the file, so a pull that was interrupted resumes where it stopped.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Logger } from '../log.js';
import type { ChunkManifest } from './chunks.js';
import type { Reply } from './node.js';

export interface FetchOptions {
  manifest: ChunkManifest;
  /** Peer ids that hold the model (each asked in parallel). */
  holders: string[];
  /** The partial file; `${dest}.have` records the chunks it holds. */
  dest: string;
  ask(peerId: string, req: Record<string, unknown>, signal: AbortSignal): Promise<Reply>;
  /** A peer sent a chunk that is not the manifest's. */
  penalise(peerId: string, index: number): void;
  onProgress?(done: number, total: number): void;
  /** Chunks in flight per peer (default 8: with 4, one unlimited holder on 127.0.0.1 left both ends idle between chunks). */
  perPeer?: number;
  signal?: AbortSignal;
  log: Logger;
}

export interface FetchResult {
  bytes: number;
  /** Chunks received (and kept) from each peer. */
  chunksFrom: Record<string, number>;
  /** Chunks that were discarded, and who sent them. */
  rejected: { peer: string; index: number }[];
  /** Chunks the partial file held already (a resumed pull). */
  resumedChunks: number;
}

const MAX_ERRORS = 3;

function loadHave(dest: string, m: ChunkManifest): Set<number> {
  const file = `${dest}.have`;
  if (!existsSync(dest) || !existsSync(file)) return new Set();
  try {
    const rec = JSON.parse(readFileSync(file, 'utf8')) as { sha256: string; chunk_bytes: number; have: number[] };
    if (rec.sha256 !== m.sha256 || rec.chunk_bytes !== m.chunk_bytes || statSync(dest).size !== m.size) return new Set();
    return new Set(rec.have.filter((i) => Number.isInteger(i) && i >= 0 && i < m.chunks.length));
  } catch {
    return new Set();
  }
}

function saveHave(dest: string, m: ChunkManifest, have: Set<number>): void {
  const tmp = `${dest}.have.tmp`;
  writeFileSync(tmp, JSON.stringify({ sha256: m.sha256, chunk_bytes: m.chunk_bytes, have: [...have] }), { mode: 0o600 });
  renameSync(tmp, `${dest}.have`);
}

export async function fetchChunks(o: FetchOptions): Promise<FetchResult> {
  const m = o.manifest;
  const n = m.chunks.length;
  const have = loadHave(o.dest, m);
  const resumedChunks = have.size;
  const fh = await open(o.dest, existsSync(o.dest) ? 'r+' : 'w+', 0o600);
  const controller = new AbortController();
  const stop = (): void => controller.abort(o.signal?.reason);
  o.signal?.addEventListener('abort', stop, { once: true });
  const pending: number[] = [];
  for (let i = 0; i < n; i++) if (!have.has(i)) pending.push(i);
  const refusedBy = new Map<string, Set<number>>(o.holders.map((p) => [p, new Set<number>()]));
  const chunksFrom: Record<string, number> = Object.fromEntries(o.holders.map((p) => [p, 0]));
  const rejected: FetchResult['rejected'] = [];
  const live = new Set(o.holders);
  let bytes = [...have].reduce((s, i) => s + chunkLen(m, i), 0);
  let wake: () => void = () => {};
  let changed = new Promise<void>((r) => (wake = r));
  const notify = (): void => {
    const w = wake;
    changed = new Promise<void>((r) => (wake = r));
    w();
  };
  let lastSave = Date.now();
  o.onProgress?.(bytes, m.size);
  try {
    await fh.truncate(m.size);
    const worker = async (peer: string): Promise<void> => {
      let errors = 0;
      while (have.size < n && live.has(peer) && !controller.signal.aborted) {
        const pos = pending.findIndex((i) => !refusedBy.get(peer)?.has(i));
        if (pos < 0) {
          // nothing this peer may take now: wait for a chunk to come back or the last to land
          if ([...Array(n).keys()].every((i) => have.has(i) || refusedBy.get(peer)?.has(i))) return;
          await changed;
          continue;
        }
        const index = pending.splice(pos, 1)[0] as number;
        let data: Uint8Array[] = [];
        try {
          const answer = await o.ask(peer, { op: 'chunk', sha256: m.sha256, index }, AbortSignal.any([controller.signal, AbortSignal.timeout(60_000)]));
          data = answer.data ?? [];
          errors = 0;
        } catch (err) {
          pending.push(index);
          notify();
          if (controller.signal.aborted) return;
          if (++errors >= MAX_ERRORS) {
            o.log.warn({ peer, err: (err as Error).message }, 'p2p fetch: a peer failed repeatedly; fetching its chunks elsewhere');
            live.delete(peer);
            return;
          }
          await new Promise((r) => setTimeout(r, 100 * errors));
          continue;
        }
        const length = data.reduce((sum, piece) => sum + piece.length, 0);
        const ok = length === chunkLen(m, index) && digestOf(data) === m.chunks[index];
        if (!ok) {
          rejected.push({ peer, index });
          refusedBy.get(peer)?.add(index);
          o.penalise(peer, index);
          pending.push(index);
          notify();
          continue;
        }
        await writeAll(fh, data, index * m.chunk_bytes);
        have.add(index);
        chunksFrom[peer] = (chunksFrom[peer] ?? 0) + 1;
        bytes += length;
        o.onProgress?.(bytes, m.size);
        if (Date.now() - lastSave > 500) {
          lastSave = Date.now();
          await fh.datasync();
          saveHave(o.dest, m, have);
        }
        notify();
      }
    };
    const perPeer = Math.max(1, o.perPeer ?? 8);
    await Promise.all(o.holders.flatMap((p) => Array.from({ length: perPeer }, () => worker(p))));
    if (controller.signal.aborted) throw o.signal?.reason ?? new Error('the fetch was cancelled');
    if (have.size < n) {
      const missing = [...Array(n).keys()].filter((i) => !have.has(i));
      throw new Error(`no trusted peer could send chunk${missing.length > 1 ? 's' : ''} ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''} (${have.size} of ${n} held; a later pull resumes from them)`);
    }
    await fh.datasync();
    return { bytes: m.size, chunksFrom, rejected, resumedChunks };
  } finally {
    o.signal?.removeEventListener('abort', stop);
    controller.abort();
    notify();
    await fh.close();
    saveHave(o.dest, m, have);
  }
}

function digestOf(pieces: Uint8Array[]): string {
  const h = createHash('sha256');
  for (const p of pieces) h.update(p);
  return h.digest('hex');
}

/** Write the pieces one after another at `position` (writev may write less than asked). */
export async function writeAll(fh: { writev(buffers: Uint8Array[], position: number): Promise<{ bytesWritten: number }> }, pieces: Uint8Array[], position: number): Promise<void> {
  let rest = pieces;
  while (rest.length > 0) {
    let { bytesWritten } = await fh.writev(rest, position);
    if (bytesWritten === 0 && rest.some((p) => p.length > 0)) throw new Error('the partial file took no bytes');
    position += bytesWritten;
    let i = 0;
    while (i < rest.length && bytesWritten >= (rest[i] as Uint8Array).length) bytesWritten -= (rest[i++] as Uint8Array).length;
    rest = rest.slice(i);
    if (bytesWritten > 0) rest[0] = (rest[0] as Uint8Array).subarray(bytesWritten);
  }
}

function chunkLen(m: ChunkManifest, i: number): number {
  return Math.min(m.chunk_bytes, m.size - i * m.chunk_bytes);
}
