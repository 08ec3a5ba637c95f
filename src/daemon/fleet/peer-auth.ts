/**
 * Who a request on the peer listener acts as. TLS has already required a client certificate the
 * fleet CA signed (the forwarding host); the caller comes in x-bkg-forwarded-principal and its
 * rights are derived again here, never taken from the header: an API key is re-loaded by id from
 * this host's copy of the keys (unknown or revoked: 401), and the other host's admin (the local
 * socket there) is `host:<id>`, an admin. Rights only narrow.
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { BkgError } from '../../api/errors.js';
import type { ApiKeyStore, Principal } from '../auth/api-keys.js';
import { HOST_ADMIN } from '../auth/authenticate.js';
import type { RateLimiter } from '../auth/rate-limit.js';
import type { Transport } from '../http/context.js';
import type { FleetDirectory } from './directory.js';
import { decodeForwarded, FORWARDED_PRINCIPAL_HEADER } from './forwarded-principal.js';

export interface PeerAuthDeps {
  keys: Pick<ApiKeyStore, 'principal'>;
  limiter: Pick<RateLimiter, 'take'>;
  directory: FleetDirectory;
}

export type PeerAuthenticator = (req: IncomingMessage, transport: Transport) => Promise<Principal>;

export function createPeerAuthenticator(d: PeerAuthDeps): PeerAuthenticator {
  return async (req, transport) => {
    const tls = req.socket as Partial<TLSSocket>;
    if (transport !== 'peer' || tls.authorized !== true) throw new BkgError('UNAUTHENTICATED', 'the peer listener takes only mutual-TLS connections with a certificate the fleet CA signed');
    const fw = decodeForwarded(req.headers[FORWARDED_PRINCIPAL_HEADER]);
    if (fw.host === d.directory.selfId) throw new BkgError('UNAUTHENTICATED', 'a host does not forward requests to itself');
    if (fw.id === HOST_ADMIN.id) {
      const name = (await d.directory.host(fw.host))?.name ?? fw.host;
      return { id: `host:${fw.host}`, name: `host admin of ${name}`, role: 'admin', namespaceId: null, sandboxId: null, via: fw.host };
    }
    const p = d.keys.principal(fw.id);
    if (!p) throw new BkgError('UNAUTHENTICATED', `unknown or revoked API key ${fw.id} (as this host's copy of the keys has it)`, { details: { key: fw.id, via: fw.host } });
    const taken = d.limiter.take(p.id, p.role);
    if (!taken.ok) throw new BkgError('RATE_LIMITED', `rate limit of the ${p.role} role exceeded`, { details: { retry_after_s: taken.retryAfterSeconds } });
    return { ...p, via: fw.host };
  };
}
