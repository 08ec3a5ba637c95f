/**
 * The egress proxy of one sandbox with an allowlisted network. It accepts on the listening socket
 * the helper created inside the sandbox's network namespace (127.0.0.1:3128 there) and passed out,
 * so it runs here, in bkg's own network namespace: its outbound connections are the host's. It
 * speaks HTTP CONNECT (tunnels, for HTTPS) and plain HTTP (absolute-form requests), decides every
 * request on the host it names (Allowlist), resolves names itself (the sandbox has no DNS), and
 * answers a refused one with 403 and a line naming NETWORK_DENIED; each refusal is recorded for the
 * exec it happened in and told to the observer (logs, audit, event stream), each outcome counted.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, isIP, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { DenialReason } from '../../api/egress.js';
import type { Allowlist } from './allowlist.js';
import { forwardRequest, UpstreamPool } from './forward.js';

/** One refused connection, as the exec result, the audit log and the event stream show it. */
export interface EgressDenial {
  host: string;
  port: number;
  reason: DenialReason;
  message: string;
  /** ISO time of the (first) refusal. */
  at: string;
  /** How many identical refusals this stands for (grouped per exec). */
  count: number;
}

export type EgressOutcome = 'allowed' | 'denied' | 'failed';

/** Who hears of each connection (the daemon: logs, audit, events, metrics; `bkg run --rm`: nobody). */
export interface EgressObserver {
  denied?(d: EgressDenial): void;
  outcome?(o: EgressOutcome, target: { host: string; port: number }): void;
}

/** Every address of a name (the proxy's own resolution: the sandbox has no DNS). */
export type Lookup = (host: string) => Promise<LookupAddress[]>;

const defaultLookup: Lookup = (host) => new Promise((resolve, reject) => dnsLookup(host, { all: true, verbatim: true }, (err, addrs) => (err ? reject(err) : resolve(addrs))));

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A lookup for net.connect / http.request that answers with addresses already resolved and checked (tried in order: autoSelectFamily). */
function resolvedTo(addrs: LookupAddress[]) {
  return (_host: string, opts: { all?: boolean }, cb: LookupCallback): void => {
    const first = addrs[0] as LookupAddress;
    if (opts.all) cb(null, addrs);
    else cb(null, first.address, first.family);
  };
}

/** Refusals kept for the execs that ask what they ran into. */
const DENIAL_LOG = 1000;
/** How long an upstream may take to accept a connection. */
const CONNECT_TIMEOUT_MS = 30_000;
/** Connections one sandbox may hold open through its proxy at once. */
const MAX_CONNECTIONS = 512;

/**
 * How long a name's addresses are reused (the proxy's own DNS cache: dns.lookup, the host's resolver,
 * costs a thread-pool round trip per request). Cached or not, the addresses are checked on every
 * request, and what was checked is what gets connected to.
 */
const DNS_TTL_MS = 10_000;
const DNS_CACHE_SIZE = 256;

/** `host:port` of a CONNECT request (IPv6 in brackets). */
function parseAuthority(authority: string): { host: string; port: number } | null {
  const m = /^(\[[^\]]+\]|[^:[\]]+):(\d{1,5})$/.exec(authority);
  if (!m?.[1] || !m[2]) return null;
  const port = Number(m[2]);
  return port >= 1 && port <= 65535 ? { host: m[1].startsWith('[') ? m[1].slice(1, -1) : m[1], port } : null;
}

export class EgressProxy {
  private readonly http = createHttpServer({ requireHostHeader: false, keepAliveTimeout: 30_000 });
  private readonly upstreams = new UpstreamPool(CONNECT_TIMEOUT_MS);
  /** Names resolved lately, and lookups under way (concurrent requests for a name share one). */
  private readonly resolved = new Map<string, { at: number; addrs: Promise<LookupAddress[]> }>();
  private readonly sockets = new Set<Duplex>();
  /** Refusals, newest last, each with its sequence number. */
  private readonly denials: { seq: number; d: EgressDenial }[] = [];
  private seq = 0;
  private closed = false;

