/**
 * Progress of a long CLI operation (a model download, ...), one piece of code for all of them:
 *  - on a terminal (stderr is a TTY): one line on stderr, redrawn in place, with a bar, bytes
 *    done/total, rate and ETA (a spinner, bytes and rate when the total is unknown); cleared at the end;
 *  - not on a terminal: plain lines on stderr, every 10 % or 5 s, at each new phase and at the end;
 *  - with --json: one JSON event per line on stdout ({"type":"progress","phase":...}); the command
 *    ends the stream with its result line (`jsonLine`).
 * The renderer takes its streams, environment and clock as options, so its output is testable as it is.
 */
import { formatBytes } from '../api/units.js';

export type ProgressMode = 'tty' | 'lines' | 'json';

/** What the reporter writes to: process.stderr / process.stdout, or anything that looks like them. */
export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** One observation: the phase ('downloading', 'verifying', ...; 'done' and 'failed' end it) and its bytes. */
export interface ProgressUpdate {
  phase: string;
  done: number;
  /** null when unknown (then a spinner, bytes and rate only). */
  total: number | null;
}

/** The JSON event of one update (--json). */
export interface ProgressEvent {
  type: 'progress';
  phase: string;
  bytes_done: number;
  bytes_total: number | null;
  rate_bps: number | null;
  eta_s: number | null;
}

export interface ProgressOptions {
  /** What moves, e.g. the file name: shown after the phase ("downloading stories260K.gguf"). */
  label?: string;
  /** --json: JSON events on stdout instead of human output on stderr. */
  json?: boolean;
  /** Human output (default process.stderr); a TTY gets the redrawn line. */
  stderr?: ProgressStream;
  /** JSON events (default process.stdout). */
  stdout?: ProgressStream;
  /** NO_COLOR, TERM, LANG (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Milliseconds (default Date.now). */
  now?: () => number;
}

export interface Progress {
  readonly mode: ProgressMode;
  update(u: ProgressUpdate): void;
  /** Stop drawing: a terminal line is cleared (no partial line is left behind). Idempotent. */
  end(): void;
}

/** The phases that end an operation. */
export const FINAL_PHASES: ReadonlySet<string> = new Set(['done', 'failed']);

const TTY_REDRAW_MS = 100;
const JSON_INTERVAL_MS = 100;
const LINE_INTERVAL_MS = 5000;
const RATE_WINDOW_MS = 5000;
/** A rate needs at least this much time between its samples. */
const RATE_MIN_SPAN_MS = 200;
const CLEAR_LINE = '\r\x1b[2K';

/** Which output a command's progress gets: --json, a terminal, or plain lines. */
export function progressMode(opts: Pick<ProgressOptions, 'json' | 'stderr' | 'env'> = {}): ProgressMode {
  if (opts.json) return 'json';
  const stream = opts.stderr ?? process.stderr;
  const env = opts.env ?? process.env;
  return stream.isTTY === true && env.TERM !== 'dumb' ? 'tty' : 'lines';
}

/** One compact JSON value on its own line (--json streams: progress events, then the result). */
export function jsonLine(value: unknown, out: ProgressStream = process.stdout): void {
  out.write(`${JSON.stringify(value)}\n`);
}

/** "45s", "3m05s", "1h02m". */
export function formatEta(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** "1.2 MiB/s". */
export function formatRate(bps: number): string {
  return `${formatBytes(Math.round(bps))}/s`;
}

/** Bytes per second over the last few seconds of one phase. */
class RateMeter {
  private samples: { t: number; done: number }[] = [];

  reset(): void {
    this.samples = [];
  }

  add(t: number, done: number): void {
    const last = this.samples[this.samples.length - 1];
    if (last && done < last.done) this.samples = []; // restarted (a retry from zero): measure afresh
    this.samples.push({ t, done });
    while (this.samples.length > 2 && t - (this.samples[1] as { t: number }).t >= RATE_WINDOW_MS) this.samples.shift();
  }

  rate(): number | null {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || !last || last.t - first.t < RATE_MIN_SPAN_MS) return null;
    return ((last.done - first.done) * 1000) / (last.t - first.t);
  }
}

