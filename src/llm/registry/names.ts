/** Model ids, sources and digests: parsing and normalising what callers hand the registry. */
import { basename, isAbsolute } from 'node:path';
import { BkgError } from '../../api/errors.js';

export const MODEL_ID_MAX = 64;
const SHA256_RE = /^[0-9a-f]{64}$/;

export type ModelSource = { kind: 'http'; url: URL } | { kind: 'file'; path: string };

/** An http(s) URL or an absolute local path; anything else is INVALID_ARGUMENT. */
export function parseSource(source: string): ModelSource {
  if (typeof source !== 'string' || source.length === 0) throw new BkgError('INVALID_ARGUMENT', 'source: must be an http(s) URL or an absolute path');
  if (/^https?:\/\//i.test(source)) {
    let url: URL;
    try {
      url = new URL(source);
    } catch {
      throw new BkgError('INVALID_ARGUMENT', `source: ${JSON.stringify(source)} is not a valid URL`, { details: { field: 'source' } });
    }
    if (url.username || url.password) throw new BkgError('INVALID_ARGUMENT', 'source: credentials in the URL are not supported', { details: { field: 'source' } });
    return { kind: 'http', url };
  }
  if (isAbsolute(source) && !source.includes('\0')) return { kind: 'file', path: source };
  throw new BkgError('INVALID_ARGUMENT', `source: ${JSON.stringify(source)} is neither an http(s) URL nor an absolute path`, { details: { field: 'source' } });
}

/** The file name a source names (last URL path segment, or the path's base name). */
export function sourceFileName(src: ModelSource): string {
  if (src.kind === 'file') return basename(src.path);
  const last = src.url.pathname.split('/').filter(Boolean).pop() ?? '';
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}

/**
 * A model id: lowercased, anything outside [a-z0-9._-] becomes '-', runs of '-' collapse, no
 * leading or trailing '.', '-' or '_', at most 64 characters. `fromFile` also drops a .gguf suffix.
 */
export function modelIdFrom(name: string, opts: { fromFile?: boolean } = {}): string {
  let s = name.normalize('NFKD').toLowerCase();
  if (opts.fromFile) s = s.replace(/\.gguf$/, '');
  s = s.replace(/[^a-z0-9._-]+/g, '-').replace(/-{2,}/g, '-').replace(/\.{2,}/g, '.').replace(/^[-._]+/, '').slice(0, MODEL_ID_MAX).replace(/[-._]+$/, '');
  if (!s) throw new BkgError('INVALID_ARGUMENT', `name: ${JSON.stringify(name)} gives an empty model id; pass a name with letters or digits`, { details: { field: 'name' } });
  return s;
}

export function isModelId(id: string): boolean {
  return id.length <= MODEL_ID_MAX && /^[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?$/.test(id);
}

/** A lowercase hex sha256, or INVALID_ARGUMENT. */
export function parseSha256(value: string, field = 'sha256'): string {
  const v = value.trim().toLowerCase().replace(/^sha256:/, '');
  if (!SHA256_RE.test(v)) throw new BkgError('INVALID_ARGUMENT', `${field}: expected 64 hex digits`, { details: { field } });
  return v;
}

export function isSha256(value: string): boolean {
  return SHA256_RE.test(value);
}

/** A source without credentials or query string, for logs and error messages. */
export function redactSource(source: string): string {
  if (!/^https?:\/\//i.test(source)) return source;
  try {
    const u = new URL(source);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '<invalid url>';
  }
}
