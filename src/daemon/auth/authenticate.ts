/** Who is calling: the host admin on the local socket, or the holder of a bearer API key. */
import type { IncomingMessage } from 'node:http';
import { BkgError } from '../../api/errors.js';
import type { Transport } from '../http/context.js';
import type { ApiKeyStore, Principal } from './api-keys.js';
import type { RateLimiter } from './rate-limit.js';

/** A client on the 0600 unix socket runs as the daemon's own user: the host admin. */
export const HOST_ADMIN: Principal = { id: 'host', name: 'host admin', role: 'admin', namespaceId: null, sandboxId: null };

export function bearer(req: IncomingMessage): string | null {
  const h = req.headers.authorization;
  if (h === undefined) return null;
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
