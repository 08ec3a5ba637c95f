// One HTTP client to the daemon: one keep-alive connection over its unix socket or TCP, JSON in
// and out. undici (a dependency of bkg) when it loads; else node:http with a one-socket Agent.

/**
 * @param {{ socketPath?: string, origin?: string, key?: string }} o  no key: the unix socket's
 *   host admin; a key: sent as `Authorization: Bearer`
 * @returns {Promise<{ kind: string, request: Function | null, text: Function, call: Function, expect: Function, close: () => Promise<void> }>}
 *   text(method, path, body?, headers?) → { status, text }; call(…) → { status, body } (JSON, or
 *   the text when it is not JSON); expect(method, path, body, want, headers?) → call(…), or throws
 *   unless the status is `want`; request: undici's own (streams), null without undici.
 */
export async function makeClient({ socketPath, origin = 'http://localhost', key } = {}) {
  const auth = key ? { authorization: `Bearer ${key}` } : {};
  const headersFor = (payload, extra) => ({ ...auth, ...(payload ? { 'content-type': 'application/json' } : {}), ...extra });
  let undici = null;
  try {
    undici = await import('undici');
  } catch {
    /* fall back to node:http */
  }
  let c;
  if (undici) {
    const client = new undici.Client(origin, { ...(socketPath ? { socketPath } : {}), pipelining: 1, keepAliveTimeout: 600_000, keepAliveMaxTimeout: 600_000, headersTimeout: 120_000, bodyTimeout: 120_000 });
    c = {
      kind: 'undici Client (1 keep-alive connection)',
      request: (opts) => client.request(opts),
      async text(method, path, body, headers = {}) {
        const payload = body === undefined ? undefined : JSON.stringify(body);
        const res = await client.request({ method, path, headers: headersFor(payload, headers), body: payload });
        return { status: res.statusCode, text: await res.body.text() };
      },
      close: () => client.close().catch(() => {}),
    };
  } else {
    const http = await import('node:http');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const target = socketPath ? { socketPath } : { host: new URL(origin).hostname, port: new URL(origin).port };
    c = {
      kind: 'node:http Agent (1 keep-alive socket)',
      request: null,
      text: (method, path, body, headers = {}) =>
        new Promise((resolve, reject) => {
          const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
          const req = http.request({ method, path, ...target, agent, headers: headersFor(payload, headers) }, (res) => {
            const chunks = [];
            res.on('data', (d) => chunks.push(d));
            res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString() }));
            res.on('error', reject);
          });
          req.on('error', reject);
          req.end(payload);
        }),
      close: async () => agent.destroy(),
    };
  }
  c.call = async (method, path, body, headers) => {
    const { status, text } = await c.text(method, path, body, headers);
    let parsed;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    return { status, body: parsed };
  };
  c.expect = async (method, path, body, want, headers) => {
    const r = await c.call(method, path, body, headers);
    if (r.status !== want) throw new Error(`${method} ${path}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    return r;
  };
  return c;
}
