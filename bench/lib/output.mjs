// What a bench prints: markdown sections and tables, number formats, and the final `JSON:` line.

/** n with d decimals; '–' for null, undefined and NaN. */
export const fmt = (n, d = 3) => (n === null || n === undefined || Number.isNaN(n) ? '–' : n.toFixed(d));
/** '+1.23' / '−1.23' (a real minus sign). */
export const signed = (n, d = 2) => `${n >= 0 ? '+' : '−'}${fmt(Math.abs(n), d)}`;
/** A ratio as '1.23×', or '–' when there is none. */
export const times = (r, d = 2) => (r === null || r === undefined ? '–' : `${fmt(r, d)}×`);
export const verdict = (ok, missed = 'missed') => (ok ? 'met' : missed);

/** `## title`, then a blank line. */
export function section(title) {
  console.log(`## ${title}`);
  console.log('');
}

/**
 * A markdown table, then a blank line. Cells are strings or numbers (null/undefined: empty);
 * columns are right-aligned except those in `left` (default: the first).
 */
export function table(head, rows, { left = [0] } = {}) {
  const line = (cells) => `|${cells.map((c) => (c === null || c === undefined || c === '' ? ' ' : ` ${c} `)).join('|')}|`;
  console.log(line(head));
  console.log(`|${head.map((_, i) => (left.includes(i) ? '---' : '---:')).join('|')}|`);
  for (const r of rows) if (r) console.log(line(r));
  console.log('');
}

/** Round every non-integer number in a JSON value to 3 decimals. */
export function round3(o) {
  if (Array.isArray(o)) return o.map(round3);
  if (o && typeof o === 'object') return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, round3(v)]));
  return typeof o === 'number' && !Number.isInteger(o) ? Math.round(o * 1000) / 1000 : o;
}

/** The last line of a bench: `JSON: {...}`, numbers rounded to 3 decimals. */
export function printJson(o) {
  console.log(`JSON: ${JSON.stringify(round3(o))}`);
}

/** A line, then a blank line. */
export function paragraph(text) {
  console.log(text);
  console.log('');
}

/** The stats' values under `keys`, formatted: cells(s, ['p50_ms', 'p90_ms']). */
export const cells = (stats, keys, d = 3) => keys.map((k) => fmt(stats[k], d));

/** The last non-empty line of a process's output, trimmed (for error notes). */
export const lastLine = (text) => String(text ?? '').trim().split('\n').filter(Boolean).slice(-1)[0]?.trim() ?? '';
