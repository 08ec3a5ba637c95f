/** Small renderings of the dashboard's cells, pure (no ink): sizes, percentages, bars, sparklines, spans of time. */

/** 1536 → "1.5K", 268435456 → "256M": at most 3 digits and the unit (binary multiples; 1000M shows as 1G). */
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '-';
  const units = ['B', 'K', 'M', 'G', 'T'];
  let v = n;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  const text = u === 0 || v >= 100 ? String(Math.round(v)) : v >= 10 ? v.toFixed(0) : v.toFixed(1).replace(/\.0$/, '');
  return `${text}${units[u] as string}`;
}

/** CPU percent of one core: "0.4", "12", "230"; "-" when unknown. */
export function percent(p: number | null | undefined): string {
  if (p === null || p === undefined || !Number.isFinite(p)) return '-';
  return p < 10 ? p.toFixed(1) : String(Math.round(p));
}

/** A bar of `width` cells filled to `fraction` (0..1): "####----" (plain ASCII: any terminal, any font). */
export function bar(fraction: number | null, width: number): string {
  if (width <= 0) return '';
  if (fraction === null || !Number.isFinite(fraction)) return ' '.repeat(width);
  const f = Math.min(1, Math.max(0, fraction));
  const full = Math.round(f * width);
  return '#'.repeat(full) + '-'.repeat(width - full);
}

const SPARKS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/** The last `width` values as a sparkline, scaled to `max` (default: the largest value). */
export function sparkline(values: readonly number[], width: number, max?: number): string {
  const shown = values.slice(-width);
  const top = max ?? Math.max(0, ...shown);
  const line = shown.map((v) => (top <= 0 ? SPARKS[0] : SPARKS[Math.min(SPARKS.length - 1, Math.max(0, Math.round((v / top) * (SPARKS.length - 1))))]) as string).join('');
  return line.padStart(width, ' ');
}

/** A span of milliseconds in its largest unit: "42s", "5m", "3h", "2d". */
export function span(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** How long since `iso` ("-" when unset). */
export function since(iso: string | null | undefined, now: number): string {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isNaN(t) ? '-' : span(now - t);
}

/** How long until `iso` ("-" when unset, "now" when past). */
export function left(iso: string | null | undefined, now: number): string {
  const t = iso ? Date.parse(iso) : NaN;
  if (Number.isNaN(t)) return '-';
  return t <= now ? 'now' : span(t - now);
}

/** A duration of a command: "850ms", "2.4s", "3m". */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  return span(ms);
}

/** `text` cut to `width` cells ("…" at the end when cut) and padded to exactly `width`. */
export function fit(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  if (width <= 0) return '';
  const cut = text.length > width ? `${text.slice(0, Math.max(0, width - 1))}…` : text;
  return align === 'right' ? cut.padStart(width) : cut.padEnd(width);
}

/** A command line for one line of text: argv joined, words with spaces quoted. */
export function commandLine(cmd: readonly string[]): string {
  return cmd.map((w) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, "'\\''")}'`)).join(' ');
}
