/**
 * Fetching a model into a partial file with bounded memory: a local copy, or an HTTP(S) download
 * that resumes with `Range: bytes=N-` after a dropped connection (checking 206 + Content-Range,
 * starting over when the server ignores the range) and retries a few times.
 *
 * The bytes are hashed (sha256) as they arrive and written in batches of about 1 MiB, one write
 * in flight while the next batch fills; every 16 MiB written, a background fdatasync starts
 * (never more than one), so the data is mostly on disk when the download ends and the final fsync
 * has little left to do. The digest always describes the file's bytes: after an interrupted
 * attempt it is recomputed from the file when the two disagree.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat, truncate, writeFile, type FileHandle } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { BkgError } from '../../api/errors.js';
import type { Logger } from '../../log.js';
import { redactSource } from './names.js';

export type ProgressFn = (bytesDone: number, bytesTotal: number | null) => void;

export interface DownloadTuning {
  /** Attempts after a failure that made no progress (an attempt that made progress resets the count). Default 5. */
  retries?: number;
  /** First retry delay; doubles up to 5 s. Default 500 ms. */
  retryDelayMs?: number;
  /** A connection silent this long is dropped (and retried). Default 30 s. */
  idleTimeoutMs?: number;
  maxRedirects?: number;
}

export interface DownloadResult {
  bytes: number;
  /** Connections used (1 when nothing dropped). */
  attempts: number;
  /** How many of them resumed with a Range request that the server honoured. */
  resumed: number;
}

/** A sha256 of a file's bytes, kept up to date as they are written. */
export interface FileDigest {
  /** Bytes hashed so far. */
  readonly bytes: number;
  update(chunk: Buffer): void;
  reset(): void;
  /** Hash the first `upTo` bytes of `path` again, from the start. */
  rehash(path: string, upTo: number): Promise<void>;
  /** The digest of what was hashed (the state goes on). */
  hex(): string;
}

export function createFileDigest(): FileDigest {
  let h: Hash = createHash('sha256');
  let bytes = 0;
  return {
    get bytes() {
      return bytes;
    },
    update(chunk) {
      h.update(chunk);
      bytes += chunk.length;
    },
    reset() {
      h = createHash('sha256');
      bytes = 0;
    },
    async rehash(path, upTo) {
      this.reset();
      if (upTo === 0) return;
      for await (const c of createReadStream(path, { start: 0, end: upTo - 1, highWaterMark: 1 << 20 })) this.update(c as Buffer);
      if (bytes !== upTo) throw downloadFailed(`${path} changed while it was hashed (${bytes} of ${upTo} bytes)`);
    },
    hex() {
      return h.copy().digest('hex');
    },
  };
}

const WRITE_BATCH_BYTES = 1 << 20;
const WRITEBACK_BYTES = 16 << 20;

async function writeAll(fh: FileHandle, bufs: Buffer[]): Promise<void> {
  const rest = bufs;
  while (rest.length) {
    const { bytesWritten } = await fh.writev(rest);
    let n = bytesWritten;
    while (rest.length && n >= (rest[0] as Buffer).length) n -= (rest.shift() as Buffer).length;
    if (n > 0) rest[0] = (rest[0] as Buffer).subarray(n);
  }
}

/**
 * Append everything from `source` to `path`: hashed on arrival, written in ~1 MiB batches (one
 * write in flight), with a background fdatasync every 16 MiB. Closes the file whatever happens.
 */
async function appendTo(path: string, source: AsyncIterable<Buffer>, digest?: FileDigest): Promise<void> {
  const fh = await open(path, 'a', 0o600);
  let writing: Promise<void> = Promise.resolve();
  let syncing: Promise<void> | null = null;
  let syncError: unknown = null;
  let sinceSync = 0;
  let batch: Buffer[] = [];
  let batched = 0;
  const flush = async (): Promise<void> => {
    await writing;
    const bufs = batch;
    const n = batched;
    batch = [];
    batched = 0;
    writing = writeAll(fh, bufs).then(() => {
      sinceSync += n;
      if (sinceSync >= WRITEBACK_BYTES && !syncing) {
        sinceSync = 0;
        syncing = fh.datasync().then(
          () => void (syncing = null),
          (err: unknown) => void ((syncError ??= err), (syncing = null)),
        );
      }
    });
    writing.catch(() => {}); // awaited by the next flush or at the end
  };
  try {
    for await (const chunk of source) {
      digest?.update(chunk);
      batch.push(chunk);
      batched += chunk.length;
      if (batched >= WRITE_BATCH_BYTES) await flush();
    }
    if (batched > 0) await flush();
    await writing;
    await syncing;
    if (syncError) throw syncError;
  } catch (err) {
    // What arrived before the source failed is good data: keep it, so a retry resumes after it.
    if (batched > 0) await flush().catch(() => {});
    throw err;
  } finally {
    await writing.catch(() => {});
    await syncing;
    await fh.close();
  }
}

