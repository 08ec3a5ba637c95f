/**
 * A tiny router: `add('GET', '/api/v1/sandboxes/:id', handler)`. Paths are matched on their raw
 * (still percent-encoded) segments, so an encoded '/' can never create a segment, and never
 * normalised, so '..' never climbs; parameters are then decoded and checked. A literal segment
 * beats a parameter in the same position. HEAD is answered by the GET handler. Every route that is
 * not public declares the action it takes (`access`): the server asks the one authorisation
 * function about it before the handler runs, so handlers never decide who may call them.
 */
import { BkgError } from '../../api/errors.js';
import { parse } from '../../api/parse.js';
import type { RouteSpec } from '../../api/routes.js';
import type { z } from 'zod/v4';
import type { Handler, HttpMethod, Reply, RequestContext } from './context.js';

type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

/** What a route's handler gets besides the request: its params, query and JSON body, checked against its spec. */
export interface RouteInput<S extends RouteSpec> {
  params: Out<S['params']>;
  query: Out<S['query']>;
  body: S['body'] extends z.ZodType ? z.output<S['body']> : undefined;
}

/** A handler bound to a route spec: the principal is there unless the route is public. */
export type SpecHandler<S extends RouteSpec, P> = (ctx: RequestContext<S['access'] extends 'public' ? undefined : P> & { input: RouteInput<S> }) => Promise<Reply>;

export interface Route<P = unknown, A extends string = string> {
  readonly method: HttpMethod;
  /** The pattern as registered, e.g. /api/v1/sandboxes/:id (the route label of logs and metrics). */
  readonly pattern: string;
  /** Public routes skip authentication and authorisation; their handlers get an undefined principal. */
  readonly public: boolean;
  /** The action the route takes, authorised before the handler runs (null for public routes). */
  readonly access: A | null;
  /** The contract's description of the route, when it was registered from one (`route()`). */
  readonly spec?: RouteSpec;
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

/** How an audit record names a failure: a refusal (not found, forbidden) is 'denied', anything else 'error'. */
export function failureOutcome(err: unknown): { outcome: 'denied' | 'error'; code: string } {
  const code = err instanceof BkgError ? err.code : 'INTERNAL';
  return { outcome: code === 'NOT_FOUND' || code === 'FORBIDDEN' ? 'denied' : 'error', code };
}

/** One audit record of a route that declares `audit` (the router reports; the daemon writes it). */
export interface RouteAudit<P> {
  principal: P | undefined;
  action: string;
  target: string | null;
  namespace: string | null;
  outcome: 'ok' | 'denied' | 'error';
  details?: Record<string, unknown>;
}

export class Router<P = unknown, A extends string = string> {
  private readonly entries: PatternEntry<P, A>[] = [];

  /** `audit` receives the outcome of every route that declares an audit action. */
  constructor(private readonly opts: { audit?: (a: RouteAudit<P>) => void } = {}) {}

  /** A route that requires authentication and `access`: its handler always gets the principal. */
  add(method: HttpMethod, pattern: string, access: A, handler: Handler<P>): this {
    return this.register(method, pattern, handler as Handler<P | undefined>, access);
  }

  /** A route served without authentication (e.g. /healthz). */
  addPublic(method: HttpMethod, pattern: string, handler: Handler<undefined>): this {
    return this.register(method, pattern, handler as Handler<P | undefined>, null);
  }

  /**
   * A route of the wire contract: its access rule is authorised by the server, and its params,
   * query and JSON body are checked against the spec (INVALID_ARGUMENT naming the field) before the
   * handler runs with them typed.
   */
  route<S extends RouteSpec>(spec: S, handler: SpecHandler<S, P>): this {
    const audit = spec.audit;
    const record = this.opts.audit;
    const checked: Handler<P | undefined> = async (ctx) => {
      const params = spec.params ? parse(spec.params, { ...ctx.params }, 'path') : undefined;
      const query = spec.query ? parse(spec.query, Object.fromEntries(ctx.query), 'query') : undefined;
      let body: unknown;
      if (spec.body && typeof spec.body !== 'string') {
        const raw = await ctx.body();
        body = parse(spec.body, raw === undefined && spec.bodyOptional ? {} : raw);
      }
      const input = { params, query, body } as RouteInput<S>;
      if (!audit || !record) return handler({ ...ctx, input } as Parameters<SpecHandler<S, P>>[0]);
      const target = (ctx.params.id ?? ctx.params.namespace ?? ctx.params.fingerprint ?? null) as string | null;
      try {
        const reply = await handler({ ...ctx, input } as Parameters<SpecHandler<S, P>>[0]);
        record({ principal: ctx.principal, action: audit, target: reply.audit?.target ?? target, namespace: reply.audit?.namespace ?? null, outcome: 'ok', ...(reply.audit?.details ? { details: reply.audit.details } : {}) });
        return reply;
      } catch (err) {
        const { outcome, code } = failureOutcome(err);
        record({ principal: ctx.principal, action: audit, target, namespace: null, outcome, details: { code } });
        throw err;
      }
    };
    return this.register(spec.method, spec.path, checked, spec.access === 'public' ? null : (spec.access as A), spec);
  }

  /** Every route registered, in order (for checks that the contract is served whole). */
  routes(): Route<P, A>[] {
    return this.entries.flatMap((e) => [...e.methods.values()]);
  }

  private register(method: HttpMethod, pattern: string, handler: Handler<P | undefined>, access: A | null, spec?: RouteSpec): this {
    const segments = compile(pattern);
    let entry = this.entries.find((e) => shape(e.segments) === shape(segments));
    if (entry && entry.pattern !== pattern) throw new Error(`route pattern ${pattern} clashes with ${entry.pattern}`);
    if (!entry) {
      entry = { pattern, segments, methods: new Map() };
      this.entries.push(entry);
    }
    if (entry.methods.has(method)) throw new Error(`route ${method} ${pattern} is already registered`);
    entry.methods.set(method, { method, pattern, public: access === null, access, ...(spec ? { spec } : {}), handler });
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
