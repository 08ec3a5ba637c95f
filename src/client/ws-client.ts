/**
 * A WebSocket client for the daemon's own streams over plain HTTP (a unix socket, or TCP without
 * TLS): the part of RFC 6455 they use — the HTTP/1.1 upgrade, text and binary messages (fragmented
 * or not), ping/pong and the closing handshake — with the `ws` package's event names. Loading `ws`
 * (and with it node:crypto, tls, https and zlib) was about a fifth of a `bkg exec`, and node:http
 * another 10 ms: this writes the upgrade on a node:net socket and reads the answer's head itself
 * (an answer other than 101 is handed on as a stream, like node:http's response). The masks of our
 * frames come from /dev/urandom.
 */
import { EventEmitter } from 'node:events';
import { closeSync, openSync, readSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { BodyDecoder, HeadReader, requestHead } from '../net/http1.js';

const OP_CONTINUATION = 0;
const OP_TEXT = 1;
const OP_BINARY = 2;
const OP_CLOSE = 8;
const OP_PING = 9;
const OP_PONG = 10;
/** A message larger than this from the server ends the connection (the daemon's frames are far smaller). */
const MAX_MESSAGE = 64 << 20;

/**
 * A response body into `out`: `content-length` bytes, chunked, or until the connection ends.
 * `broken(why)` is told of a body that cannot be read (a bad length or chunk, an early end).
 */
function readBody(socket: Socket, first: Buffer, headers: Record<string, string>, out: PassThrough, broken: (why: string) => void): void {
  let body: BodyDecoder;
  try {
    body = new BodyDecoder(headers);
  } catch (err) {
    return broken((err as Error).message);
  }
  const take = (d: Buffer): void => {
    if (out.writableEnded || out.destroyed) return;
    try {
      body.feed(d, (part) => void out.write(part));
    } catch (err) {
      return broken((err as Error).message);
    }
    if (body.done) out.end();
  };
  if (body.done) return void out.end();
  socket.on('data', take);
  socket.once('end', () => {
    if (out.writableEnded || out.destroyed) return;
    const why = body.ended();
    if (why) broken(why);
    else out.end();
  });
  if (first.length) take(first);
}

/** Random bytes for keys and masks, read from /dev/urandom a page at a time. */
class RandomPool {
  private pool = Buffer.alloc(0);
  private at = 0;

  take(n: number): Buffer {
    if (this.at + n > this.pool.length) {
      this.pool = Buffer.alloc(4096);
      const fd = openSync('/dev/urandom', 'r');
      try {
        readSync(fd, this.pool, 0, this.pool.length, null);
      } finally {
        closeSync(fd);
      }
      this.at = 0;
    }
    const out = this.pool.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
}

export interface WsTarget {
  /** A unix socket, or else `origin` (http://host:port). */
  socketPath?: string;
  origin: string;
  path: string;
  headers: Record<string, string>;
}

/**
 * Events: 'open'; 'message' (data: Buffer, isBinary: boolean); 'unexpected-response' (req, res) when
 * the server answers the upgrade with an ordinary response; 'error' (err); 'close', once, last.
 */
export class WsClient extends EventEmitter {
  readonly OPEN = 1;
  readyState = 0; // CONNECTING, OPEN 1, CLOSING 2, CLOSED 3
  private readonly socket: Socket;
  private readonly random = new RandomPool();
  private input: Buffer = Buffer.alloc(0);
  private fragments: Buffer[] = [];
  private fragmentsLength = 0;
  private fragmentOp = 0;
  /** An 'error' was emitted (the next 'close' adds none). */
  private errored = false;

  constructor(target: WsTarget) {
    super();
    const url = new URL(target.origin);
    const request = requestHead(`GET ${target.path} HTTP/1.1`, [`host: ${target.socketPath ? 'localhost' : url.host}`, 'connection: Upgrade', 'upgrade: websocket', 'sec-websocket-version: 13', `sec-websocket-key: ${this.random.take(16).toString('base64')}`], target.headers);
    // the upgrade written by hand on a plain socket: node:http (and its parser) would cost a `bkg exec` ~10 ms to load and set up
    const socket = target.socketPath ? connect({ path: target.socketPath }) : connect({ host: url.hostname, port: Number(url.port || 80) });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.write(request);
    const reader = new HeadReader();
    let answered = false;
    const onHead = (d: Buffer): void => {
      const got = reader.push(d);
      if (!got) return;
      if ('error' in got) return this.fail(got.error);
      const { head: response, rest } = got;
      answered = true;
      socket.off('data', onHead);
      if (response.statusCode === 101) {
        if (response.headers.upgrade?.toLowerCase() !== 'websocket') return this.fail('a 101 answer without "upgrade: websocket"');
        socket.on('data', (c: Buffer) => this.receive(c));
        this.readyState = 1;
        this.emit('open');
        if (rest.length) this.receive(rest);
        return;
      }
      // an ordinary response (an error): its body as a stream, as node:http would give it
      const res = Object.assign(new PassThrough(), response);
      if (!this.emit('unexpected-response', null, res)) res.resume();
      res.on('end', () => socket.destroy());
      readBody(socket, rest, response.headers, res, (why) => {
        // like node:http's response: an 'error' only for a listener that asked for it; the connection ends either way
        res.destroy(res.listenerCount('error') ? new Error(`the server sent ${why}`) : undefined);
        socket.destroy();
      });
    };
    socket.on('data', onHead);
    socket.on('error', (err) => {
      this.errored = true;
      this.emit('error', err);
      if (this.readyState === 0) this.closed(); // never connected: 'close' follows 'error' at once
    });
    socket.on('close', () => {
      // the connection went before any answer (a daemon stopping, a proxy giving up): an error, as node:http says it
      if (!answered && !this.errored) {
        this.errored = true;
        this.emit('error', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
      }
      this.closed();
    });
  }

  send(data: string | Buffer): void {
    if (this.readyState !== 1) return;
    this.frame(typeof data === 'string' ? OP_TEXT : OP_BINARY, typeof data === 'string' ? Buffer.from(data) : data);
  }

  /** The closing handshake: our close frame; the server answers with its own and ends the connection. */
  close(): void {
    if (this.readyState !== 1) return;
    this.frame(OP_CLOSE, Buffer.from([0x03, 0xe8])); // 1000, normal closure
    this.readyState = 2;
  }

  private frame(op: number, payload: Buffer): void {
    const n = payload.length;
    const head = Buffer.alloc(n < 126 ? 6 : n < 65536 ? 8 : 14);
    head[0] = 0x80 | op;
    if (n < 126) head[1] = 0x80 | n;
    else if (n < 65536) {
      head[1] = 0x80 | 126;
      head.writeUInt16BE(n, 2);
    } else {
      head[1] = 0x80 | 127;
      head.writeBigUInt64BE(BigInt(n), 2);
    }
    const mask = this.random.take(4);
    mask.copy(head, head.length - 4);
    const body = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) body[i] = (payload[i] as number) ^ (mask[i & 3] as number);
    this.socket.write(Buffer.concat([head, body]));
  }

  private receive(chunk: Buffer): void {
    this.input = this.input.length ? Buffer.concat([this.input, chunk]) : chunk;
    for (;;) {
      const b = this.input;
      if (b.length < 2) return;
      const fin = ((b[0] as number) & 0x80) !== 0;
      const op = (b[0] as number) & 0x0f;
      const masked = ((b[1] as number) & 0x80) !== 0;
      let len = (b[1] as number) & 0x7f;
      let at = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        const big = b.readBigUInt64BE(2);
        if (big > BigInt(MAX_MESSAGE)) return this.fail(`a frame of ${big} bytes`);
        len = Number(big);
        at = 10;
      }
      const mask = masked ? at : -1;
      if (masked) at += 4;
      if (b.length < at + len) return;
      const payload = Buffer.from(b.subarray(at, at + len));
      if (masked) for (let i = 0; i < len; i++) payload[i] = (payload[i] as number) ^ (b[mask + (i & 3)] as number);
      this.input = b.subarray(at + len);
      if (!this.onFrame(fin, op, payload)) return;
    }
  }

  /** False when the connection is done with. */
  private onFrame(fin: boolean, op: number, payload: Buffer): boolean {
    if (op === OP_PING) {
      this.frame(OP_PONG, payload);
      return true;
    }
    if (op === OP_PONG) return true;
    if (op === OP_CLOSE) {
      if (this.readyState === 1) this.frame(OP_CLOSE, payload.subarray(0, 2));
      this.readyState = 2;
      this.socket.end();
      return false;
    }
    if (op !== OP_CONTINUATION && op !== OP_TEXT && op !== OP_BINARY) {
      this.fail(`a frame with opcode ${op}`);
      return false;
    }
    if (op !== OP_CONTINUATION) this.fragmentOp = op;
    this.fragments.push(payload);
    this.fragmentsLength += payload.length;
    if (this.fragmentsLength > MAX_MESSAGE) {
      this.fail(`a message of over ${MAX_MESSAGE} bytes`);
      return false;
    }
    if (!fin) return true;
    const data = this.fragments.length === 1 ? (this.fragments[0] as Buffer) : Buffer.concat(this.fragments);
    this.fragments = [];
    this.fragmentsLength = 0;
    this.emit('message', data, this.fragmentOp === OP_BINARY);
    return true;
  }

  private fail(what: string): void {
    this.errored = true;
    this.emit('error', new Error(`the server sent ${what}`));
    this.socket.destroy();
  }

  private closed(): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.emit('close');
  }
}
