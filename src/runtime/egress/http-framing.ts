/** HTTP/1.1 response framing for the egress forwarder (forward.ts): header sets, the response head, chunked bodies. */
/** The longest response head accepted, and the longest line of chunked framing. */
export const MAX_HEAD = 64 * 1024;
export const MAX_CHUNK_LINE = 4 * 1024;

/** Headers that concern one hop only (and Expect: the client's side already answered 100 Continue). */
export const HOP_BY_HOP = new Set(['connection', 'proxy-connection', 'keep-alive', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
export const NOT_FORWARDED_UP = new Set([...HOP_BY_HOP, 'host', 'content-length', 'expect']);
export const CRLF = '\r\n';

/** The names a Connection header lists (they are hop-by-hop too). */
export function connectionTokens(values: string[]): Set<string> {
  const out = new Set<string>();
  for (const v of values) for (const t of v.split(',')) if (t.trim()) out.add(t.trim().toLowerCase());
  return out;
}

export class ProtocolError extends Error {
  readonly code = 'EPROTO';
}

export interface Head {
  status: number;
  reason: string;
  /** name, value, name, value… as received (the flat form writeHead takes). */
  raw: string[];
  keepAlive: boolean;
  /** The body's framing: none, a length, chunked, or until the upstream closes. */
  framing: { kind: 'none' } | { kind: 'length'; n: number } | { kind: 'chunked' } | { kind: 'close' };
}

export function parseHead(text: string, method: string): Head {
  const lines = text.split(/\r?\n/);
  const m = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/.exec(lines[0] ?? '');
  if (!m?.[2]) throw new ProtocolError('not an HTTP/1.x response');
  const status = Number(m[2]);
  const raw: string[] = [];
  const connection: string[] = [];
  const lengths = new Set<string>();
  let chunked: boolean | null = null;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0 || line[0] === ' ' || line[0] === '\t') throw new ProtocolError('a malformed response header');
    const name = line.slice(0, colon);
    const value = line.slice(colon + 1).trim();
    const lower = name.toLowerCase();
    if (lower === 'connection') connection.push(value);
    else if (lower === 'content-length') for (const v of value.split(',')) lengths.add(v.trim());
    else if (lower === 'transfer-encoding') chunked = /(?:^|,)\s*chunked\s*$/i.test(value);
    raw.push(name, value);
  }
  const tokens = connectionTokens(connection);
  const keepAlive = m[1] === '1' && !tokens.has('close');
  const drop = (name: string) => HOP_BY_HOP.has(name) || tokens.has(name) || (chunked !== null && name === 'content-length');
  const kept: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (!drop((raw[i] as string).toLowerCase())) kept.push(raw[i] as string, raw[i + 1] as string);
  let framing: Head['framing'];
  if (method === 'HEAD' || status < 200 || status === 204 || status === 304) framing = { kind: 'none' };
  else if (chunked !== null) framing = chunked ? { kind: 'chunked' } : { kind: 'close' };
  else if (lengths.size > 0) {
    const [only] = lengths;
    if (lengths.size > 1 || !only || !/^\d{1,15}$/.test(only)) throw new ProtocolError('a bad Content-Length');
    framing = { kind: 'length', n: Number(only) };
  } else framing = { kind: 'close' };
  return { status, reason: m[3] ?? '', raw: kept, keepAlive: keepAlive && framing.kind !== 'close', framing };
}

/** Chunked framing, decoded as it streams by: data slices out, the end found. */
export class Chunks {
  private state: 'size' | 'data' | 'crlf' | 'trailer' | 'done' = 'size';
  private remaining = 0;
  private line = '';

  get done(): boolean {
    return this.state === 'done';
  }

  /** Feed b[i…]; data goes to `out`; returns where it stopped (the end of b, or just past the last chunk). */
  feed(b: Buffer, i: number, out: (data: Buffer) => void): number {
    while (i < b.length && this.state !== 'done') {
      if (this.state === 'data') {
        const n = Math.min(this.remaining, b.length - i);
        out(b.subarray(i, i + n));
        i += n;
        this.remaining -= n;
        if (this.remaining === 0) this.state = 'crlf';
        continue;
      }
      const nl = b.indexOf(10, i);
      this.line += b.toString('latin1', i, nl === -1 ? b.length : nl);
      if (this.line.length > MAX_CHUNK_LINE) throw new ProtocolError('a chunk line too long');
      if (nl === -1) return b.length;
      i = nl + 1;
      const line = this.line.endsWith('\r') ? this.line.slice(0, -1) : this.line;
      this.line = '';
      if (this.state === 'size') {
        const m = /^([0-9a-fA-F]{1,12})[ \t]*(?:;.*)?$/.exec(line);
        if (!m?.[1]) throw new ProtocolError('a bad chunk size');
        this.remaining = parseInt(m[1], 16);
        this.state = this.remaining === 0 ? 'trailer' : 'data';
      } else if (this.state === 'crlf') {
        if (line !== '') throw new ProtocolError('a chunk without its CRLF');
        this.state = 'size';
      } else if (line === '') this.state = 'done'; // the end of the trailer section (trailers are not forwarded)
    }
    return i;
  }
}

/** One upstream connection: its reads go to the exchange it carries now (none while idle: then any byte is an error). */
