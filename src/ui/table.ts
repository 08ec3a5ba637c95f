/**
 * The sandboxes table without ink: each row's cells as text, and the column widths that fit a
 * terminal width (80 columns and up; narrower shrinks the flexible columns further). The dashboard
 * draws it; `bkg dashboard --once` prints the same cells as a plain table.
 */
import { bar, bytes, fit, left, percent, since } from './format.js';
import type { SandboxRow } from './state/types.js';

export const COLUMNS = ['name', 'namespace', 'state', 'runtime', 'cpu', 'memory', 'pids', 'uptime', 'idle'] as const;
export type Column = (typeof COLUMNS)[number];

export const HEADERS: Record<Column, string> = {
  name: 'NAME', namespace: 'NAMESPACE', state: 'STATE', runtime: 'RUNTIME', cpu: 'CPU%', memory: 'MEMORY', pids: 'PIDS', uptime: 'UP', idle: 'IDLE',
};

/** Narrowest and most useful widths of each column. */
const MIN: Record<Column, number> = { name: 6, namespace: 5, state: 7, runtime: 6, cpu: 5, memory: 14, pids: 4, uptime: 4, idle: 4 };
/** Enough for the usual values and every header (80 columns give each this much). */
const COMFORT: Record<Column, number> = { name: 12, namespace: 9, state: 7, runtime: 7, cpu: 5, memory: 16, pids: 4, uptime: 4, idle: 4 };
const IDEAL: Record<Column, number> = { name: 18, namespace: 10, state: 8, runtime: 7, cpu: 6, memory: 22, pids: 5, uptime: 5, idle: 5 };
/** The "123M/256M" part of the memory column; the rest is its bar. */
export const MEMORY_TEXT = 9;
/** The selection marker ("> ") before each row. */
export const MARKER = 2;

export type Widths = Record<Column, number>;

/** Column widths for `width` terminal columns (one space between columns, the marker before them). */
export function columnWidths(width: number): Widths {
  const gaps = COLUMNS.length - 1 + MARKER;
  const w: Widths = { ...MIN };
  let spare = width - gaps - COLUMNS.reduce((n, c) => n + MIN[c], 0);
  // grow to comfortable widths, then toward the ideal ones, the most telling columns first; what is left goes to the name
  for (const target of [COMFORT, IDEAL]) {
    for (const c of ['name', 'namespace', 'runtime', 'memory', 'state', 'cpu', 'pids', 'uptime', 'idle'] as const) {
      const grow = Math.max(0, Math.min(spare, target[c] - w[c]));
      w[c] += grow;
      spare -= grow;
    }
  }
  if (spare > 0) w.name += Math.min(spare, 14);
  return w;
}

/** A running sandbox's memory use against its limit (0..1), or null. */
export function memoryFraction(r: SandboxRow): number | null {
  const u = r.usage;
  return u && u.memory_bytes !== null && u.memory_limit_bytes ? u.memory_bytes / u.memory_limit_bytes : null;
}

/** The limit of a sandbox's memory in bytes: from its usage sample, else its view. */
function memoryLimit(r: SandboxRow): number | null {
  if (r.usage?.memory_limit_bytes) return r.usage.memory_limit_bytes;
  const mb = r.view?.limits.memory_mb;
  return mb ? mb * 1024 * 1024 : null;
}

/** Each cell's text, unpadded. `memory` is "used/limit" (or the limit alone when not running). */
export function cells(r: SandboxRow, now: number): Record<Column, string> {
  const running = r.status === 'running';
  const limit = memoryLimit(r);
  return {
    name: r.name,
    namespace: r.namespace,
    state: r.status,
    runtime: r.view?.runtime ?? '-',
    cpu: running ? percent(r.usage?.cpu_percent) : '-',
    memory: running && r.usage ? `${bytes(r.usage.memory_bytes)}/${bytes(limit)}` : limit ? bytes(limit) : '-',
    pids: running && r.usage?.pids !== null && r.usage?.pids !== undefined ? String(r.usage.pids) : '-',
    uptime: running ? since(r.started_at, now) : '-',
    idle: running ? left(r.idle_expires_at, now) : '-',
  };
}

/** One cell padded to its width; the memory cell with its bar. */
export function cellText(c: Column, text: string, widths: Widths, fraction: number | null = null): string {
  const w = widths[c];
  if (c === 'memory') {
    const barWidth = Math.max(0, w - MEMORY_TEXT - 1);
    return `${barWidth > 0 ? `${bar(fraction, barWidth)} ` : ''}${fit(text, w - (barWidth > 0 ? barWidth + 1 : 0), 'right')}`;
  }
  return fit(text, w, c === 'cpu' || c === 'pids' || c === 'uptime' || c === 'idle' ? 'right' : 'left');
}

/** The header line's cells (the memory header over its bar and text). */
export function headerText(c: Column, widths: Widths, suffix = ''): string {
  return fit(HEADERS[c] + suffix, widths[c], c === 'cpu' || c === 'pids' || c === 'uptime' || c === 'idle' ? 'right' : 'left');
}
