/**
 * The daemon's REST API from the browser: same origin, the signed-in key as a bearer token (never
 * in a URL or a cookie). Errors come back as ApiError with the registry's code, message and hint.
 */

export interface ErrorBody {
  code: string;
  message: string;
  hint?: string;
  details?: Record<string, unknown>;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ErrorBody,
  ) {
    super(body.message);
  }
}

export interface Whoami {
  id: string;
  name: string;
  kind: 'admin' | 'namespace' | 'readonly' | 'sandbox';
  namespace: string | null;
  sandbox_id: string | null;
  actions: string[];
}

async function errorOf(res: Response): Promise<ApiError> {
  let body: ErrorBody = { code: `HTTP_${res.status}`, message: res.statusText || `HTTP ${res.status}` };
  try {
    const parsed = (await res.json()) as { error?: ErrorBody };
    if (parsed.error) body = parsed.error;
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(res.status, body);
}

/** A fetch with the key; throws ApiError on a non-2xx answer. */
export async function raw(key: string, method: string, path: string, init: { body?: unknown; headers?: Record<string, string>; signal?: AbortSignal } = {}): Promise<Response> {
  const headers: Record<string, string> = { authorization: `Bearer ${key}`, ...init.headers };
  let body: BodyInit | undefined;
  if (init.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(init.body);
  }
  const res = await fetch(path, { method, headers, body, signal: init.signal, credentials: 'omit', cache: 'no-store' });
  if (!res.ok) throw await errorOf(res);
  return res;
}

/** A JSON call (undefined for 204). */
export async function api<T>(key: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await raw(key, method, path, body === undefined ? {} : { body });
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export function errorText(err: unknown): string {
  if (err instanceof ApiError) return `${err.body.code}: ${err.body.message}${err.body.hint ? ` — ${err.body.hint}` : ''}`;
  if (err instanceof Error) return err.message;
  return String(err);
}

export const enc = encodeURIComponent;

/**
 * A page's actions: the last error cleared (and whatever `clear` clears, say a note), the action
 * run and its failure shown, then the page's data read again whatever happened.
 */
export function actionRunner(setError: (e: string | null) => void, reload: () => Promise<void>, clear?: () => void): (f: () => Promise<void>) => Promise<void> {
  return async (f) => {
    setError(null);
    clear?.();
    try {
      await f();
    } catch (err) {
      setError(errorText(err));
    }
    await reload();
  };
}
