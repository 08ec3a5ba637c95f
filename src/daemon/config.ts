/**
 * The daemon's settings, from the environment. Every setting is validated strictly: an invalid
 * value is a fatal INVALID_CONFIG naming the variable, never silently replaced by a default.
 */
import { existsSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { isAbsolute, join, normalize } from 'node:path';
import { BkgError } from '../api/errors.js';
import { execSocketName } from '../runtime/definition.js';
import { parseDuration, parseSamplingRate, parseSize } from '../api/units.js';
import { loadP2pConfig, type P2pConfig } from './p2p/config.js';

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
  /** BKG_HOST_NAME (default the machine's hostname): how other hosts of a fleet name this one. */
  readonly hostName: string;
  /** Fleet sync: BKG_DATABASE_URL (postgres://...) and BKG_SYNC_MAX_STALENESS (default 60s); null: this host is on its own. */
  readonly sync: { readonly url: string; readonly maxStalenessMs: number } | null;
  /**
   * The peer listener other hosts forward requests to, over mutual TLS only: BKG_PEER_PORT with
   * BKG_TLS_CERT, BKG_TLS_KEY and BKG_TLS_CA (all four or none); BKG_PEER_ADDRESS (default
   * 127.0.0.1) is where others reach it.
   */
  readonly peer: { readonly port: number; readonly address: string; readonly cert: string; readonly key: string; readonly ca: string } | null;
  /**
   * The live event stream (GET /api/v1/events): BKG_EVENTS_BUFFER (default 10000) events kept for
   * replay after a reconnect; BKG_EVENTS_INTERVAL_MS (default 1000) between two usage samples.
   */
  readonly events: { readonly bufferSize: number; readonly intervalMs: number };
  /** BKG_LLM_GPU (default off): the GPU backend for local inference (auto, cuda, vulkan), once its binaries are installed (scripts/llama-gpu.mjs). */
  readonly llmGpu: LlmGpu;
  /** The P2P plugin: null unless BKG_P2P=1 (p2p/config.ts). */
  readonly p2p: P2pConfig | null;
  /**
   * Traces: OTEL_EXPORTER_OTLP_ENDPOINT (an http(s) URL; unset: nothing is traced or exported) and
   * CAVE_OTEL_SAMPLING_RATE (0.0 to 1.0, default 1.0; changeable at run time).
   */
  readonly otel: { readonly endpoint: string | null; readonly samplingRate: number };
}

export const LLM_GPU_VALUES = ['off', 'auto', 'cuda', 'vulkan'] as const;
export type LlmGpu = (typeof LLM_GPU_VALUES)[number];

function loadLlmGpu(env: NodeJS.ProcessEnv): LlmGpu {
  const raw = env.BKG_LLM_GPU;
  if (raw === undefined) return 'off';
  if (!(LLM_GPU_VALUES as readonly string[]).includes(raw)) throw invalid('BKG_LLM_GPU', `"${raw}" is not one of ${LLM_GPU_VALUES.join(', ')}`);
  return raw as LlmGpu;
}

