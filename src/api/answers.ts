/**
 * Checking an answer against the contract: which declared route a request meant, and whether the
 * status and body it got back are what that route declares (a 2xx body parsed by the declared
 * schema, strict objects so an undeclared field fails; every 4xx/5xx an ErrorBody). Route tests
 * run every answer they receive through this.
 */
import { ErrorBody } from './schema/common.js';
import { ALL_ROUTES, type RouteSpec } from './routes.js';

/** The declared route for a method and path (query string ignored), with its path parameters. */
export function matchRoute(method: string, url: string): { route: RouteSpec; params: Record<string, string> } | null {
  const path = url.split('?')[0] ?? '';
  const parts = path.split('/');
  for (const route of ALL_ROUTES) {
    if (route.method !== method.toUpperCase()) continue;
    const pattern = route.path.split('/');
    if (pattern.length !== parts.length) continue;
    const params: Record<string, string> = {};
    const same = pattern.every((seg, i) => {
      const part = parts[i] ?? '';
      if (seg.startsWith(':')) {
        if (part === '') return false;
        params[seg.slice(1)] = decodeURIComponent(part);
        return true;
      }
      return seg === part;
    });
    if (same) return { route, params };
  }
  return null;
}

export interface Received {
  method: string;
  /** Path and query string, as sent. */
  url: string;
  status: number;
  contentType: string | undefined;
  /** The raw body. */
  body: Buffer;
}

type Issue = { path: readonly PropertyKey[]; message: string; code?: string; errors?: Issue[][] };

/** The issues in words; of a union, those of the branch that came closest. */
function problemsOf(issues: readonly Issue[]): string {
  const flat = issues.flatMap((i) => {
    if (i.code !== 'invalid_union' || !i.errors?.length) return [i];
    const closest = [...i.errors].sort((a, b) => a.length - b.length)[0] ?? [];
    return closest.map((c) => ({ ...c, path: [...i.path, ...c.path] }));
  });
  return flat.slice(0, 5).map((i) => `${i.path.map(String).join('.') || '(body)'}: ${i.message}`).join('; ');
}

function json(body: Buffer): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(body.toString('utf8')) };
  } catch {
    return { ok: false };
  }
}

/** What is wrong with an answer, by the contract; null when nothing is. */
export function answerProblem(r: Received): string | null {
  const at = `${r.method} ${r.url.split('?')[0]} → ${r.status}`;
  const isJson = (r.contentType ?? '').startsWith('application/json');
  const head = r.method.toUpperCase() === 'HEAD'; // answered by the GET route, without a body
  const found = matchRoute(head ? 'GET' : r.method, r.url);
  // an error is an ErrorBody, unless the route declares that status itself (503 of /healthz)
  if (r.status >= 400 && found?.route.responses[r.status] === undefined) {
    const parsed = isJson ? json(r.body) : { ok: false as const };
    if (!parsed.ok) return `${at}: an error answer must be a JSON ErrorBody (content-type ${r.contentType ?? 'none'})`;
    const checked = ErrorBody.safeParse(parsed.value);
    return checked.success ? null : `${at}: not an ErrorBody: ${problemsOf(checked.error.issues as readonly Issue[])}`;
  }
  if (!found) return `${at}: no route declares ${r.method} ${r.url.split('?')[0]}`;
  const answer = found.route.responses[r.status];
  if (answer === undefined) return `${at}: status ${r.status} is not declared (declared: ${Object.keys(found.route.responses).join(', ')})`;
  if (head) return null;
  if (answer === 'empty') return r.body.length === 0 ? null : `${at}: declared empty, got ${r.body.length} bytes`;
  if (typeof answer === 'string') return null; // binary, text, server-sent events, a protocol of its own
  if (!isJson) {
    // a JSON route may stream server-sent events when the request asks for them (chat)
    return (r.contentType ?? '').startsWith('text/event-stream') ? null : `${at}: declared JSON, got content-type ${r.contentType ?? 'none'}`;
  }
  const parsed = json(r.body);
  if (!parsed.ok) return `${at}: the body is not JSON`;
  const checked = answer.safeParse(parsed.value);
  return checked.success ? null : `${at}: the body does not match the contract: ${problemsOf(checked.error.issues as readonly Issue[])}`;
}