  constructor(
    private readonly server: Server,
    private readonly allowlist: Allowlist,
    private readonly opts: { observer?: EgressObserver; lookup?: Lookup; now?: () => Date } = {},
  ) {
    server.maxConnections = MAX_CONNECTIONS;
    server.on('connection', (s: Socket) => {
      this.track(s);
      s.setNoDelay(true);
      this.http.emit('connection', s);
    });
    server.on('error', () => {});
    this.http.on('connect', (req: IncomingMessage, client: Duplex, head: Buffer) => void this.tunnel(req, client, head));
    this.http.on('request', (req: IncomingMessage, res: ServerResponse) => void this.forward(req, res));
    this.http.on('clientError', (_err, s: Duplex) => {
      if (s.writable) s.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else s.destroy();
    });
  }

  /** Where the exec log of refusals stands now: `deniedSince` this value lists what comes after. */
  cursor(): number {
    return this.seq;
  }

  /** The refusals after `cursor`, identical ones (host, port, reason) grouped with their count. */
  deniedSince(cursor: number): EgressDenial[] {
    const grouped = new Map<string, EgressDenial>();
    for (const { seq, d } of this.denials) {
      if (seq <= cursor) continue;
      const key = `${d.host}\0${d.port}\0${d.reason}`;
      const seen = grouped.get(key);
      if (seen) seen.count += d.count;
      else grouped.set(key, { ...d });
    }
    return [...grouped.values()];
  }

  /** Stop accepting, end every connection it carries. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.sockets) s.destroy();
    this.upstreams.close();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private track(s: Duplex): void {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
    s.on('error', () => {});
  }

  private deny(host: string, port: number, reason: DenialReason, message: string): string {
    const d: EgressDenial = { host, port, reason, message, at: (this.opts.now?.() ?? new Date()).toISOString(), count: 1 };
    this.denials.push({ seq: ++this.seq, d });
    if (this.denials.length > DENIAL_LOG) this.denials.shift();
    this.opts.observer?.denied?.(d);
    this.opts.observer?.outcome?.('denied', { host, port });
    return `bkg: NETWORK_DENIED: connection to ${host.includes(':') ? `[${host}]` : host}:${port} refused: ${message}\n`;
  }

  /** Decide on host and port, then resolve a name: the address to connect to, or the refusal's text. */
  private async target(host: string, port: number): Promise<{ connect: { host: string; lookup?: ReturnType<typeof resolvedTo> } } | { refused: string } | { failed: string }> {
    const v = this.allowlist.decide(host, port);
    if (!v.allowed) return { refused: this.deny(host, port, v.reason, v.message) };
    if (isIP(host)) return { connect: { host } };
    let addrs: LookupAddress[];
    try {
      addrs = await this.resolve(host);
    } catch (err) {
      this.opts.observer?.outcome?.('failed', { host, port });
      return { failed: `bkg: cannot resolve ${host}: ${(err as NodeJS.ErrnoException).code ?? String(err)}\n` };
    }
    const admitted = addrs.filter((a) => this.allowlist.admitsAddress(v.rule, a.address, port));
    if (admitted.length === 0) {
      const shown = addrs.map((a) => a.address).join(', ') || 'no address';
      return { refused: this.deny(host, port, 'address', `${host} resolves to ${shown}: the host's own or link-local addresses, which a wildcard entry does not reach`) };
    }
    return { connect: { host, lookup: resolvedTo(admitted) } };
  }

  /** A name's addresses, from the cache while fresh (failures are not kept). */
  private resolve(host: string): Promise<LookupAddress[]> {
    const now = Date.now();
    const hit = this.resolved.get(host);
    if (hit && now - hit.at < DNS_TTL_MS) return hit.addrs;
    if (this.resolved.size >= DNS_CACHE_SIZE) this.resolved.clear();
    const addrs = (this.opts.lookup ?? defaultLookup)(host);
    this.resolved.set(host, { at: now, addrs });
    addrs.catch(() => {
      if (this.resolved.get(host)?.addrs === addrs) this.resolved.delete(host);
    });
    return addrs;
  }

