/**
 * The two parts of an HTTP/1.1 response that bkg reads itself, on a plain node:net socket, where
 * node:http would cost more than it gives: the head (status line and headers) and the body's
 * framing (`content-length`, `chunked`, or until the connection ends), decoded as it streams in
 * without copying the body. Used by the WebSocket client's upgrade (src/client/ws-client.ts) and
 * the model registry's downloads (src/llm/registry/http-get.ts).
 */

export interface ResponseHead {
  statusCode: number;
  statusMessage: string;
  /** Lower-case names; a repeated header's values joined with ", ". */
  headers: Record<string, string>;
}

/** The status line and headers of an HTTP/1.x response (the text before the blank line); null when it is not one. */
export function parseResponseHead(text: string): ResponseHead | null {
  const [status = '', ...fields] = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(status);
  if (!m) return null;
  const headers = Object.create(null) as Record<string, string>;
  for (const f of fields) {
    const colon = f.indexOf(':');
    if (colon <= 0) return null;
    const name = f.slice(0, colon).trim().toLowerCase();
    const value = f.slice(colon + 1).trim();
    headers[name] = Object.hasOwn(headers, name) ? `${headers[name]}, ${value}` : value;
  }
  return { statusCode: Number(m[1]), statusMessage: m[2] ?? '', headers };
}

/** The end of a response head in `buf` (the index after its blank line), or -1. */
export function headEnd(buf: Buffer): number {
  const i = buf.indexOf('\r\n\r\n');
  return i < 0 ? -1 : i + 4;
}

/** A response head larger than this is refused. */
export const MAX_HEAD = 64 << 10;
/** More interim (1xx) answers than this before the real one are refused. */
export const MAX_INTERIM = 16;

/** A request's head: `first` (the request line), then `fixed` and `headers` as `name: value` lines. A line break in a header throws. */
export function requestHead(first: string, fixed: string[], headers: Record<string, string>): string {
  const lines = [first, ...fixed];
  for (const [name, value] of Object.entries(headers)) {
    if (/[\r\n]/.test(name + value)) throw new TypeError(`the header ${JSON.stringify(name)} holds a line break`);
    lines.push(`${name}: ${value}`);
  }
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/**
 * Reads a response's head as its bytes come: `push` each piece (it is copied) until it returns the
 * head and the bytes after it, or an error. Interim answers (1xx but 101) are skipped, at most
 * MAX_INTERIM of them; a head over MAX_HEAD is refused.
 */
export class HeadReader {
  private buf: Buffer = Buffer.alloc(0);
  private interim = 0;

  push(data: Buffer): { head: ResponseHead; rest: Buffer } | { error: string } | null {
    this.buf = Buffer.concat([this.buf, data]); // a copy: `data` may be a reused read buffer
    for (;;) {
      const end = headEnd(this.buf);
      if (end < 0) return this.buf.length > MAX_HEAD ? { error: `a response head of over ${MAX_HEAD} bytes` } : null;
      const head = parseResponseHead(this.buf.subarray(0, end - 4).toString('latin1'));
      if (!head) return { error: 'a response that is not HTTP/1.x' };
      const rest = this.buf.subarray(end);
      if (head.statusCode >= 200 || head.statusCode < 100 || head.statusCode === 101) return { head, rest };
      // an interim answer (100 Continue, 103 Early Hints from a proxy): the real one follows
      if (++this.interim > MAX_INTERIM) return { error: `more than ${MAX_INTERIM} interim answers` };
      this.buf = rest;
    }
  }
}

/** A chunk-size line longer than this is refused. */
const MAX_SIZE_LINE = 1024;

/**
 * A response body's framing, decoded as the bytes come: `feed` hands each piece of body to `emit`
 * (a view into the input: no copy) and says when the body is complete; `ended` says whether a
 * connection that ended now cut the body short. A malformed body throws BodyError.
 */
export class BodyDecoder {
  /** Body bytes still expected (content-length or the current chunk). */
  private left: number;
  private readonly chunked: boolean;
  private readonly untilEnd: boolean;
  private state: 'size' | 'data' | 'crlf' | 'done';
  private sizeLine = '';
  /** The content-length, when the body has one (null for chunked or close-delimited bodies). */
  readonly length: number | null;
  private crlfSeen = 0;

  /** Throws BodyError for a content-length that is not a number. */
  constructor(headers: Record<string, string>) {
    const declared = headers['content-length'];
    this.chunked = /(^|,)\s*chunked\s*$/i.test(headers['transfer-encoding'] ?? '');
    if (!this.chunked && declared !== undefined && !/^\d+$/.test(declared)) throw new BodyError(`an invalid content-length ${JSON.stringify(declared)}`);
    this.untilEnd = !this.chunked && declared === undefined;
    this.length = this.chunked || this.untilEnd ? null : Number(declared);
    this.left = this.length ?? 0;
    this.state = this.chunked ? 'size' : this.untilEnd || this.left > 0 ? 'data' : 'done';
  }

  /** The body is complete. */
  get done(): boolean {
    return this.state === 'done';
  }


  /**
   * Decode `input`; returns how many of its bytes were taken: all of them, unless the body ended
   * before (the rest follows the response) or `emit` returned true (stop: feed the rest later).
   */
  feed(input: Buffer, emit: (part: Buffer) => boolean | void): number {
    let at = 0;
    while (at < input.length && this.state !== 'done') {
      if (this.state === 'data') {
        const n = this.untilEnd ? input.length - at : Math.min(this.left, input.length - at);
        const stop = n > 0 && emit(input.subarray(at, at + n)) === true;
        at += n;
        if (!this.untilEnd) {
          this.left -= n;
          if (this.left === 0) this.state = this.chunked ? 'crlf' : 'done';
        }
        if (stop) break;
        continue;
      } else if (this.state === 'crlf') {
        const want = this.crlfSeen === 0 ? 0x0d : 0x0a;
        if (input[at] !== want) throw new BodyError('a chunk not followed by CRLF');
        at++;
        if (++this.crlfSeen === 2) {
          this.crlfSeen = 0;
          this.state = 'size';
        }
      } else {
        const eol = input.indexOf(0x0a, at);
        const end = eol < 0 ? input.length : eol;
        this.sizeLine += input.toString('latin1', at, end);
        if (this.sizeLine.length > MAX_SIZE_LINE) throw new BodyError('a chunk-size line too long');
        at = end;
        if (eol < 0) continue;
        at++;
        const m = /^([0-9a-f]{1,13})[ \t]*(;[^\r]*)?\r$/i.exec(this.sizeLine); // a chunk extension (";…") is ignored
        this.sizeLine = '';
        if (!m) throw new BodyError('a malformed chunk');
        this.left = parseInt(m[1] as string, 16);
        // trailers, if any, are not read: the connection goes with the response
        this.state = this.left === 0 ? 'done' : 'data';
      }
    }
    return at;
  }

  /** The connection ended: null when that completes the body, else why it is broken. */
  ended(): string | null {
    if (this.state === 'done') return null;
    if (this.untilEnd) {
      this.state = 'done';
      return null;
    }
    return 'a response cut short';
  }
}

/** A response body that cannot be read: a bad length or chunk. */
export class BodyError extends Error {}
