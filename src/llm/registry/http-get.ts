/**
 * One GET of a model source, redirects followed, with its body streamed to a sink.
 *
 * `http:` is read on a node:net socket into one 64 KiB buffer reused for every read (the socket's
 * `onread`), the response's head and framing decoded here (src/net/http1.ts): node:http hands
 * each read over as a new Buffer, and in a daemon with a model loaded the collection of those
 * buffers cost more than the download itself (in a one-off check: about twice the CPU of this
 * path for 64 MiB). `https:` goes through node:https, its chunks handed to the same sink.
 */
import { connect, type Socket } from 'node:net';
import { request as httpsRequest } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { BkgError } from '../../api/errors.js';
import { BodyDecoder, BodyError, HeadReader, requestHead } from '../../net/http1.js';
import { redactSource } from './names.js';

/** Takes a view of body bytes, valid only during the call; a promise pauses the body until it settles. */
export type BodySink = (view: Buffer) => Promise<void> | null;

export interface GetResponse {
  statusCode: number;
  /** Lower-case names. */
  headers: Record<string, string>;
  /** Stream the body into `sink`; resolves when it is complete, rejects when the connection fails or the body is broken. */
  body(sink: BodySink): Promise<void>;
  /** Drop the response unread (the connection closes). */
  discard(): void;
}

export interface GetOptions {
  signal?: AbortSignal;
  /** A connection silent this long fails (and is retried by the caller). */
  idleTimeoutMs: number;
  maxRedirects: number;
}

const READ_BUFFER_BYTES = 64 << 10;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

function failed(message: string): BkgError {
  return new BkgError('DOWNLOAD_FAILED', message);
}

/** GET `url` with `headers`, following redirects (never from https to http). */
export async function httpGet(url: URL, headers: Record<string, string>, o: GetOptions): Promise<GetResponse> {
  let u = url;
  for (let left = o.maxRedirects; ; left--) {
    const all = { 'user-agent': 'bkg-model-registry', 'accept-encoding': 'identity', ...headers };
    const res = u.protocol === 'https:' ? await nodeGet(u, all, o) : await rawGet(u, all, o);
    if (!REDIRECTS.has(res.statusCode)) return res;
    res.discard();
    const loc = res.headers.location;
    if (!loc) throw failed(`HTTP ${res.statusCode} without a Location header from ${redactSource(u.href)}`);
    if (left <= 0) throw failed(`too many redirects from ${redactSource(url.href)}`);
    let next: URL;
    try {
      next = new URL(loc, u);
    } catch {
      throw failed(`bad redirect Location from ${redactSource(u.href)}`);
    }
    if (next.protocol !== 'http:' && next.protocol !== 'https:') throw failed(`redirect to unsupported protocol ${next.protocol}`);
    if (u.protocol === 'https:' && next.protocol === 'http:') throw failed('refusing a redirect from https to http');
    u = next;
  }
}

