/** Who is calling: the host admin on the local socket, or the holder of a bearer API key. */
import type { IncomingMessage } from 'node:http';
import { BkgError } from '../../api/errors.js';
import type { Transport } from '../http/context.js';
import type { ApiKeyStore, Principal } from './api-keys.js';
import type { RateLimiter } from './rate-limit.js';

/** A client on the 0600 unix socket runs as the daemon's own user: the host admin. */
export const HOST_ADMIN: Principal = { id: 'host', name: 'host admin', role: 'admin', namespaceId: null, sandboxId: null };

/** The subprotocol that carries a key on a WebSocket upgrade: `bkg.bearer.<key>`. */
export const WS_BEARER_PREFIX = 'bkg.bearer.';

/**
 * A browser's WebSocket cannot send an Authorization header, and a key must never ride in a URL:
 * on an upgrade without the header, the key may come as the subprotocol `bkg.bearer.<key>`, offered
 * after a plain one (`bkg`) that the server picks and echoes (ws picks the first), so the key is
 * never sent back. It is then checked exactly like a bearer header.
 */
function subprotocolKey(req: IncomingMessage): string | null {
  const offered = req.headers['sec-websocket-protocol'];
  if (offered === undefined || req.headers.upgrade?.toLowerCase() !== 'websocket') return null;
  const keys = offered.split(',').map((p) => p.trim()).filter((p) => p.startsWith(WS_BEARER_PREFIX));
  if (keys.length === 0) return null;
  const key = keys[0]?.slice(WS_BEARER_PREFIX.length) ?? '';
  if (keys.length > 1 || !/^[A-Za-z0-9_.~+/=-]+$/.test(key)) throw new BkgError('UNAUTHENTICATED', `the ${WS_BEARER_PREFIX}<api key> subprotocol must carry one API key`);
  return key;
}

/**
 * The subprotocol a WebSocket door answers with (ws's handleProtocols): the first offered that
 * carries no key, or none — never a `bkg.bearer.<key>`, whatever order the client offered them in.
 */
export function answerSubprotocol(offered: Set<string>): string | false {
  for (const p of offered) if (!p.startsWith(WS_BEARER_PREFIX)) return p;
  return false;
}

export function bearer(req: IncomingMessage): string | null {
  const h = req.headers.authorization;
  if (h === undefined) return subprotocolKey(req);
  const m = /^Bearer ([A-Za-z0-9_.~+/=-]+)$/.exec(h);
  if (!m?.[1]) throw new BkgError('UNAUTHENTICATED', 'the Authorization header must be "Bearer <api key>"');
  return m[1];
}

/** A fleet host's view of its own sync: keys made elsewhere are refused while it is stale. */
export interface SyncGate {
  readonly selfId: string;
  stale(): boolean;
}

export function createAuthenticator(keys: ApiKeyStore, limiter: RateLimiter, opts: { trustUnix: boolean; sync?: SyncGate }) {
  return (req: IncomingMessage, transport: Transport): Principal => {
    const secret = bearer(req);
    if (secret === null) {
      if (transport === 'unix' && opts.trustUnix) return HOST_ADMIN;
      throw new BkgError('UNAUTHENTICATED', 'an API key is required');
    }
    const principal = keys.authenticate(secret);
    if (!principal) throw new BkgError('UNAUTHENTICATED', 'unknown or revoked API key');
    // fail closed: a revocation made elsewhere may not have reached a host that lost the fleet
    if (opts.sync && principal.originHost !== opts.sync.selfId && opts.sync.stale()) {
      throw new BkgError('SYNC_STALE', `this host has not synced with the fleet within its staleness bound, so it refuses keys made on other hosts (this key was made on ${principal.originHost})`, {
        details: { key_host: principal.originHost },
      });
    }
    const taken = limiter.take(principal.id, principal.role);
    if (!taken.ok) {
      throw new BkgError('RATE_LIMITED', `rate limit of the ${principal.role} role exceeded`, { details: { retry_after_s: taken.retryAfterSeconds } });
    }
    return principal;
  };
}
