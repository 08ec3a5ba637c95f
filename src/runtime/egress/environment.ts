/** What a sandbox with an allowlisted network needs inside: the proxy's address where tools look for it. */
import { EGRESS_PROXY_PORT, isAllowNetwork } from '../../api/egress.js';

export const EGRESS_PROXY_URL = `http://127.0.0.1:${EGRESS_PROXY_PORT}`;

/** HTTP_PROXY and friends (both spellings: curl reads only the lower-case http_proxy), nothing for other networks. */
export function egressEnv(network: string): Record<string, string> {
  if (!isAllowNetwork(network)) return {};
  const noProxy = 'localhost,127.0.0.1,::1';
  return {
    HTTP_PROXY: EGRESS_PROXY_URL, HTTPS_PROXY: EGRESS_PROXY_URL, http_proxy: EGRESS_PROXY_URL, https_proxy: EGRESS_PROXY_URL,
    NO_PROXY: noProxy, no_proxy: noProxy,
  };
}

/** The helper's spec tokens: the listening socket the proxy serves, inside the sandbox's own network namespace. */
export function egressTokens(network: string): string[] {
  return isAllowNetwork(network) ? ['--egress-port', String(EGRESS_PROXY_PORT)] : [];
}
