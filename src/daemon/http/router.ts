/**
 * A tiny router: `add('GET', '/api/v1/sandboxes/:id', handler)`. Paths are matched on their raw
 * (still percent-encoded) segments, so an encoded '/' can never create a segment, and never
 * normalised, so '..' never climbs; parameters are then decoded and checked. A literal segment
 * beats a parameter in the same position. HEAD is answered by the GET handler. Every route that is
 * not public declares the action it takes (`access`): the server asks the one authorisation
 * function about it before the handler runs, so handlers never decide who may call them.
 */
import { BkgError } from '../../api/errors.js';
import type { Handler, HttpMethod } from './context.js';

export interface Route<P = unknown, A extends string = string> {
  readonly method: HttpMethod;
  /** The pattern as registered, e.g. /api/v1/sandboxes/:id (the route label of logs and metrics). */
  readonly pattern: string;
  /** Public routes skip authentication and authorisation; their handlers get an undefined principal. */
  readonly public: boolean;
  /** The action the route takes, authorised before the handler runs (null for public routes). */
  readonly access: A | null;
  readonly handler: Handler<P | undefined>;
}

export type RouteMatch<P = unknown, A extends string = string> =
  | { readonly ok: true; readonly route: Route<P, A>; readonly params: Record<string, string>; readonly query: URLSearchParams }
  /** NOT_FOUND, METHOD_NOT_ALLOWED (details.allow) or INVALID_ARGUMENT; `route` when the path and method matched. */
  | { readonly ok: false; readonly error: BkgError; readonly pattern?: string; readonly route?: Route<P, A> };

type Segment = { readonly literal: string } | { readonly param: string };

interface PatternEntry<P, A extends string> {
  readonly pattern: string;
  readonly segments: readonly Segment[];
  readonly methods: Map<HttpMethod, Route<P, A>>;
}

const LITERAL = /^[A-Za-z0-9._~-]+$/;
const PARAM = /^:([A-Za-z_][A-Za-z0-9_]*)$/;
const MAX_PARAM_LENGTH = 1024;
// eslint-disable-next-line no-control-regex
const FORBIDDEN_IN_PARAM = /[/\\\u0000-\u001f\u007f]/;

function compile(pattern: string): Segment[] {
  if (pattern === '/') return [{ literal: '' }];
  if (!pattern.startsWith('/')) throw new Error(`route pattern ${pattern} must start with /`);
  const names = new Set<string>();
  return pattern
    .slice(1)
    .split('/')
    .map((s) => {
      const m = PARAM.exec(s);
      if (m?.[1]) {
        if (names.has(m[1])) throw new Error(`route pattern ${pattern} repeats :${m[1]}`);
        names.add(m[1]);
        return { param: m[1] };
      }
      if (!LITERAL.test(s) || s === '.' || s === '..') throw new Error(`route pattern ${pattern} has an invalid segment "${s}"`);
      return { literal: s };
    });
}

function shape(segments: readonly Segment[]): string {
  return segments.map((s) => ('literal' in s ? s.literal : ':')).join('/');
}

function matches(segments: readonly Segment[], raw: readonly string[]): boolean {
  return segments.length === raw.length && segments.every((s, i) => ('literal' in s ? s.literal === raw[i] : raw[i] !== ''));
}

/** Negative when a is more specific than b: the first position where they differ is a literal in a. */
function specificity(a: readonly Segment[], b: readonly Segment[]): number {
  for (let i = 0; i < a.length; i++) {
    const la = 'literal' in (a[i] as Segment);
    const lb = 'literal' in (b[i] as Segment);
    if (la !== lb) return la ? -1 : 1;
  }
  return 0;
}

function decodeParam(name: string, raw: string): string {
  const bad = (why: string) => new BkgError('INVALID_ARGUMENT', `path parameter ${name}: ${JSON.stringify(raw)} ${why}`, { details: { field: name } });
  let value: string;
  try {
    value = decodeURIComponent(raw);
  } catch {
    throw bad('is not valid percent-encoding');
  }
  if (value.length > MAX_PARAM_LENGTH) throw bad(`is longer than ${MAX_PARAM_LENGTH} characters`);
  if (value === '.' || value === '..' || FORBIDDEN_IN_PARAM.test(value)) throw bad("must not be '.' or '..' or contain '/', '\\', NUL or control characters");
  return value;
}

export class Router<P = unknown, A extends string = string> {
  private readonly entries: PatternEntry<P, A>[] = [];

  /** A route that requires authentication and `access`: its handler always gets the principal. */
  add(method: HttpMethod, pattern: string, access: A, handler: Handler<P>): this {
    return this.register(method, pattern, handler as Handler<P | undefined>, access);
  }

  /** A route served without authentication (e.g. /healthz). */
  addPublic(method: HttpMethod, pattern: string, handler: Handler<undefined>): this {
    return this.register(method, pattern, handler as Handler<P | undefined>, null);
  }

  private register(method: HttpMethod, pattern: string, handler: Handler<P | undefined>, access: A | null): this {
    const segments = compile(pattern);
    let entry = this.entries.find((e) => shape(e.segments) === shape(segments));
    if (entry && entry.pattern !== pattern) throw new Error(`route pattern ${pattern} clashes with ${entry.pattern}`);
    if (!entry) {
      entry = { pattern, segments, methods: new Map() };
      this.entries.push(entry);
    }
    if (entry.methods.has(method)) throw new Error(`route ${method} ${pattern} is already registered`);
    entry.methods.set(method, { method, pattern, public: access === null, access, handler });
    return this;
  }

  /** Resolve a request line's method and target (req.method, req.url). Never throws. */
  match(method: string, target: string): RouteMatch<P, A> {
    if (!target.startsWith('/')) {
      return { ok: false, error: new BkgError('INVALID_ARGUMENT', 'the request target must be a path starting with /') };
    }
    const q = target.indexOf('?');
    const rawPath = q < 0 ? target : target.slice(0, q);
    const query = new URLSearchParams(q < 0 ? '' : target.slice(q + 1));
    const raw = rawPath.slice(1).split('/');

    const candidates = this.entries.filter((e) => matches(e.segments, raw)).sort((a, b) => specificity(a.segments, b.segments));
    const entry = candidates[0];
    if (!entry) return { ok: false, error: new BkgError('NOT_FOUND', 'no such API path') };

    const route = entry.methods.get(method as HttpMethod) ?? (method === 'HEAD' ? entry.methods.get('GET') : undefined);
    if (!route) {
      const allow = [...entry.methods.keys()];
      if (allow.includes('GET') && !allow.includes('HEAD')) allow.push('HEAD');
      return {
        ok: false,
        pattern: entry.pattern,
        error: new BkgError('METHOD_NOT_ALLOWED', `${method} is not allowed on ${entry.pattern}`, { details: { allow } }),
      };
    }

    const params: Record<string, string> = Object.create(null) as Record<string, string>;
    try {
      entry.segments.forEach((s, i) => {
        if ('param' in s) params[s.param] = decodeParam(s.param, raw[i] as string);
      });
    } catch (err) {
      return { ok: false, pattern: entry.pattern, route, error: err as BkgError };
    }
    return { ok: true, route, params, query };
  }
}
