/**
 * The egress proxies of an engine's running sandboxes, by sandbox id: one per sandbox with an
 * allowlisted network, from its start (or its adoption after a daemon restart) to its stop.
 */
import type { Server } from 'node:net';
import { allowRulesOf } from '../../api/egress.js';
import type { EgressProxy, EgressDenial, EgressObserver, Lookup } from './proxy.js';

/** Who hears of a sandbox's connections (the daemon: logs, audit, events, metrics). */
export type EgressObservers = (sandboxId: string) => EgressObserver | undefined;

export interface EgressOptions {
  observers?: EgressObservers;
  /** Name resolution (default: the host's, dns.lookup). */
  lookup?: Lookup;
}

/** What makes a sandbox's proxy, serving the listening socket its helper passed. */
export type EgressProxyMaker = (id: string, network: string, server: Server, opts?: EgressOptions) => EgressProxy;

/**
 * The proxy's code, loaded when a sandbox with an allowlist first needs it (a start without one
 * never does). Load it before the socket can arrive, and make the proxy in the same turn as the
 * socket comes: a connection accepted while nothing listens on the server is never answered.
 */
export async function egressProxyMaker(): Promise<EgressProxyMaker> {
  const [{ Allowlist }, { EgressProxy }] = await Promise.all([import('./allowlist.js'), import('./proxy.js')]);
  return (id, network, server, opts = {}) => {
    const observer = opts.observers?.(id);
    return new EgressProxy(server, new Allowlist(allowRulesOf(network)), { ...(observer ? { observer } : {}), ...(opts.lookup ? { lookup: opts.lookup } : {}) });
  };
}

export class EgressProxies {
  private readonly byId = new Map<string, EgressProxy>();

  constructor(private readonly opts: EgressOptions = {}) {}

  /** Serve a sandbox's socket; `maker` loaded beforehand (see egressProxyMaker). */
  attach(id: string, network: string, server: Server, maker: EgressProxyMaker): EgressProxy {
    const proxy = maker(id, network, server, this.opts);
    void this.close(id);
    this.byId.set(id, proxy);
    return proxy;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** Where the sandbox's log of refusals stands (null: it has no proxy). */
  cursor(id: string): number | null {
    return this.byId.get(id)?.cursor() ?? null;
  }

  deniedSince(id: string, cursor: number | null): EgressDenial[] {
    return cursor === null ? [] : (this.byId.get(id)?.deniedSince(cursor) ?? []);
  }

  async close(id: string): Promise<void> {
    const proxy = this.byId.get(id);
    this.byId.delete(id);
    await proxy?.close();
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.byId.keys()].map((id) => this.close(id)));
  }
}
