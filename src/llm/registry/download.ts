/**
 * Fetching a model into a partial file with bounded memory: a local copy, or an HTTP(S) download
 * that resumes with `Range: bytes=N-` after a dropped connection (checking 206 + Content-Range,
 * starting over when the server ignores the range) and retries a few times.
 */
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { stat, truncate, writeFile } from 'node:fs/promises';
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

interface Common {
  dest: string;
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

async function closeStream(ws: WriteStream): Promise<void> {
  if (ws.closed) return;
  await new Promise<void>((resolve) => {
    ws.once('close', () => resolve());
    ws.destroy();
  });
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
  const ws = createWriteStream(opts.dest, { flags: 'w', mode: 0o600 });
  try {
    await pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), counter(0, opts.maxBytes, opts.onProgress, st.size), ws, opts.signal ? { signal: opts.signal } : {});
  } catch (err) {
    await closeStream(ws);
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
      const ws = createWriteStream(opts.dest, { flags: 'a', mode: 0o600 });
      try {
        await pipeline(res, counter(start, opts.maxBytes, opts.onProgress, total), ws);
      } catch (err) {
        await closeStream(ws);
        throw err;
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
