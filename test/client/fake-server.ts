/** A tiny real HTTP server on a unix socket whose answers a test sets per "METHOD path": stands in for the daemon. */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';

export interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface Reply {
  status: number;
  body?: unknown;
  raw?: Buffer | string;
  type?: string;
}

export type Route = (req: Seen) => Reply;

/** A server whose answers the test sets per "METHOD path" (path without the query). */
export class FakeDaemon {
  readonly seen: Seen[] = [];
  readonly routes = new Map<string, Route>();
  private server: Server | undefined;

  constructor(readonly socketPath: string) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const seen: Seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
        this.seen.push(seen);
        const route = this.routes.get(`${seen.method} ${seen.url.split('?')[0]}`);
        const r: Reply = route ? route(seen) : { status: 404, body: { error: { code: 'NOT_FOUND', message: `no route ${seen.url}`, hint: 'no such route' } } };
        const payload = r.raw ?? (r.body === undefined ? '' : JSON.stringify(r.body));
        res.writeHead(r.status, { 'content-type': r.type ?? 'application/json' });
        res.end(payload);
      });
    });
    const server = this.server;
    await new Promise<void>((resolve) => server.listen(this.socketPath, resolve));
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  last(): Seen {
    const s = this.seen.at(-1);
    if (!s) throw new Error('no request seen');
    return s;
  }
}