  private async tunnel(req: IncomingMessage, client: Duplex, head: Buffer): Promise<void> {
    this.track(client);
    const t = parseAuthority(req.url ?? '');
    if (!t) return void client.end(reply(400, 'Bad Request', 'bkg: a CONNECT request must name host:port\n'));
    const decided = await this.target(t.host, t.port);
    if ('refused' in decided) return void client.end(reply(403, 'Forbidden', decided.refused));
    if ('failed' in decided) return void client.end(reply(502, 'Bad Gateway', decided.failed));
    const downstream = relayInto(client);
    const upstream = connect({ ...decided.connect, port: t.port, noDelay: true, autoSelectFamily: true, onread: downstream.onread });
    downstream.from(upstream);
    this.track(upstream);
    upstream.setTimeout(CONNECT_TIMEOUT_MS, () => {
      if (upstream.connecting) upstream.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' }));
    });
    upstream.once('connect', () => {
      upstream.setTimeout(0);
      this.opts.observer?.outcome?.('allowed', t);
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      client.pipe(upstream);
    });
    upstream.once('end', () => client.end());
    upstream.once('error', (err: NodeJS.ErrnoException) => {
      if (upstream.connecting || !client.writable) {
        this.opts.observer?.outcome?.('failed', t);
        if (client.writable) client.end(reply(502, 'Bad Gateway', `bkg: cannot connect to ${t.host}:${t.port}: ${err.code ?? err.message}\n`));
      }
      client.destroy();
    });
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => {
      if (!client.writableFinished) client.destroy();
    });
  }

  private async forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url?.startsWith('/') ? `http://${req.headers.host ?? ''}${req.url}` : (req.url ?? ''));
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain', connection: 'close' }).end('bkg: not a proxy request (an absolute http:// URL, or a Host header)\n');
      return;
    }
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const port = url.port ? Number(url.port) : 80;
    if (url.protocol !== 'http:') {
      res.writeHead(400, { 'content-type': 'text/plain', connection: 'close' }).end(`bkg: ${url.protocol} URLs go through CONNECT (HTTPS_PROXY), not as plain requests\n`);
      return;
    }
    const decided = await this.target(host, port);
    if ('refused' in decided) return void res.writeHead(403, { 'content-type': 'text/plain', 'x-bkg-error': 'NETWORK_DENIED', connection: 'close' }).end(decided.refused);
    if ('failed' in decided) return void res.writeHead(502, { 'content-type': 'text/plain' }).end(decided.failed);
    // what was checked is what the server is asked for: the Host header is the URL's (no Host-header fronting)
    forwardRequest(this.upstreams, { host, port, connect: decided.connect }, req, res, `${url.pathname}${url.search}`, url.host, {
      allowed: () => this.opts.observer?.outcome?.('allowed', { host, port }),
      failed: () => this.opts.observer?.outcome?.('failed', { host, port }),
    });
  }
}

/** Bytes read at once from a tunnel's upstream: one buffer per tunnel, reused for every read. */
const TUNNEL_BUFFER = 256 * 1024;

/**
 * The downstream half of a tunnel: what the upstream socket reads lands in one reused buffer
 * (net's `onread`), is written to `dest`, and the next read waits until that write is done. A
 * stream pipe allocates a fresh buffer for every read, which costs more than the copy itself.
 */
function relayInto(dest: Duplex): { onread: { buffer: () => Buffer; callback: (n: number, buf: Buffer) => boolean }; from(src: Socket): void } {
  let buffer: Buffer | null = null;
  let src: Socket | null = null;
  let waiting = false;
  return {
    onread: {
      buffer: () => (buffer ??= Buffer.allocUnsafe(TUNNEL_BUFFER)),
      callback: (n, buf) => {
        if (dest.destroyed) return false;
        dest.write(buf.subarray(0, n), () => {
          if (!waiting) return;
          waiting = false;
          src?.resume();
        });
        if (dest.writableLength === 0) return true; // written through at once: the buffer is free again
        waiting = true;
        return false;
      },
    },
    from(s) {
      src = s;
    },
  };
}

function reply(status: number, text: string, body: string): string {
  return `HTTP/1.1 ${status} ${text}\r\nContent-Type: text/plain\r\n${status === 403 ? 'X-Bkg-Error: NETWORK_DENIED\r\n' : ''}Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}
