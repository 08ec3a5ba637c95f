/** The P2P plugin's settings: off unless BKG_P2P=1; every invalid value is INVALID_CONFIG, never a default. */
import { describe, expect, it } from 'vitest';
import { loadDaemonConfig } from '../../src/daemon/config.js';
import { DEFAULT_P2P_LISTEN } from '../../src/daemon/p2p/config.js';
import { caught } from '../helpers/errors.js';

const HOME = { BKG_HOME: '/tmp/bkg-p2p-config' };

describe('P2P settings', () => {
  it('off by default; BKG_P2P=1 listens on 7421 with 1 MiB chunks', () => {
    expect(loadDaemonConfig(HOME).p2p).toBeNull();
    expect(loadDaemonConfig({ ...HOME, BKG_P2P: '0' }).p2p).toBeNull();
    expect(loadDaemonConfig({ ...HOME, BKG_P2P: '1' }).p2p).toEqual({ listen: [DEFAULT_P2P_LISTEN], chunkBytes: 1024 * 1024 });
    expect(loadDaemonConfig({ ...HOME, BKG_P2P: '1', BKG_P2P_LISTEN: '/ip4/127.0.0.1/tcp/0, /ip6/::1/tcp/7421', BKG_P2P_CHUNK_SIZE: '64k' }).p2p).toEqual({
      listen: ['/ip4/127.0.0.1/tcp/0', '/ip6/::1/tcp/7421'], chunkBytes: 64 * 1024,
    });
  });

  for (const [env, setting] of [
    [{ BKG_P2P: 'yes' }, 'BKG_P2P'],
    [{ BKG_P2P_LISTEN: '/ip4/127.0.0.1/tcp/0' }, 'BKG_P2P_LISTEN'],
    [{ BKG_P2P_CHUNK_SIZE: '1m' }, 'BKG_P2P_CHUNK_SIZE'],
    [{ BKG_P2P: '1', BKG_P2P_LISTEN: '127.0.0.1:7421' }, 'BKG_P2P_LISTEN'],
    [{ BKG_P2P: '1', BKG_P2P_LISTEN: '/ip4/127.0.0.1/udp/7421/quic' }, 'BKG_P2P_LISTEN'],
    [{ BKG_P2P: '1', BKG_P2P_CHUNK_SIZE: '1k' }, 'BKG_P2P_CHUNK_SIZE'],
    [{ BKG_P2P: '1', BKG_P2P_CHUNK_SIZE: '64m' }, 'BKG_P2P_CHUNK_SIZE'],
    [{ BKG_P2P: '1', BKG_P2P_CHUNK_SIZE: 'big' }, 'BKG_P2P_CHUNK_SIZE'],
  ] as const) {
    it(`${JSON.stringify(env)} is fatal`, () => {
      const e = caught(() => loadDaemonConfig({ ...HOME, ...env }));
      expect(e.code).toBe('INVALID_CONFIG');
      expect(e.details?.setting).toBe(setting);
    });
  }
});
