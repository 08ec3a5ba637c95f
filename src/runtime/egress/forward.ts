/**
 * Plain-HTTP forwarding for the egress proxy: the client's side is Node's http server (it parses and
 * validates each request, the proxy decides on it), the upstream side is bkg's own: kept-alive
 * connections pooled per origin, the request head written in one go, and the response read into one
 * reused buffer per connection (net's `onread`) and written on to the client as it comes, its head
 * parsed here and its body framed (Content-Length, chunked, or until close) only to know where it
 * ends. Node's http client would allocate a fresh buffer for every read and push each through two
 * streams, which costs plain HTTP more than half of its throughput.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect, type LookupFunction, type Socket } from 'node:net';
import { Chunks, connectionTokens, CRLF, Head, MAX_HEAD, NOT_FORWARDED_UP, parseHead, ProtocolError } from './http-framing.js';

/** Where an exchange goes: the origin as checked (the pool's key) and how to connect to it. */
export interface Origin {
  /** The host as the request named it and the proxy decided on it. */
  host: string;
  port: number;
  /** What net.connect gets: the host (a literal address, or the name with a lookup answering the checked addresses). */
  connect: { host: string; lookup?: LookupFunction };
}

export interface ForwardHooks {
  /** The response's head arrived (the request got through). */
  allowed(): void;
  /** No response: the upstream could not be reached or broke off before answering. */
  failed(): void;
}

/** Bytes read at once from an upstream: one buffer per connection, reused for every read. */
const READ_BUFFER = 256 * 1024;
/** Kept-alive upstream connections per origin, and how long one may stay idle. */
const IDLE_PER_ORIGIN = 16;
const IDLE_TIMEOUT_MS = 30_000;

class Upstream {
  readonly socket: Socket;
  exchange: Exchange | null = null;
  /** Whether it carried an exchange before (a kept-alive connection the server may have closed meanwhile). */
  reused = false;
  private buffer: Buffer | null = null;

  constructor(
    readonly key: string,
    origin: Origin,
    private readonly pool: UpstreamPool,
  ) {
    this.socket = connect({
      ...origin.connect, port: origin.port, noDelay: true, autoSelectFamily: true,
      onread: {
        buffer: () => (this.buffer ??= Buffer.allocUnsafe(READ_BUFFER)),
        callback: (n: number, buf: Buffer) => this.exchange?.onData(buf.subarray(0, n)) ?? this.idleData(),
      },
    });
    this.socket.on('error', (err: NodeJS.ErrnoException) => this.gone(err));
    this.socket.on('end', () => (this.exchange ? this.exchange.onEnd() : this.gone(null)));
    this.socket.on('close', () => this.gone(null));
    this.socket.on('timeout', () => {
      if (this.socket.connecting) this.socket.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' }));
      else if (!this.exchange) this.socket.destroy();
    });
  }

  private idleData(): boolean {
    this.socket.destroy(); // an idle connection has nothing to say
    return false;
  }

  private gone(err: NodeJS.ErrnoException | null): void {
    this.pool.forget(this);
    const ex = this.exchange;
    this.exchange = null;
    if (ex) ex.onGone(err);
    if (!this.socket.destroyed) this.socket.destroy();
  }
}

/** Kept-alive upstream connections, per origin (host as checked, and port). */
export class UpstreamPool {
  private readonly idle = new Map<string, Upstream[]>();
  private readonly all = new Set<Upstream>();

  constructor(private readonly connectTimeoutMs: number) {}

  /** A kept-alive connection to the origin, or a new one (always a new one when `fresh`). */
  take(origin: Origin, fresh = false): Upstream {
    const key = `${origin.host}\0${origin.port}`;
    const list = fresh ? undefined : this.idle.get(key);
    const reused = list?.pop();
    if (list?.length === 0) this.idle.delete(key);
    if (reused) {
      reused.socket.setTimeout(0);
      return reused;
    }
    const up = new Upstream(key, origin, this);
    this.all.add(up);
    up.socket.setTimeout(this.connectTimeoutMs);
    up.socket.once('connect', () => up.socket.setTimeout(0));
    return up;
  }

  release(up: Upstream): void {
    up.exchange = null;
    up.reused = true;
    const list = this.idle.get(up.key) ?? [];
    if (list.length >= IDLE_PER_ORIGIN || up.socket.destroyed) return void up.socket.destroy();
    list.push(up);
    this.idle.set(up.key, list);
    up.socket.setTimeout(IDLE_TIMEOUT_MS);
    up.socket.resume(); // idle, it still reads: to see the server close it (or say what it should not)
  }

