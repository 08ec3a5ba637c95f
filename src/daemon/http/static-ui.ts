/**
 * The web UI's built files (web/, built by `npm run build:web` into dist/web) at /ui/ on the TCP
 * listener: no key needed for the files themselves (they hold no data; every call they make sends
 * the key the user signed in with, as a bearer token). index.html is never cached; the hashed
 * files under assets/ are cached for a year. Every answer carries a strict Content-Security-Policy
 * (only this origin; no inline scripts). Names are matched against a plain pattern, never joined
 * from the request as a path, so nothing outside the build folder can be reached.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join } from 'node:path';

export const UI_PREFIX = '/ui/';

/**
 * Scripts, fonts, images and connections: this origin only. Styles: this origin, plus inline
 * <style> elements, which xterm.js and React Flow create at run time for their measured layouts
 * (no inline script is ever allowed). No frames, no plugins, no form posts elsewhere.
 */
export const UI_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json; charset=utf-8',
};

const NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,200}$/;

interface UiFile {
  readonly body: Buffer;
  readonly type: string;
  readonly immutable: boolean;
}

/** Serves a request under /ui (true), or leaves it to the router (false). */
export type UiHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

/** The files of `dir` (index.html, and assets/ one level down), read once, at start. */
function load(dir: string): Map<string, UiFile> {
  const files = new Map<string, UiFile>();
  const add = (rel: string, path: string, immutable: boolean): void => {
    const type = TYPES[extname(rel)];
    if (type && statSync(path).isFile()) files.set(rel, { body: readFileSync(path), type, immutable });
  };
  let top: string[];
  try {
    top = readdirSync(dir);
  } catch {
    return files; // not built: /ui/ says so
  }
  for (const name of top) {
    if (name === 'assets') {
      let assets: string[] = [];
      try {
        assets = readdirSync(join(dir, name));
      } catch {
        /* not a directory: no assets, and the daemon still starts */
      }
      for (const a of assets) if (NAME.test(a)) add(`assets/${a}`, join(dir, name, a), true);
    } else if (NAME.test(name)) add(name, join(dir, name), false);
  }
  return files;
}

function headers(res: ServerResponse, f: { type: string; immutable: boolean; length: number }): void {
  res.setHeader('content-type', f.type);
  res.setHeader('content-length', f.length);
  res.setHeader('cache-control', f.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
  res.setHeader('content-security-policy', UI_CSP);
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('x-frame-options', 'DENY');
  res.setHeader('referrer-policy', 'no-referrer');
  res.setHeader('cross-origin-opener-policy', 'same-origin');
}

export function createUiHandler(dir: string): UiHandler {
  const files = load(dir);
  const send = (req: IncomingMessage, res: ServerResponse, status: number, f: { body: Buffer; type: string; immutable: boolean }): void => {
    res.statusCode = status;
    headers(res, { type: f.type, immutable: f.immutable, length: f.body.length });
    res.end(req.method === 'HEAD' ? undefined : f.body);
  };
  const text = (msg: string) => ({ body: Buffer.from(msg), type: 'text/plain; charset=utf-8', immutable: false });
  return (req, res) => {
    const url = req.url ?? '';
    const path = url.split('?', 1)[0] as string;
    if (path !== '/ui' && !path.startsWith(UI_PREFIX)) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      send(req, res, 405, text('method not allowed\n'));
      return true;
    }
    if (path === '/ui') {
      res.statusCode = 301;
      res.setHeader('location', UI_PREFIX);
      res.setHeader('content-length', 0);
      res.end();
      return true;
    }
    const rel = path.slice(UI_PREFIX.length);
    const f = files.get(rel === '' ? 'index.html' : rel);
    if (f) send(req, res, 200, f);
    else if (files.size === 0) send(req, res, 404, text(`the web UI is not built here (${dir} is missing): run npm run build:web\n`));
    else send(req, res, 404, text('no such file\n'));
    return true;
  };
}
