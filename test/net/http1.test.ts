import { describe, expect, it } from 'vitest';
import { BodyDecoder, BodyError, HeadReader, headEnd, MAX_HEAD, parseResponseHead, requestHead } from '../../src/net/http1.js';

/** Feed `wire` to a decoder in pieces of `step` bytes; the body it emitted, whether it is done, and how much of the input it took. */
function decode(headers: Record<string, string>, wire: Buffer, step: number): { body: Buffer; done: boolean; taken: number } {
  const d = new BodyDecoder(headers);
  const parts: Buffer[] = [];
  let taken = 0;
  for (let at = 0; at < wire.length; at += step) {
    const piece = wire.subarray(at, Math.min(wire.length, at + step));
    taken += d.feed(piece, (p) => void parts.push(Buffer.from(p)));
  }
  return { body: Buffer.concat(parts), done: d.done, taken };
}

describe('HTTP/1.1 response heads', () => {
  it('parses the status line and headers, joining repeats; refuses what is not HTTP/1.x', () => {
    const h = parseResponseHead('HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-1/2\r\nX-A: 1\r\nx-a: 2');
    expect(h).toEqual({ statusCode: 206, statusMessage: 'Partial Content', headers: { 'content-range': 'bytes 0-1/2', 'x-a': '1, 2' } });
    expect(Object.getPrototypeOf(h?.headers)).toBeNull();
    expect(parseResponseHead('HTTP/1.0 200')).toMatchObject({ statusCode: 200, statusMessage: '' });
    expect(parseResponseHead('SSH-2.0-OpenSSH')).toBeNull();
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nno colon here')).toBeNull();
    expect(headEnd(Buffer.from('HTTP/1.1 200 OK\r\n\r\nbody'))).toBe(19);
    expect(headEnd(Buffer.from('HTTP/1.1 200 OK\r\n'))).toBe(-1);
  });
});

describe('HTTP/1.1 heads as they stream in (HeadReader, requestHead)', () => {
  it('returns the head and what follows it, across pieces and past interim answers, and caps both', () => {
    const r = new HeadReader();
    expect(r.push(Buffer.from('HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 200 O'))).toBeNull();
    const got = r.push(Buffer.from('K\r\ncontent-length: 2\r\n\r\nok'));
    expect(got && 'head' in got ? [got.head.statusCode, got.head.headers['content-length'], got.rest.toString()] : got).toEqual([200, '2', 'ok']);
    const upgrade = new HeadReader().push(Buffer.from('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n'));
    expect(upgrade && 'head' in upgrade ? upgrade.head.statusCode : upgrade).toBe(101); // 101 is an answer, not an interim one
    expect(new HeadReader().push(Buffer.from('HTTP/1.1 100 Continue\r\n\r\n'.repeat(17)))).toEqual({ error: 'more than 16 interim answers' });
    expect(new HeadReader().push(Buffer.alloc(MAX_HEAD + 1, 0x61))).toEqual({ error: `a response head of over ${MAX_HEAD} bytes` });
    expect(new HeadReader().push(Buffer.from('SSH-2.0-x\r\n\r\n'))).toEqual({ error: 'a response that is not HTTP/1.x' });
  });

  it('writes a request head and refuses a header holding a line break', () => {
    expect(requestHead('GET / HTTP/1.1', ['host: h'], { a: '1' })).toBe('GET / HTTP/1.1\r\nhost: h\r\na: 1\r\n\r\n');
    expect(() => requestHead('GET / HTTP/1.1', [], { a: '1\r\nx: 2' })).toThrow(/line break/);
  });
});

describe('HTTP/1.1 body framing', () => {
  const data = Buffer.from('The quick brown fox jumps over the lazy dog. '.repeat(20));

  it('content-length: the body ends after its bytes, whatever follows on the wire; zero is done at once', () => {
    const wire = Buffer.concat([data, Buffer.from('NEXT')]);
    for (const step of [1, 7, 64, wire.length]) {
      const r = decode({ 'content-length': String(data.length) }, wire, step);
      expect(r.body.equals(data)).toBe(true);
      expect(r.done).toBe(true);
      expect(r.taken).toBe(data.length);
    }
    const empty = new BodyDecoder({ 'content-length': '0' });
    expect(empty.done).toBe(true);
    expect(empty.length).toBe(0);
    expect(new BodyDecoder({ 'content-length': '12' }).length).toBe(12);
  });

  it('chunked: split anywhere, with chunk extensions and upper-case hex; the last chunk ends it', () => {
    const a = data.subarray(0, 300);
    const b = data.subarray(300);
    const wire = Buffer.concat([Buffer.from(`${a.length.toString(16).toUpperCase()};name=x\r\n`), a, Buffer.from(`\r\n${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n0\r\n\r\n')]);
    for (const step of [1, 2, 3, 5, 100, wire.length]) {
      const r = decode({ 'transfer-encoding': 'chunked' }, wire, step);
      expect(r.body.equals(data), `step ${step}`).toBe(true);
      expect(r.done).toBe(true);
    }
    expect(new BodyDecoder({ 'transfer-encoding': 'gzip, chunked' }).length).toBeNull();
  });

  it('stops after a piece when told to, and goes on from where it stopped', () => {
    const wire = Buffer.concat([...[data.subarray(0, 100), data.subarray(100)].flatMap((c) => [Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n')]), Buffer.from('0\r\n\r\n')]);
    const d = new BodyDecoder({ 'transfer-encoding': 'chunked' });
    const parts: Buffer[] = [];
    let rest = wire;
    let feeds = 0;
    while (!d.done) {
      const taken = d.feed(rest, (p) => {
        parts.push(Buffer.from(p));
        return true; // one piece per call
      });
      rest = rest.subarray(taken);
      feeds++;
    }
    expect(feeds).toBe(3); // two pieces, then the last chunk
    expect(rest.toString()).toBe('\r\n'); // the end of the (empty) trailers is not read: the connection goes with the response
    expect(Buffer.concat(parts).equals(data)).toBe(true);
  });

  it('close-delimited: everything until the connection ends', () => {
    const d = new BodyDecoder({});
    const parts: Buffer[] = [];
    d.feed(data, (p) => void parts.push(Buffer.from(p)));
    expect(d.done).toBe(false);
    expect(d.ended()).toBeNull();
    expect(d.done).toBe(true);
    expect(Buffer.concat(parts).equals(data)).toBe(true);
  });

  it('a body cut short, a bad length and malformed chunks are errors', () => {
    const short = new BodyDecoder({ 'content-length': '10' });
    short.feed(Buffer.from('abc'), () => {});
    expect(short.ended()).toBe('a response cut short');
    expect(() => new BodyDecoder({ 'content-length': '-1' })).toThrow(BodyError);
    expect(() => new BodyDecoder({ 'content-length': '1e3' })).toThrow('an invalid content-length "1e3"');
    const chunked = { 'transfer-encoding': 'chunked' };
    expect(() => decode(chunked, Buffer.from('zz\r\nab\r\n0\r\n\r\n'), 4)).toThrow('a malformed chunk');
    expect(() => decode(chunked, Buffer.from('2\r\nabXY0\r\n\r\n'), 4)).toThrow('a chunk not followed by CRLF');
    expect(() => decode(chunked, Buffer.from(`${'1'.repeat(2000)}\r\n`), 100)).toThrow('a chunk-size line too long');
    const cut = new BodyDecoder(chunked);
    cut.feed(Buffer.from('5\r\nab'), () => {});
    expect(cut.ended()).toBe('a response cut short');
  });
});
