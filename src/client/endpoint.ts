/**
 * Where the daemon is: the local unix socket $BKG_HOME/bkg.sock (no key: its peer is the host admin),
 * or BKG_API_URL (unix:///path or http://host:port) with BKG_API_KEY as the bearer. Mirrors the
 * daemon's own BKG_HOME rules without importing src/daemon (the CLI must start fast).
 */
import { homedir } from 'node:os';
import { isAbsolute, join, normalize } from 'node:path';
import { BkgError } from '../api/errors.js';

export interface Endpoint {
  /** The origin requests go to; http://localhost for a unix socket. */
  readonly origin: string;
  /** Set for unix sockets. */
  readonly socketPath?: string;
  /** Sent as `Authorization: Bearer <key>` when set. */
  readonly apiKey?: string;
  /** Set only for the host's own daemon ($BKG_HOME/bkg.sock): the client may start it. */
  readonly home?: string;
  /** For messages: unix:///path or http://host:port. */
  readonly url: string;
}

/** Same character set as the daemon's bearer parser. */
const KEY_PATTERN = /^[A-Za-z0-9_.~+/=-]+$/;

function invalid(variable: string, message: string): BkgError {
  return new BkgError('INVALID_CONFIG', `${variable}: ${message}`, { details: { setting: variable } });
}

/** BKG_HOME (default ~/.bkg), absolute and normalised, as the daemon computes it. */
export function bkgHome(env: NodeJS.ProcessEnv = process.env): string {
  const raw = env.BKG_HOME;
  if (raw === undefined) return join(homedir(), '.bkg');
  if (!isAbsolute(raw)) throw invalid('BKG_HOME', `"${raw}" must be an absolute path`);
  const home = normalize(raw);
  return home.length > 1 && home.endsWith('/') ? home.slice(0, -1) : home;
}

function parseApiUrl(raw: string): Pick<Endpoint, 'origin' | 'socketPath' | 'url'> {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw invalid('BKG_API_URL', `"${raw}" is not a URL (examples: unix:///run/bkg/api.sock, http://127.0.0.1:7420)`);
  }
  if (u.protocol === 'unix:') {
    const socketPath = decodeURIComponent(u.pathname);
    if (u.host !== '' || !isAbsolute(socketPath) || socketPath === '/') throw invalid('BKG_API_URL', `"${raw}" must name an absolute socket path, as in unix:///run/bkg/api.sock`);
    return { origin: 'http://localhost', socketPath, url: `unix://${socketPath}` };
  }
  if (u.protocol === 'http:' || u.protocol === 'https:') {
    if ((u.pathname !== '/' && u.pathname !== '') || u.search || u.hash || u.username || u.password) {
      throw invalid('BKG_API_URL', `"${raw}" must be just scheme, host and port, as in http://127.0.0.1:7420`);
    }
    return { origin: u.origin, url: u.origin };
  }
  throw invalid('BKG_API_URL', `"${raw}" must start with unix://, http:// or https://`);
}

export function resolveEndpoint(env: NodeJS.ProcessEnv = process.env): Endpoint {
  const key = env.BKG_API_KEY;
  if (key !== undefined && key !== '' && !KEY_PATTERN.test(key)) throw invalid('BKG_API_KEY', 'contains characters an API key never has');
  const apiKey = key ? { apiKey: key } : {};
  const url = env.BKG_API_URL;
  if (url !== undefined && url !== '') return { ...parseApiUrl(url), ...apiKey };
  const home = bkgHome(env);
  const socketPath = join(home, 'bkg.sock');
  return { origin: 'http://localhost', socketPath, home, url: `unix://${socketPath}`, ...apiKey };
}
