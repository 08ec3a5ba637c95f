/**
 * Fetching a model into a partial file with bounded memory: a local copy, or an HTTP(S) download
 * that resumes with `Range: bytes=N-` after a dropped connection (checking 206 + Content-Range,
 * starting over when the server ignores the range) and retries a few times.
 *
 * The bytes go through a FileAppender (file-appender.ts: hashed as they are written, from two
 * reused 1 MiB buffers, a background fdatasync every 16 MiB); an `http:` source is read into one
 * reused buffer too (http-get.ts), and a local file through one. The digest always describes the
 * file's bytes: after an interrupted attempt it is recomputed from the file when the two disagree.
 */
import { stat, truncate, writeFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { BkgError } from '../../api/errors.js';
import type { Logger } from '../../log.js';
import { FileAppender, readThrough, type FileDigest } from './file-appender.js';
import { httpGet, type BodySink } from './http-get.js';
import { redactSource } from './names.js';

export { createFileDigest, type FileDigest } from './file-appender.js';

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

/**
 * A sink that counts bytes (progress and the size cap) and appends them to the file. `close` it
 * whatever happens: it writes what it took (a resumed download continues after it).
 */
async function fileSink(opts: Common, start: number, total: number | null): Promise<{ sink: BodySink; finish(): Promise<void>; close(): Promise<void> }> {
  const out = await FileAppender.open(opts.dest, opts.digest);
  let done = start;
  return {
    sink(view) {
      done += view.length;
      if (done > opts.maxBytes) throw downloadFailed(`the source is larger than the limit of ${opts.maxBytes} bytes`);
      const wait = out.push(view);
      opts.onProgress?.(done, total);
      return wait;
    },
    finish: () => out.finish(),
    close: () => out.close(),
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
    const out = await fileSink(opts, 0, st.size);
    try {
      await readThrough(path, (view) => {
        if (aborted(opts.signal)) throw downloadFailed('the download was cancelled');
        return out.sink(view);
      });
      await out.finish();
    } finally {
      await out.close();
    }
  } catch (err) {
    if (err instanceof BkgError) throw err;
    if (aborted(opts.signal)) throw downloadFailed('the download was cancelled', err);
    throw downloadFailed(`copying ${path} failed: ${err instanceof Error ? err.message : String(err)}`, err);
  }
  return { bytes: await fileSize(opts.dest), attempts: 1, resumed: 0 };
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
      const res = await httpGet(url, have > 0 ? { range: `bytes=${have}-` } : {}, { ...(opts.signal ? { signal: opts.signal } : {}), idleTimeoutMs, maxRedirects });
      const status = res.statusCode;
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
          res.discard();
          opts.log.info({ source: where, have, contentRange: res.headers['content-range'] }, 'unexpected Content-Range; downloading from the start');
          await truncate(opts.dest, 0);
          throw new Retryable(`the server answered with Content-Range ${String(res.headers['content-range'])} for bytes=${have}-`);
        }
        if (total !== null && cr.total !== null && cr.total !== total) {
          res.discard();
          await truncate(opts.dest, 0);
          const was = total;
          total = null;
          throw new Retryable(`the file changed size on the server (${was} → ${cr.total} bytes); starting over`);
        }
        total = cr.total;
        start = have;
        if (have > 0) resumed++;
      } else if (status === 416 && have > 0) {
        res.discard();
        const cr = /^bytes \*\/(\d+)$/.exec(String(res.headers['content-range'] ?? ''));
        if (cr && Number(cr[1]) === have) return { bytes: have, attempts, resumed };
        await truncate(opts.dest, 0);
        throw new Retryable(`HTTP 416 for bytes=${have}-`);
      } else {
        res.discard();
        const message = `HTTP ${status} from ${where}`;
        if (status >= 500 || status === 408 || status === 429) throw new Retryable(message);
        throw downloadFailed(message);
      }
      if (total !== null && total > opts.maxBytes) {
        res.discard();
        throw downloadFailed(`the source is ${total} bytes, more than the limit of ${opts.maxBytes}`);
      }
      opts.onProgress?.(start, total);
      const out = await fileSink(opts, start, total);
      try {
        await res.body(out.sink);
        await out.finish();
      } finally {
        res.discard();
        await out.close();
      }
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