  forget(up: Upstream): void {
    this.all.delete(up);
    const list = this.idle.get(up.key);
    if (!list) return;
    const at = list.indexOf(up);
    if (at >= 0) list.splice(at, 1);
    if (list.length === 0) this.idle.delete(up.key);
  }

  close(): void {
    for (const up of this.all) up.socket.destroy();
    this.all.clear();
    this.idle.clear();
  }
}

/** One request and its response, over one upstream connection. */
class Exchange {
  private head: Buffer | null = null;
  private parsed: Head | null = null;
  private chunks: Chunks | null = null;
  private remaining = 0;
  private gotBytes = false;
  private requestSent = false;
  /** The response is whole (or abandoned), and it went out to the client's socket. */
  private finished = false;
  private flushed = false;
  /** Whether the upstream's reads wait for the client to take what was written. */
  private waiting = false;
  private readonly written = (): void => {
    if (this.waiting && this.res.writableLength === 0) {
      this.waiting = false;
      this.up.socket.resume();
    }
  };

  constructor(
    private readonly up: Upstream,
    private readonly pool: UpstreamPool,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly hooks: ForwardHooks,
    /** Try again on a fresh connection (a kept-alive one was closed under the request): null when it may not. */
    private readonly retry: (() => void) | null,
  ) {
    up.exchange = this;
  }

  /** Whether the request went out whole (its body too). */
  sent(): void {
    this.requestSent = true;
    this.maybeDone();
  }

  onData(chunk: Buffer): boolean {
    if (this.finished || this.res.destroyed) return false;
    this.gotBytes = true;
    try {
      let at = 0;
      if (!this.parsed) {
        at = this.readHead(chunk);
        if (at < 0) return true;
      }
      this.body(chunk, at);
    } catch (err) {
      this.fail(err as NodeJS.ErrnoException);
      return false;
    }
    const s = this.res.socket;
    if (s?.writableCorked) s.uncork(); // out now, as one writev: the read buffer is free again once written
    if (this.finished || this.res.writableLength === 0) return !this.finished;
    this.waiting = true;
    return false;
  }

  /** Accumulate the head; parse it once whole; where its body starts in `chunk` (-1: not yet). */
  private readHead(chunk: Buffer): number {
    const before = this.head?.length ?? 0;
    const all = this.head ? Buffer.concat([this.head, chunk]) : chunk;
    let end = -1;
    let from = Math.max(0, before - 3);
    for (;;) {
      const nl = all.indexOf(10, from);
      if (nl < 0) break;
      if (all[nl + 1] === 10) {
        end = nl + 2;
        break;
      }
      if (all[nl + 1] === 13 && all[nl + 2] === 10) {
        end = nl + 3;
        break;
      }
      from = nl + 1;
    }
    if (end < 0) {
      if (all.length > MAX_HEAD) throw new ProtocolError('a response head too long');
      this.head = Buffer.from(all); // a copy: the read buffer is reused
      return -1;
    }
    this.head = null;
    const head = parseHead(all.toString('latin1', 0, end), this.req.method ?? 'GET');
    const bodyAt = end - before;
    if (head.status < 200) {
      // an interim response (100 Continue, 103 Early Hints): skipped
      if (head.status === 101) throw new ProtocolError('a protocol switch the request did not ask for');
      if (bodyAt >= chunk.length) return -1;
      const next = this.readHead(chunk.subarray(bodyAt));
      return next < 0 ? -1 : next + bodyAt;
    }
    this.parsed = head;
    if (head.framing.kind === 'length') this.remaining = head.framing.n;
    if (head.framing.kind === 'chunked') this.chunks = new Chunks();
    this.res.writeHead(head.status, head.reason, head.raw);
    this.hooks.allowed();
    return bodyAt;
  }

  private body(chunk: Buffer, at: number): void {
    const f = (this.parsed as Head).framing;
    if (f.kind === 'length') {
      const n = Math.min(this.remaining, chunk.length - at);
      if (n > 0) this.res.write(chunk.subarray(at, at + n), this.written);
      this.remaining -= n;
      if (this.remaining === 0) this.complete(at + n < chunk.length);
    } else if (f.kind === 'chunked') {
      const chunks = this.chunks as Chunks;
      const end = chunks.feed(chunk, at, (data) => this.res.write(data, this.written));
      if (chunks.done) this.complete(end < chunk.length);
    } else if (f.kind === 'close') {
      if (at < chunk.length) this.res.write(chunk.subarray(at), this.written);
    } else this.complete(at < chunk.length);
  }

