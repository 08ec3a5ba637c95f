/** The P2P plugin's settings (README "P2P plugin"): off unless BKG_P2P=1; invalid values are INVALID_CONFIG. */
import { BkgError } from '../../api/errors.js';
import { parseSize } from '../../api/units.js';
import { DEFAULT_CHUNK_BYTES, MAX_CHUNK_BYTES, MIN_CHUNK_BYTES } from '../../p2p/chunks.js';

export interface P2pConfig {
  /** BKG_P2P_LISTEN: comma-separated TCP multiaddrs (default /ip4/0.0.0.0/tcp/7421). */
  readonly listen: readonly string[];
  /** BKG_P2P_CHUNK_SIZE (default 1m, 16k to 8m): the chunks models are replicated in. */
  readonly chunkBytes: number;
}

export const DEFAULT_P2P_LISTEN = '/ip4/0.0.0.0/tcp/7421';

function invalid(variable: string, message: string): BkgError {
  return new BkgError('INVALID_CONFIG', `${variable}: ${message}`, { details: { setting: variable } });
}

export function loadP2pConfig(env: NodeJS.ProcessEnv): P2pConfig | null {
  const on = env.BKG_P2P;
  const set = ['BKG_P2P_LISTEN', 'BKG_P2P_CHUNK_SIZE'].filter((n) => env[n] !== undefined);
  if (on === undefined || on === '' || on === '0') {
    if (set.length) throw invalid(set[0] as string, 'applies only with BKG_P2P=1 (bkg daemon start --p2p)');
    return null;
  }
  if (on !== '1') throw invalid('BKG_P2P', `"${on}" must be 1 (on) or 0 (off)`);
  const listen = (env.BKG_P2P_LISTEN ?? DEFAULT_P2P_LISTEN).split(',').map((s) => s.trim()).filter(Boolean);
  const bad = listen.find((a) => !/^\/ip[46]\/[^/]+\/tcp\/\d{1,5}$/.test(a));
  if (bad !== undefined || listen.length === 0) throw invalid('BKG_P2P_LISTEN', `"${bad ?? ''}" is not a TCP multiaddr like ${DEFAULT_P2P_LISTEN}`);
  let chunkBytes = DEFAULT_CHUNK_BYTES;
  const raw = env.BKG_P2P_CHUNK_SIZE;
  if (raw !== undefined) {
    try {
      chunkBytes = parseSize(raw, 'BKG_P2P_CHUNK_SIZE');
    } catch {
      throw invalid('BKG_P2P_CHUNK_SIZE', `"${raw}" is not a size (examples: 1m, 256k)`);
    }
    if (chunkBytes < MIN_CHUNK_BYTES || chunkBytes > MAX_CHUNK_BYTES) throw invalid('BKG_P2P_CHUNK_SIZE', `"${raw}" must be between 16k and 8m`);
  }
  return { listen, chunkBytes };
}
