/** Parsers for human-friendly sizes and durations, shared by the CLI and (later) the daemon's API. */
import { BkgError } from './errors.js';

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tb: 1024 ** 4, tib: 1024 ** 4 };
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, '': 1000, m: 60_000, h: 3_600_000 };

/** "256m", "1g", "512k", "1048576" → bytes (binary units). */
export function parseSize(value: string, field: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value);
  const unit = m?.[2]?.toLowerCase() ?? '';
  const mult = SIZE_UNITS[unit];
  if (!m || mult === undefined) throw new BkgError('INVALID_ARGUMENT', `${field}: "${value}" is not a size (examples: 64m, 1g, 524288)`, { hint: 'Sizes take a binary unit: k, m, g, t (1m = 1024k; 1.5g works); a number without a unit is bytes.', details: { field } });
  const bytes = Math.floor(Number(m[1]) * mult);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new BkgError('INVALID_ARGUMENT', `${field}: "${value}" must be a positive size`);
  return bytes;
}

/** The smallest limits a sandbox can have: below them nothing runs, so they are refused up front. */
export const MIN_MEMORY_BYTES = 16 * 1024 ** 2;
export const MIN_DISK_BYTES = 1024 ** 2;

const SIZE_HINT = 'Sizes take a binary unit: k, m, g, t (1m = 1024k; 1.5g works); a number without a unit is bytes.';

/** A size limit (--memory, --disk): parsed, and at least `min` bytes. */
export function parseLimitSize(value: string, field: string, min: number): number {
  const bytes = parseSize(value, field);
  if (bytes < min) {
    const bare = /^\s*\d+\s*$/.test(value);
    throw new BkgError('INVALID_ARGUMENT', `${field}: "${value}" is ${formatBytes(bytes)}, below the minimum of ${formatBytes(min)}`, {
      hint: `${SIZE_HINT}${bare ? ` Did you mean ${value.trim()}m?` : ''}`,
      details: { field, minimum_bytes: min },
    });
  }
  return bytes;
}

export function parseMemory(value: string, field = '--memory'): number {
  return parseLimitSize(value, field, MIN_MEMORY_BYTES);
}

export function parseDisk(value: string, field = '--disk'): number {
  return parseLimitSize(value, field, MIN_DISK_BYTES);
}

/** "30s", "500ms", "2m", "1h", "10" (seconds) → milliseconds. */
export function parseDuration(value: string, field: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|)\s*$/i.exec(value);
  const mult = DURATION_UNITS[m?.[2]?.toLowerCase() ?? 'x'];
  if (!m || mult === undefined) throw new BkgError('INVALID_ARGUMENT', `${field}: "${value}" is not a duration (examples: 500ms, 30s, 2m)`, { hint: 'Durations take a unit: ms, s, m, h (1.5s works); a number without a unit is seconds.', details: { field } });
  const ms = Math.round(Number(m[1]) * mult);
  if (!Number.isSafeInteger(ms) || ms <= 0) throw new BkgError('INVALID_ARGUMENT', `${field}: "${value}" must be a positive duration`);
  return ms;
}

/** "0.5", "2" → CPUs as a fraction of one core's time. */
export function parseCpus(value: string, field: string): number {
  const n = Number(value);
  if (!/^\s*\d+(\.\d+)?\s*$/.test(value) || !(n >= 0.01) || n > 1024) {
    throw new BkgError('INVALID_ARGUMENT', `${field}: "${value}" must be a number of CPUs between 0.01 and 1024 (example: 0.5)`);
  }
  return n;
}

export function parsePositiveInt(value: string, field: string, max = 1_000_000): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < 1 || n > max) {
    throw new BkgError('INVALID_ARGUMENT', `${field}: "${value}" must be a whole number between 1 and ${max}`);
  }
  return n;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 || Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`;
}

/** A trace sampling rate as text (CAVE_OTEL_SAMPLING_RATE, `bkg daemon config set`): a plain decimal from 0.0 to 1.0, or null. */
export function parseSamplingRate(text: string): number | null {
  const n = Number(text);
  return /^(0|1|0?\.\d+|[01]\.\d+)$/.test(text) && n >= 0 && n <= 1 ? n : null;
}