  /** The response is whole: end it; the connection goes back to the pool if it may carry another. */
  private complete(extra: boolean): void {
    this.finished = true;
    // back to the pool only once the client's socket took the last bytes: they may still lie in the read buffer
    this.res.end(() => {
      this.flushed = true;
      this.maybeDone();
    });
    if (extra || !this.parsed?.keepAlive) this.up.socket.destroy();
  }

  private maybeDone(): void {
    if (!this.flushed || !this.requestSent || this.up.exchange !== this) return;
    if (this.up.socket.destroyed) return;
    this.pool.release(this.up);
  }

  onEnd(): void {
    if (this.parsed?.framing.kind === 'close' && !this.finished) {
      this.finished = true;
      this.up.exchange = null;
      this.res.end();
      this.up.socket.destroy();
      return;
    }
    this.up.socket.destroy();
  }

  onGone(err: NodeJS.ErrnoException | null): void {
    if (this.finished) return;
    if (!this.gotBytes && this.up.reused && this.retry) return void this.retry();
    this.fail(err ?? Object.assign(new Error('the connection closed before the response was whole'), { code: 'ECONNRESET' }));
  }

  /** Abandon the exchange: 502 while nothing was answered, else the client's connection is cut. */
  fail(err: NodeJS.ErrnoException): void {
    if (this.finished) return;
    this.finished = true;
    if (this.up.exchange === this) this.up.exchange = null;
    this.up.socket.destroy();
    if (!this.parsed) this.hooks.failed();
    if (this.res.headersSent || this.res.destroyed) return void this.res.destroy();
    try {
      this.res.writeHead(502, { 'content-type': 'text/plain' }).end(`bkg: cannot reach ${this.up.key.replace('\0', ':')}: ${err.code ?? err.message}\n`);
    } catch {
      this.res.destroy();
    }
  }

  /** The client went away before the response was whole. */
  abort(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.up.exchange === this) this.up.exchange = null;
    this.up.socket.destroy();
  }
}

/** The request's head as the upstream gets it: origin-form path, the checked Host, the client's headers less hop-by-hop ones. */
function requestHead(req: IncomingMessage, path: string, hostHeader: string): { head: string; chunked: boolean; length: number } {
  const raw = req.rawHeaders;
  const connection: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if ((raw[i] as string).toLowerCase() === 'connection') connection.push(raw[i + 1] as string);
  const tokens = connectionTokens(connection);
  let head = `${req.method ?? 'GET'} ${path} HTTP/1.1${CRLF}host: ${hostHeader}${CRLF}`;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const lower = name.toLowerCase();
    if (!NOT_FORWARDED_UP.has(lower) && !tokens.has(lower)) head += `${name}: ${raw[i + 1] as string}${CRLF}`;
  }
  // the body's framing: Node's parser validated the client's, and hands over the body decoded
  const chunked = req.headers['transfer-encoding'] !== undefined;
  const length = chunked ? 0 : Number(req.headers['content-length'] ?? '0');
  if (chunked) head += `transfer-encoding: chunked${CRLF}`;
  else if (req.headers['content-length'] !== undefined) head += `content-length: ${length}${CRLF}`;
  return { head: head + CRLF, chunked, length };
}

/** Forward one plain-HTTP request (already decided on) to `origin`, its response back to `res`. */
export function forwardRequest(pool: UpstreamPool, origin: Origin, req: IncomingMessage, res: ServerResponse, path: string, hostHeader: string, hooks: ForwardHooks): void {
  const { head, chunked, length } = requestHead(req, path, hostHeader);
  const hasBody = chunked || length > 0;
  let exchange: Exchange | null = null;
  res.on('close', () => {
    if (!res.writableFinished) exchange?.abort();
  });
  const start = (fresh: boolean): void => {
    const up = pool.take(origin, fresh);
    const canRetry = !hasBody && up.reused;
    const ex = new Exchange(up, pool, req, res, hooks, canRetry ? () => start(true) : null);
    exchange = ex;
    if (!hasBody) {
      up.socket.write(head, () => ex.sent());
      return;
    }
    up.socket.write(head);
    const onData = (data: Buffer): void => {
      const ok = chunked ? (up.socket.cork(), up.socket.write(`${data.length.toString(16)}${CRLF}`), up.socket.write(data), up.socket.write(CRLF)) : up.socket.write(data);
      if (chunked) up.socket.uncork();
      if (!ok) {
        req.pause();
        up.socket.once('drain', () => req.resume());
      }
    };
    req.on('data', onData);
    req.once('end', () => up.socket.write(chunked ? `0${CRLF}${CRLF}` : '', () => ex.sent()));
    req.once('error', () => ex.abort());
  };
  start(false);
}