interface Snapshot extends ProgressUpdate {
  rate: number | null;
  eta: number | null;
  /** Since the first update, ms. */
  elapsed: number;
}

function unicodeOk(env: NodeJS.ProcessEnv): boolean {
  return /utf-?8/i.test(env.LC_ALL || env.LC_CTYPE || env.LANG || '');
}

/** The terminal line: phase, label, bar (or spinner), percent, bytes, rate, ETA; fitted to `columns`. */
export function renderTtyLine(s: Snapshot, o: { label?: string; columns: number; color: boolean; unicode: boolean; frame: number }): string {
  const spinFrames = o.unicode ? ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'] : ['|', '/', '-', '\\'];
  const spin = spinFrames[o.frame % spinFrames.length] as string;
  const head = o.label ? `${s.phase} ${o.label}` : s.phase;
  const known = s.total !== null && s.total > 0;
  const pct = known ? Math.min(100, Math.floor((s.done / (s.total as number)) * 100)) : null;
  const bytes = known ? `${formatBytes(s.done)} / ${formatBytes(s.total as number)}` : formatBytes(s.done);
  const rate = s.rate !== null && s.rate > 0 && !FINAL_PHASES.has(s.phase) ? formatRate(s.rate) : null;
  const eta = known && s.eta !== null ? `ETA ${formatEta(s.eta)}` : null;
  const max = Math.max(10, o.columns - 1); // never the last column: some terminals wrap there
  const compose = (withHead: boolean, withRate: boolean, withEta: boolean, barWidth: number): { plain: string; bar: [number, number] | null } => {
    const parts: string[] = [withHead ? `${spin} ${head}` : spin];
    let bar: [number, number] | null = null;
    if (pct !== null && barWidth > 0) {
      const filled = Math.round((pct / 100) * barWidth);
      bar = [filled, barWidth - filled];
      parts.push(`[${'\0'.repeat(barWidth)}]`);
    }
    if (pct !== null) parts.push(`${String(pct).padStart(3)}%`);
    parts.push(bytes);
    if (withRate && rate) parts.push(rate);
    if (withEta && eta) parts.push(eta);
    return { plain: parts.join('  '), bar };
  };
  // drop the least useful parts until it fits, then give the bar what room is left (at most 30)
  let line = compose(false, false, false, 0);
  for (const [h, r, e] of [[true, true, true], [true, true, false], [true, false, false]] as const) {
    const bare = compose(h, r, e, 0);
    if (bare.plain.length > max) continue;
    const room = max - bare.plain.length - 4; // the bar adds "[" + "]" and one "  " between parts
    line = pct !== null && room >= 10 ? compose(h, r, e, Math.min(30, room)) : bare;
    break;
  }
  let text = line.plain.length > max ? line.plain.slice(0, max) : line.plain;
  if (line.bar) {
    const [filled, empty] = line.bar;
    const on = o.unicode ? '█' : '#';
    const off = o.unicode ? '░' : '.';
    const drawn = o.color ? `\x1b[36m${on.repeat(filled)}\x1b[2m${off.repeat(empty)}\x1b[22;39m` : `${on.repeat(filled)}${off.repeat(empty)}`;
    text = text.replace('\0'.repeat(filled + empty), drawn);
  }
  return text;
}

