/**
 * The daemon's settings, from the environment. Every setting is validated strictly: an invalid
 * value is a fatal INVALID_CONFIG naming the variable, never silently replaced by a default.
 */
import { homedir } from 'node:os';
import { isAbsolute, join, normalize } from 'node:path';
import { BkgError } from '../api/errors.js';
import { parseSize } from '../api/units.js';

export interface DaemonConfig {
  /** BKG_HOME (default ~/.bkg), absolute and normalised. */
  readonly home: string;
  /** $home/bkg.sock */
  readonly socketPath: string;
  /** BKG_PORT (default 7420); 0 disables the TCP listener. */
  readonly port: number;
  /** The TCP listener is loopback only. */
  readonly host: '127.0.0.1';
  /** $home/logs */
  readonly logDir: string;
  /** BKG_MAX_BODY (default 1 MiB): the cap on a JSON request body, in bytes. */
  readonly maxBodyBytes: number;
}

export const DEFAULT_PORT = 7420;
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
const MIN_BODY_BYTES = 1024;
const MAX_BODY_BYTES = 1024 ** 3;
/** sun_path is 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH_BYTES = 107;

function invalid(variable: string, message: string): BkgError {
  return new BkgError('INVALID_CONFIG', `${variable}: ${message}`, { details: { setting: variable } });
}

function loadHome(env: NodeJS.ProcessEnv): string {
  const raw = env.BKG_HOME;
  if (raw === undefined) return join(homedir(), '.bkg');
  if (!isAbsolute(raw)) throw invalid('BKG_HOME', `"${raw}" must be an absolute path`);
  const home = normalize(raw);
  return home.length > 1 && home.endsWith('/') ? home.slice(0, -1) : home;
}

function loadPort(env: NodeJS.ProcessEnv): number {
  const raw = env.BKG_PORT;
  if (raw === undefined) return DEFAULT_PORT;
  const port = Number(raw);
  if (!/^(0|[1-9]\d{0,4})$/.test(raw) || port > 65535) {
    throw invalid('BKG_PORT', `"${raw}" must be a TCP port between 1 and 65535, or 0 to disable TCP`);
  }
  return port;
}

function loadMaxBody(env: NodeJS.ProcessEnv): number {
  const raw = env.BKG_MAX_BODY;
  if (raw === undefined) return DEFAULT_MAX_BODY_BYTES;
  let bytes: number;
  try {
    bytes = parseSize(raw, 'BKG_MAX_BODY');
  } catch {
    throw invalid('BKG_MAX_BODY', `"${raw}" is not a size (examples: 1m, 512k, 1048576)`);
  }
  if (bytes < MIN_BODY_BYTES || bytes > MAX_BODY_BYTES) {
    throw invalid('BKG_MAX_BODY', `"${raw}" must be between 1k and 1g`);
  }
  return bytes;
}

export function loadDaemonConfig(env: NodeJS.ProcessEnv = process.env): DaemonConfig {
  const home = loadHome(env);
  const socketPath = join(home, 'bkg.sock');
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES) {
    throw invalid('BKG_HOME', `"${home}" is too long: the socket path ${socketPath} must fit in ${MAX_SOCKET_PATH_BYTES} bytes`);
  }
  return {
    home,
    socketPath,
    port: loadPort(env),
    host: '127.0.0.1',
    logDir: join(home, 'logs'),
    maxBodyBytes: loadMaxBody(env),
  };
}
