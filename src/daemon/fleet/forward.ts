/**
 * Forwarding to the host of the fleet that runs a sandbox: over mutual TLS (this host's
 * certificate as the client's, the fleet CA the only trust, the peer's name checked against its
 * certificate), the caller in x-bkg-forwarded-principal, through the daemon client's typed
 * requests. The other host's answers and errors come back as it gave them (same code and status);
 * a host that is unknown, has no peer listener, sent no recent heartbeat, or does not answer is
 * HOST_UNAVAILABLE naming it.
 */
import { Agent, type AgentOptions, type RequestOptions } from 'node:https';
import type { Duplex } from 'node:stream';
import WebSocket from 'ws';
import { BkgError } from '../../api/errors.js';
import { DaemonClient } from '../../client/daemon-client.js';
import type { Principal } from '../auth/api-keys.js';
import type { FleetDirectory, PeerHost } from './directory.js';
import { encodeForwarded, FORWARDED_PRINCIPAL_HEADER } from './forwarded-principal.js';

export interface PeerTls {
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
}

export interface PeerTarget {
  host: PeerHost;
  /** The origin of its peer listener, https://ADDRESS:PORT. */
  origin: string;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

/** A keep-alive agent with this host's certificate that gives up on a peer that does not complete the TLS handshake in time. */
class PeerAgent extends Agent {
  constructor(opts: AgentOptions, private readonly connectTimeoutMs: number) {
    super(opts);
  }

  override createConnection(options: RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    const socket = super.createConnection(options, callback);
    if (socket) {
      const timer = setTimeout(() => socket.destroy(Object.assign(new Error(`no TLS connection within ${this.connectTimeoutMs} ms`), { code: 'ETIMEDOUT' })), this.connectTimeoutMs);
      const done = (): void => clearTimeout(timer);
      socket.once('secureConnect', done).once('close', done).once('error', done);
    }
    return socket;
  }
}

export function hostUnavailable(id: string, name: string, why: string, cause?: unknown): BkgError {
  return new BkgError('HOST_UNAVAILABLE', `host "${name}" (${id}) ${why}`, { details: { host: id }, ...(cause === undefined ? {} : { cause }) });
}

export class Forwarder {
  /** One agent per peer origin (keep-alive connections), destroyed on close. */
  private readonly agents = new Map<string, Agent>();

  constructor(private readonly d: { directory: FleetDirectory; tls: PeerTls | null; connectTimeoutMs?: number }) {}

  get selfId(): string {
    return this.d.directory.selfId;
  }

  private get connectTimeoutMs(): number {
    return this.d.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  }

  /** Where host `id` takes forwarded requests; HOST_UNAVAILABLE when it cannot take them now. */
  async target(id: string): Promise<PeerTarget> {
    const host = await this.d.directory.host(id);
    if (!host) throw hostUnavailable(id, id, 'is not in the fleet\'s host registry');
    if (!this.d.tls) throw hostUnavailable(id, host.name, 'cannot be reached from this host: it has no peer TLS certificate (BKG_PEER_PORT, BKG_TLS_CERT, BKG_TLS_KEY, BKG_TLS_CA)');
    if (!host.peerUrl) throw hostUnavailable(id, host.name, 'takes no forwarded requests (it has no peer listener)');
    if (!host.alive) throw hostUnavailable(id, host.name, 'has sent no heartbeat recently');
    let origin: string;
    try {
      const u = new URL(host.peerUrl);
      if (u.protocol !== 'https:') throw new Error(`${u.protocol} is not https:`);
      origin = u.origin;
    } catch (err) {
      throw hostUnavailable(id, host.name, `has an unusable peer URL "${host.peerUrl}" (hosts talk over https only)`, err);
    }
    return { host, origin };
  }

  /** One request to the host, as the caller `p`, through a daemon client of its peer listener. */
  async call<T>(hostId: string, p: Principal, fn: (client: DaemonClient) => Promise<T>): Promise<T> {
    const t = await this.target(hostId);
    const client = new DaemonClient({
      endpoint: { origin: t.origin, url: t.origin },
      autoStart: false,
      agent: this.agent(t.origin),
      headers: this.principalHeader(p),
    });
    try {
      return await fn(client);
    } catch (err) {
      throw this.unreached(t, err);
    } finally {
      await client.close();
    }
  }

  /** The exec WebSocket of the sandbox on its host, as the caller `p` (not yet open). */
  async openStream(hostId: string, p: Principal, sandboxId: string): Promise<{ ws: WebSocket; target: PeerTarget }> {
    const t = await this.target(hostId);
    const tls = this.d.tls as PeerTls;
    const url = `${t.origin.replace(/^https:/, 'wss:')}/api/v1/sandboxes/${encodeURIComponent(sandboxId)}/exec/ws`;
    const ws = new WebSocket(url, {
      cert: tls.cert, key: tls.key, ca: tls.ca, minVersion: 'TLSv1.2',
      headers: this.principalHeader(p),
      handshakeTimeout: this.connectTimeoutMs,
      perMessageDeflate: false,
    });
    return { ws, target: t };
  }

  /** A transport failure (the other host's own errors pass through unchanged) as HOST_UNAVAILABLE. */
  unreached(t: PeerTarget, err: unknown): unknown {
    if (err instanceof BkgError && err.code !== 'DAEMON_UNAVAILABLE') return err; // the client maps only what it could not send or read to DAEMON_UNAVAILABLE
    const cause = err instanceof BkgError ? err.cause : err;
    const code = (cause as { code?: unknown } | undefined)?.code;
    const why = typeof code === 'string' ? code : cause instanceof Error ? cause.message : String(cause);
    return hostUnavailable(t.host.id, t.host.name, `does not answer at ${t.origin}: ${why}`, cause);
  }

  /** The header that names the caller `p` to another host. */
  principalHeader(p: Principal): Record<string, string> {
    return { [FORWARDED_PRINCIPAL_HEADER]: encodeForwarded(p, this.selfId) };
  }

  close(): void {
    for (const a of this.agents.values()) a.destroy();
    this.agents.clear();
  }

  /** The keep-alive agent (this host's certificate) for a peer origin. */
  agent(origin: string): Agent {
    let a = this.agents.get(origin);
    if (!a) {
      const tls = this.d.tls as PeerTls;
      a = new PeerAgent({ keepAlive: true, maxSockets: 16, cert: tls.cert, key: tls.key, ca: tls.ca, minVersion: 'TLSv1.2' }, this.connectTimeoutMs);
      this.agents.set(origin, a);
    }
    return a;
  }
}