function loadOtel(env: NodeJS.ProcessEnv): DaemonConfig['otel'] {
  const rate = env.CAVE_OTEL_SAMPLING_RATE;
  const samplingRate = rate === undefined ? 1 : parseSamplingRate(rate);
  if (samplingRate === null) throw invalid('CAVE_OTEL_SAMPLING_RATE', `"${rate}" must be a number from 0.0 to 1.0`);
  const raw = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (raw === undefined || raw === '') return { endpoint: null, samplingRate };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid('OTEL_EXPORTER_OTLP_ENDPOINT', `"${raw}" is not a URL (example: http://127.0.0.1:4318)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid('OTEL_EXPORTER_OTLP_ENDPOINT', `must be an http:// or https:// URL (OTLP/HTTP), not ${url.protocol}//`);
  return { endpoint: raw, samplingRate };
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

export const DEFAULT_MAX_STALENESS_MS = 60_000;

function loadSync(env: NodeJS.ProcessEnv): DaemonConfig['sync'] {
  const url = env.BKG_DATABASE_URL;
  const staleness = env.BKG_SYNC_MAX_STALENESS;
  if (url === undefined || url === '') {
    if (staleness !== undefined) throw invalid('BKG_SYNC_MAX_STALENESS', 'applies only with BKG_DATABASE_URL (--sync)');
    return null;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid('BKG_DATABASE_URL', 'is not a URL (postgres://USER:PASSWORD@HOST:PORT/DATABASE)');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') throw invalid('BKG_DATABASE_URL', `must be a postgres:// URL, not ${parsed.protocol}//`);
  let maxStalenessMs = DEFAULT_MAX_STALENESS_MS;
  if (staleness !== undefined) {
    try {
      maxStalenessMs = parseDuration(staleness, 'BKG_SYNC_MAX_STALENESS');
    } catch {
      throw invalid('BKG_SYNC_MAX_STALENESS', `"${staleness}" is not a duration (examples: 60s, 5m)`);
    }
    if (maxStalenessMs < 1000) throw invalid('BKG_SYNC_MAX_STALENESS', `"${staleness}" must be at least 1s`);
  }
  return { url, maxStalenessMs };
}

function loadPeer(env: NodeJS.ProcessEnv): DaemonConfig['peer'] {
  const names = ['BKG_PEER_PORT', 'BKG_TLS_CERT', 'BKG_TLS_KEY', 'BKG_TLS_CA'] as const;
  const given = names.filter((n) => env[n] !== undefined && env[n] !== '');
  if (given.length === 0) {
    if (env.BKG_PEER_ADDRESS) throw invalid('BKG_PEER_ADDRESS', 'applies only with BKG_PEER_PORT and the TLS files');
    return null;
  }
  const missing = names.filter((n) => !given.includes(n));
  if (missing.length) throw invalid(missing[0] as string, `is required with ${given.join(', ')}: hosts talk to each other over mutual TLS only`);
  const raw = env.BKG_PEER_PORT as string;
  const port = Number(raw);
  if (!/^[1-9]\d{0,4}$/.test(raw) || port > 65535) throw invalid('BKG_PEER_PORT', `"${raw}" must be a TCP port between 1 and 65535`);
  const file = (n: 'BKG_TLS_CERT' | 'BKG_TLS_KEY' | 'BKG_TLS_CA'): string => {
    const v = env[n] as string;
    if (!isAbsolute(v)) throw invalid(n, `"${v}" must be an absolute path`);
    if (!existsSync(v)) throw invalid(n, `${v} does not exist`);
    return v;
  };
  return { port, address: env.BKG_PEER_ADDRESS || '127.0.0.1', cert: file('BKG_TLS_CERT'), key: file('BKG_TLS_KEY'), ca: file('BKG_TLS_CA') };
}

export const DEFAULT_EVENTS_BUFFER = 10_000;
export const DEFAULT_EVENTS_INTERVAL_MS = 1000;

function wholeNumber(env: NodeJS.ProcessEnv, variable: string, fallback: number, min: number, max: number, what: string): number {
  const raw = env[variable];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d{1,9}$/.test(raw) || n < min || n > max) throw invalid(variable, `"${raw}" must be a whole number of ${what} between ${min} and ${max}`);
  return n;
}

function loadEvents(env: NodeJS.ProcessEnv): DaemonConfig['events'] {
  return {
    bufferSize: wholeNumber(env, 'BKG_EVENTS_BUFFER', DEFAULT_EVENTS_BUFFER, 1, 1_000_000, 'events'),
    intervalMs: wholeNumber(env, 'BKG_EVENTS_INTERVAL_MS', DEFAULT_EVENTS_INTERVAL_MS, 50, 60_000, 'milliseconds'),
  };
}

export function loadDaemonConfig(env: NodeJS.ProcessEnv = process.env): DaemonConfig {
  const home = loadHome(env);
  const socketPath = join(home, 'bkg.sock');
  // the longest socket bkg makes there: a sandbox's exec server, in run/
  const longest = join(home, 'run', execSocketName('x'.repeat(12)));
  if (Buffer.byteLength(longest) > MAX_SOCKET_PATH_BYTES) {
    throw invalid('BKG_HOME', `"${home}" is too long: the socket paths under it (up to ${longest.length} bytes, like ${socketPath}) must fit in ${MAX_SOCKET_PATH_BYTES} bytes`);
  }
  return {
    home,
    socketPath,
    port: loadPort(env),
    host: '127.0.0.1',
    logDir: join(home, 'logs'),
    maxBodyBytes: loadMaxBody(env),
    hostName: env.BKG_HOST_NAME || hostname(),
    sync: loadSync(env),
    peer: loadPeer(env),
    events: loadEvents(env),
    llmGpu: loadLlmGpu(env),
    p2p: loadP2pConfig(env),
    otel: loadOtel(env),
  };
}