interface Common {
  dest: string;
  /** Hashes the file's bytes as they are written (see FileDigest). */
  digest?: FileDigest;
  signal?: AbortSignal;
  onProgress?: ProgressFn;
  /** Refuse sources larger than this. */
  maxBytes: number;
  log: Logger;
}

class Retryable extends Error {}

function downloadFailed(message: string, cause?: unknown): BkgError {
  return new BkgError('DOWNLOAD_FAILED', message, cause === undefined ? {} : { cause });
}

function aborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

async function fileSize(path: string): Promise<number> {
  return (await stat(path, { bigint: false })).size;
}

/** Count bytes through a pipeline (for progress and the size cap) without buffering. */
function counter(start: number, maxBytes: number, onProgress?: ProgressFn, total: number | null = null) {
  let done = start;
  return async function* (source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      done += chunk.length;
      if (done > maxBytes) throw downloadFailed(`the source is larger than the limit of ${maxBytes} bytes`);
      onProgress?.(done, total);
      yield chunk;
    }
  };
}

/** Copy a local regular file into `dest`. */
export async function copyLocal(path: string, opts: Common): Promise<DownloadResult> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    throw downloadFailed(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, err);
  }
  if (!st.isFile()) throw downloadFailed(`${path} is not a regular file`);
  if (st.size > opts.maxBytes) throw downloadFailed(`${path} is larger than the limit of ${opts.maxBytes} bytes`);
  opts.onProgress?.(0, st.size);
  await writeFile(opts.dest, '', { mode: 0o600 });
  opts.digest?.reset();
  try {
    await pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), counter(0, opts.maxBytes, opts.onProgress, st.size), (src) => appendTo(opts.dest, src, opts.digest), opts.signal ? { signal: opts.signal } : {});
  } catch (err) {
    if (err instanceof BkgError) throw err;
    if (aborted(opts.signal)) throw downloadFailed('the download was cancelled', err);
    throw downloadFailed(`copying ${path} failed: ${err instanceof Error ? err.message : String(err)}`, err);
  }
  return { bytes: await fileSize(opts.dest), attempts: 1, resumed: 0 };
}

interface Response {
  res: IncomingMessage;
  url: URL;
}

function get(url: URL, headers: Record<string, string>, opts: { signal?: AbortSignal; idleTimeoutMs: number; maxRedirects: number }): Promise<Response> {
  return new Promise((resolve, reject) => {
    const send = (u: URL, redirectsLeft: number): void => {
      const fn = u.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = fn(u, { method: 'GET', headers: { 'accept-encoding': 'identity', 'user-agent': 'bkg-model-registry', ...headers }, ...(opts.signal ? { signal: opts.signal } : {}) });
      req.setTimeout(opts.idleTimeoutMs, () => req.destroy(new Retryable(`no data for ${opts.idleTimeoutMs} ms`)));
      req.once('error', reject);
      req.once('response', (res) => {
        const status = res.statusCode ?? 0;
        if ([301, 302, 303, 307, 308].includes(status)) {
          res.resume();
          const loc = res.headers.location;
          if (!loc) return reject(downloadFailed(`HTTP ${status} without a Location header from ${redactSource(u.href)}`));
          if (redirectsLeft <= 0) return reject(downloadFailed(`too many redirects from ${redactSource(url.href)}`));
          let next: URL;
          try {
            next = new URL(loc, u);
          } catch {
            return reject(downloadFailed(`bad redirect Location from ${redactSource(u.href)}`));
          }
          if (next.protocol !== 'http:' && next.protocol !== 'https:') return reject(downloadFailed(`redirect to unsupported protocol ${next.protocol}`));
          if (u.protocol === 'https:' && next.protocol === 'http:') return reject(downloadFailed('refusing a redirect from https to http'));
          return send(next, redirectsLeft - 1);
        }
        resolve({ res, url: u });
      });
      req.end();
    };
    send(url, opts.maxRedirects);
  });
}

/** `bytes START-END/TOTAL` (TOTAL may be '*'), or null. */
export function parseContentRange(h: string | undefined): { start: number; end: number; total: number | null } | null {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(h?.trim() ?? '');
  if (!m) return null;
  const start = Number(m[1]);
  const end = Number(m[2]);
  const total = m[3] === '*' ? null : Number(m[3]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start || (total !== null && (!Number.isSafeInteger(total) || end >= total))) return null;
  return { start, end, total };
}