/** A plain-HTTP GET on a node:net socket that reads into one reused buffer (see the top of this file). */
function rawGet(url: URL, headers: Record<string, string>, o: GetOptions): Promise<GetResponse> {
  return new Promise((resolve, reject) => {
    const request = requestHead(`GET ${url.pathname}${url.search} HTTP/1.1`, [`host: ${url.host}`, 'connection: close'], headers);
    /** Reads the head; null once it is read. */
    let head: HeadReader | null = new HeadReader();
    /** Body bytes that came with the head, kept until `body` is called (the read buffer is reused). */
    let early: Buffer | null = null;
    let decoder: BodyDecoder | null = null;
    let sink: BodySink | null = null;
    let settle: { resolve(): void; reject(err: unknown): void } | null = null;
    let failure: unknown = null;
    /** The sink asked to wait: the socket is paused until it is done. */
    let busy = false;
    // read callbacks come after this function has run: everything they use is defined by then
    const socket: Socket = connect({ host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 80), onread: { buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES), callback: (n, buf) => onRead(n, buf) } });
    const fail = (err: unknown): void => {
      failure ??= err;
      socket.destroy();
      if (head !== null) reject(err);
      settle?.reject(err);
      settle = null;
    };
    const finish = (): void => {
      socket.destroy();
      settle?.resolve();
      settle = null;
    };
    /**
     * Body bytes to the sink, one piece at a time: when the sink asks to wait, the socket pauses
     * (the read buffer, and so `data`, stays as it is) and the rest of `data` follows once it is done.
     */
    const deliver = (data: Buffer): void => {
      if (!decoder || !sink) return;
      const s = sink;
      let wait: Promise<void> | null = null;
      let taken: number;
      try {
        taken = decoder.feed(data, (part) => (wait = s(part)) !== null);
      } catch (err) {
        return fail(err instanceof BodyError ? failed(`the server sent ${err.message}`) : err);
      }
      if (!wait) return decoder.done ? finish() : undefined;
      busy = true;
      socket.pause();
      (wait as Promise<void>).then(
        () => {
          busy = false;
          if (!settle) return; // failed meanwhile
          if (decoder?.done) return finish();
          if (taken < data.length) deliver(data.subarray(taken));
          if (settle && !busy) socket.resume();
        },
        (err: unknown) => fail(err),
      );
    };
    const onRead = (n: number, buf: Uint8Array): boolean => {
      const data = Buffer.from(buf.buffer, buf.byteOffset, n);
      if (head === null) {
        deliver(data);
        return true;
      }
      const got = head.push(data);
      if (!got) return true;
      if ('error' in got) {
        fail(new Error(got.error));
        return true;
      }
      const final = got.head;
      early = got.rest; // a copy already (the reader copies what it is given)
      head = null;
      socket.pause();
      resolve({
        statusCode: final.statusCode,
        headers: final.headers,
        body: (s) =>
          new Promise<void>((res, rej) => {
            if (failure) return rej(failure);
            settle = { resolve: res, reject: rej };
            sink = s;
            try {
              decoder = new BodyDecoder(final.headers);
            } catch (err) {
              return fail(failed(`the server sent ${(err as Error).message}`));
            }
            const first = early as Buffer;
            early = null;
            if (decoder.done) return finish();
            if (first.length) deliver(first);
            if (settle && !busy) socket.resume(); // paused since the head
          }),
        discard: () => socket.destroy(),
      });
      return true;
    };
    socket.setTimeout(o.idleTimeoutMs, () => fail(new Error(`no data for ${o.idleTimeoutMs} ms`)));
    socket.once('connect', () => socket.write(request));
    socket.on('error', (err) => fail(err));
    socket.on('end', () => {
      if (head !== null) return fail(new Error('the connection closed before a response'));
      if (!decoder) return; // body() not called yet: it sees the end when it reads
      const why = decoder.ended();
      if (why) fail(new Error(`the server sent ${why}`));
      else finish();
    });
    socket.on('close', () => {
      if (head !== null) fail(new Error('socket hang up'));
      else if (settle && !decoder?.done) fail(new Error('the connection closed before the end of the body'));
    });
    if (o.signal) {
      const onAbort = (): void => fail(new Error('aborted'));
      if (o.signal.aborted) onAbort();
      else {
        o.signal.addEventListener('abort', onAbort, { once: true });
        socket.once('close', () => o.signal?.removeEventListener('abort', onAbort));
      }
    }
  });
}

/** An HTTPS GET through node:https, its chunks handed to the sink. */
function nodeGet(url: URL, headers: Record<string, string>, o: GetOptions): Promise<GetResponse> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method: 'GET', headers, ...(o.signal ? { signal: o.signal } : {}) });
    req.setTimeout(o.idleTimeoutMs, () => req.destroy(new Error(`no data for ${o.idleTimeoutMs} ms`)));
    req.once('error', reject);
    req.once('response', (res: IncomingMessage) => {
      const flat = Object.create(null) as Record<string, string>;
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) flat[k] = Array.isArray(v) ? v.join(', ') : v;
      resolve({
        statusCode: res.statusCode ?? 0,
        headers: flat,
        async body(sink) {
          let got = 0;
          for await (const chunk of res) {
            got += (chunk as Buffer).length;
            const w = sink(chunk as Buffer);
            if (w) await w;
          }
          if (!res.complete) throw new Error(`the connection closed after ${got} bytes of the body`);
        },
        discard() {
          res.destroy();
        },
      });
    });
    req.end();
  });
}