/** One plain line (logs, CI): "bkg: downloading x.gguf: 4.7 MiB of 11.7 MiB (40%), 1.2 MiB/s, ETA 6s". */
export function renderPlainLine(s: Snapshot, label?: string): string {
  const what = `bkg: ${s.phase}${label ? ` ${label}` : ''}`;
  const known = s.total !== null && s.total > 0;
  if (s.phase === 'done') {
    const secs = s.elapsed / 1000;
    const avg = secs >= RATE_MIN_SPAN_MS / 1000 ? `, ${formatRate(s.done / secs)}` : '';
    return `${what}: ${formatBytes(s.done)} in ${secs < 10 ? secs.toFixed(1) : Math.round(secs)}s${avg}`;
  }
  if (s.phase === 'failed') return `${what} after ${formatBytes(s.done)}${known ? ` of ${formatBytes(s.total as number)}` : ''}`;
  const parts = [known ? `${formatBytes(s.done)} of ${formatBytes(s.total as number)} (${Math.min(100, Math.floor((s.done / (s.total as number)) * 100))}%)` : formatBytes(s.done)];
  if (s.rate !== null && s.rate > 0) parts.push(formatRate(s.rate));
  if (known && s.eta !== null) parts.push(`ETA ${formatEta(s.eta)}`);
  return `${what}: ${parts.join(', ')}`;
}

/** The reporter for one operation; see the file's comment for what each mode writes. */
export function createProgress(opts: ProgressOptions = {}): Progress {
  const mode = progressMode(opts);
  const err = opts.stderr ?? process.stderr;
  const out = opts.stdout ?? process.stdout;
  const env = opts.env ?? process.env;
  const now = opts.now ?? Date.now;
  const color = !env.NO_COLOR && env.TERM !== 'dumb';
  const unicode = unicodeOk(env);
  const meter = new RateMeter();
  let started: number | null = null;
  let phase: string | null = null;
  let lastOut = -Infinity;
  let lastDone = -1;
  let lastDecile = -1;
  let frame = 0;
  let drawn = false;
  let ended = false;

  const snapshot = (u: ProgressUpdate, t: number): Snapshot => {
    const rate = meter.rate();
    const eta = u.total !== null && u.total > 0 && rate !== null && rate > 0 ? Math.max(0, Math.ceil((u.total - u.done) / rate)) : null;
    return { ...u, rate, eta, elapsed: t - (started ?? t) };
  };

  const end = (): void => {
    if (ended) return;
    ended = true;
    if (mode === 'tty' && drawn) err.write(CLEAR_LINE);
  };

  return {
    mode,
    end,
    update(u: ProgressUpdate): void {
      if (ended) return;
      const t = now();
      started ??= t;
      const newPhase = u.phase !== phase;
      if (newPhase) {
        meter.reset();
        lastDecile = -1;
      }
      phase = u.phase;
      meter.add(t, u.done);
      const final = FINAL_PHASES.has(u.phase);
      const s = snapshot(u, t);
      if (mode === 'json') {
        if (!newPhase && !final && (u.done === lastDone || t - lastOut < JSON_INTERVAL_MS)) return;
        const ev: ProgressEvent = {
          type: 'progress',
          phase: u.phase,
          bytes_done: u.done,
          bytes_total: u.total,
          rate_bps: s.rate === null || final ? null : Math.round(s.rate),
          eta_s: final ? (u.phase === 'done' ? 0 : null) : s.eta,
        };
        jsonLine(ev, out);
      } else if (mode === 'lines') {
        const decile = u.total !== null && u.total > 0 ? Math.floor((u.done / u.total) * 10) : -1;
        if (!newPhase && !final && decile <= lastDecile && t - lastOut < LINE_INTERVAL_MS) return;
        lastDecile = Math.max(lastDecile, decile);
        err.write(`${renderPlainLine(s, opts.label)}\n`);
      } else {
        if (final) {
          end();
          return;
        }
        if (!newPhase && t - lastOut < TTY_REDRAW_MS) return;
        err.write(`${CLEAR_LINE}${renderTtyLine(s, { ...(opts.label ? { label: opts.label } : {}), columns: err.columns ?? 80, color, unicode, frame: frame++ })}`);
        drawn = true;
      }
      lastOut = t;
      lastDone = u.done;
    },
  };
}