function drain(res: Readable): void {
  res.resume();
  res.on('error', () => {});
}

/** Download `url` into `dest` (created or truncated), resuming and retrying as described above. */
export async function downloadHttp(url: URL, opts: Common & DownloadTuning): Promise<DownloadResult> {
  const retries = opts.retries ?? 5;
  const baseDelay = opts.retryDelayMs ?? 500;
  const idleTimeoutMs = opts.idleTimeoutMs ?? 30_000;
  const maxRedirects = opts.maxRedirects ?? 5;
  const where = redactSource(url.href);
  await writeFile(opts.dest, '', { mode: 0o600 });
  let failures = 0;
  let attempts = 0;
  let resumed = 0;
  let total: number | null = null;

  for (;;) {
    const have = await fileSize(opts.dest);
    if (opts.digest && opts.digest.bytes !== have) await opts.digest.rehash(opts.dest, have);
    if (total !== null && have === total) return { bytes: have, attempts, resumed };
    attempts++;
    let progressed = false;
    try {
      const { res } = await get(url, have > 0 ? { range: `bytes=${have}-` } : {}, { ...(opts.signal ? { signal: opts.signal } : {}), idleTimeoutMs, maxRedirects });
      const status = res.statusCode ?? 0;
      let start = 0;
      if (status === 200) {
        if (have > 0) {
          opts.log.info({ source: where, have }, 'server ignored the Range request; downloading from the start');
          await truncate(opts.dest, 0);
          opts.digest?.reset();
        }
        const len = Number(res.headers['content-length']);
        total = res.headers['content-length'] !== undefined && Number.isSafeInteger(len) ? len : null;
      } else if (status === 206) {
        const cr = parseContentRange(res.headers['content-range']);
        if (!cr || cr.start !== have) {
          // A range we did not ask for: start over without one.
          drain(res);
          opts.log.info({ source: where, have, contentRange: res.headers['content-range'] }, 'unexpected Content-Range; downloading from the start');
          await truncate(opts.dest, 0);
          throw new Retryable(`the server answered with Content-Range ${String(res.headers['content-range'])} for bytes=${have}-`);
        }
        if (total !== null && cr.total !== null && cr.total !== total) {
          drain(res);
          await truncate(opts.dest, 0);
          const was = total;
          total = null;
          throw new Retryable(`the file changed size on the server (${was} → ${cr.total} bytes); starting over`);
        }
        total = cr.total;
        start = have;
        if (have > 0) resumed++;
      } else if (status === 416 && have > 0) {
        drain(res);
        const cr = /^bytes \*\/(\d+)$/.exec(String(res.headers['content-range'] ?? ''));
        if (cr && Number(cr[1]) === have) return { bytes: have, attempts, resumed };
        await truncate(opts.dest, 0);
        throw new Retryable(`HTTP 416 for bytes=${have}-`);
      } else {
        drain(res);
        const message = `HTTP ${status} from ${where}`;
        if (status >= 500 || status === 408 || status === 429) throw new Retryable(message);
        throw downloadFailed(message);
      }
      if (total !== null && total > opts.maxBytes) {
        drain(res);
        throw downloadFailed(`the source is ${total} bytes, more than the limit of ${opts.maxBytes}`);
      }
      opts.onProgress?.(start, total);
      await pipeline(res, counter(start, opts.maxBytes, opts.onProgress, total), (src) => appendTo(opts.dest, src, opts.digest));
      const now = await fileSize(opts.dest);
      progressed = now > have;
      if (total !== null && now < total) throw new Retryable(`the connection closed after ${now} of ${total} bytes`);
      if (total !== null && now > total) throw downloadFailed(`the server sent ${now} bytes, more than the ${total} it announced`);
      return { bytes: now, attempts, resumed };
    } catch (err) {
      if (aborted(opts.signal)) throw downloadFailed('the download was cancelled', err);
      if (err instanceof BkgError) throw err;
      const size = await fileSize(opts.dest).catch(() => 0);
      if (size > have) progressed = true;
      failures = progressed ? 1 : failures + 1;
      const message = err instanceof Error ? err.message : String(err);
      if (failures > retries) throw downloadFailed(`downloading ${where} failed after ${attempts} attempts: ${message}`, err);
      const wait = Math.min(baseDelay * 2 ** (failures - 1), 5000);
      opts.log.warn({ source: where, bytes: size, attempt: attempts, err: message, retryInMs: wait }, 'model download interrupted; resuming');
      await delay(wait, undefined, opts.signal ? { signal: opts.signal } : {}).catch(() => {});
      if (aborted(opts.signal)) throw downloadFailed('the download was cancelled');
    }
  }
}
