/**
 * Reading a JSON request body: the content type must be JSON (UTF-8), the size is capped (a
 * declared Content-Length over the cap is refused before reading; a body that grows past it stops
 * being read at once), and the text must be valid UTF-8 JSON without "__proto__" keys.
 */
import type { IncomingMessage } from 'node:http';
import { BkgError } from '../../api/errors.js';

/** Whether the request carries a body at all (a declared length > 0, or a chunked one). */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  if (length !== undefined) return length !== '0';
  return req.headers['transfer-encoding'] !== undefined;
}

function checkContentType(req: IncomingMessage): void {
  const value = req.headers['content-type'] ?? '';
  const [type = '', ...params] = value.split(';').map((s) => s.trim().toLowerCase());
  const json = type === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(type);
  const charsetOk = params.every((p) => !p.startsWith('charset=') || p === 'charset=utf-8' || p === 'charset="utf-8"');
  if (!json || !charsetOk) {
    throw new BkgError('UNSUPPORTED_MEDIA_TYPE', `the request body must be JSON (Content-Type: application/json), not ${JSON.stringify(value || 'none')}`);
  }
}

function tooLarge(maxBytes: number): BkgError {
  return new BkgError('PAYLOAD_TOO_LARGE', `the request body is larger than ${maxBytes} bytes`, { details: { max_bytes: maxBytes } });
}

function readCapped(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (req.destroyed || req.readableEnded) {
      reject(new BkgError('INVALID_ARGUMENT', 'the request body is no longer readable'));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (err?: BkgError) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onClose);
      req.off('close', onClose);
      if (err) {
        req.pause();
        reject(err);
      } else resolve(Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) done(tooLarge(maxBytes));
      else chunks.push(chunk);
    };
    const onEnd = () => done();
    const onClose = () => done(new BkgError('INVALID_ARGUMENT', 'the request was aborted while its body was read'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onClose);
    req.on('close', onClose);
  });
}

function noProto(key: string, value: unknown): unknown {
  if (key === '__proto__') throw new SyntaxError('__proto__ key');
  return value;
}

/** The parsed JSON body, or `undefined` when the request has none. */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  if (!hasBody(req)) return undefined;
  checkContentType(req);
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBytes) throw tooLarge(maxBytes);
  const bytes = await readCapped(req, maxBytes);
  if (bytes.length === 0) return undefined;
  try {
    const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
    return JSON.parse(text, noProto);
  } catch {
    throw new BkgError('INVALID_ARGUMENT', 'request body is not valid JSON');
  }
}
