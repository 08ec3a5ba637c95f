/**
 * The libp2p modules, loaded on demand: only a daemon started with P2P on pays for them (ESM,
 * ~0.5 s on a busy host), never the CLI or a daemon without P2P. The polyfill comes first.
 */
export async function loadLibp2p() {
  await import('./polyfill.js');
  const [libp2p, tcp, noise, yamux, ping, keys, peerId, multiaddr, lp, utils, xsalsa20] = await Promise.all([
    import('libp2p'),
    import('@libp2p/tcp'),
    import('@chainsafe/libp2p-noise'),
    import('@chainsafe/libp2p-yamux'),
    import('@libp2p/ping'),
    import('@libp2p/crypto/keys'),
    import('@libp2p/peer-id'),
    import('@multiformats/multiaddr'),
    import('it-length-prefixed'),
    import('@libp2p/utils'),
    import('xsalsa20'),
  ]);
  return { libp2p, tcp, noise, yamux, ping, keys, peerId, multiaddr, lp, utils, xsalsa20: xsalsa20.default };
}

export type Libp2pModules = Awaited<ReturnType<typeof loadLibp2p>>;
