/** The progress reporter's output, as written: terminal frames, plain lines, JSON events, unknown totals. */
import { describe, expect, it } from 'vitest';
import { createProgress, formatEta, progressMode, type ProgressOptions, type ProgressStream } from '../../src/cli/progress.js';

const MIB = 1024 * 1024;

/** A stream that records what is written to it (the renderer's only output). */
function sink(opts: { isTTY?: boolean; columns?: number } = {}): ProgressStream & { chunks: string[]; text(): string } {
  const chunks: string[] = [];
  return { ...opts, chunks, write: (c: string) => chunks.push(c), text: () => chunks.join('') };
}

/** A reporter over recording streams and a clock the test moves. */
function harness(o: { tty?: boolean; columns?: number; json?: boolean; env?: NodeJS.ProcessEnv; label?: string } = {}) {
  const err = sink({ isTTY: o.tty ?? false, columns: o.columns ?? 100 });
  const out = sink();
  const clock = { t: 1_000_000 };
  const options: ProgressOptions = { stderr: err, stdout: out, env: o.env ?? {}, now: () => clock.t, json: o.json ?? false, ...(o.label ? { label: o.label } : {}) };
  const p = createProgress(options);
  const at = (ms: number, phase: string, done: number, total: number | null) => {
    clock.t = 1_000_000 + ms;
    p.update({ phase, done, total });
  };
  return { p, err, out, at };
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;

describe('progress on a terminal', () => {
  it('redraws one line in place with a bar, percent, bytes, rate and ETA, and clears it at the end', () => {
    const { p, err, out, at } = harness({ tty: true, env: { NO_COLOR: '1' }, label: 'model.gguf' });
    expect(p.mode).toBe('tty');
    at(0, 'downloading', 0, 10 * MIB);
    at(50, 'downloading', MIB / 10, 10 * MIB); // within 100 ms of the last frame: not redrawn
    at(1000, 'downloading', 2 * MIB, 10 * MIB);
    at(2000, 'downloading', 4 * MIB, 10 * MIB);
    expect(err.chunks).toHaveLength(3);
    for (const frame of err.chunks) {
      expect(frame.startsWith('\r\x1b[2K')).toBe(true); // back to column 0 and erase: no leftovers of a longer line
      expect(frame).not.toContain('\n');
      expect(frame.slice(4).length).toBeLessThan(100);
    }
    const last = err.chunks[2] as string;
    expect(last).toMatch(/downloading model\.gguf {2}\[#+\.+\] {3}40% {2}4 MiB \/ 10 MiB {2}2 MiB\/s {2}ETA 3s$/);
    const bar = (/\[([#.]+)\]/.exec(last) as RegExpExecArray)[1] as string;
    expect(bar.replace(/\./g, '').length).toBe(Math.round(0.4 * bar.length)); // 40 % of the bar filled
    expect(err.text().replaceAll('\r\x1b[2K', '')).not.toMatch(ANSI); // NO_COLOR: no colours
    at(2100, 'verifying', 10 * MIB, 10 * MIB); // a new phase is drawn at once
    expect(err.chunks[3]).toMatch(/verifying model\.gguf .*100% {2}10 MiB \/ 10 MiB$/);
    at(3000, 'done', 10 * MIB, 10 * MIB);
    expect(err.chunks.at(-1)).toBe('\r\x1b[2K'); // the line is gone; the command's result follows on a clean line
    p.end();
    p.end();
    expect(err.chunks.at(-2)).not.toBe('\r\x1b[2K'); // cleared once
    expect(out.chunks).toEqual([]); // stdout carries only results
  });

  it('colours the bar unless NO_COLOR is set, uses block characters in a UTF-8 locale, and fits narrow terminals', () => {
    const coloured = harness({ tty: true, env: { LANG: 'en_US.UTF-8' } });
    coloured.at(0, 'downloading', 0, 100);
    coloured.at(1000, 'downloading', 50, 100);
    expect(coloured.err.chunks[1]).toContain('\x1b[36m█');
    expect(coloured.err.chunks[1]).toContain('░');
    expect(coloured.err.chunks[1]?.replace(ANSI, '')).toMatch(/^\r⠙ downloading {2}\[█+░+\] {3}50% {2}50 B \/ 100 B {2}50 B\/s {2}ETA 1s$/);

    const narrow = harness({ tty: true, columns: 40, env: { NO_COLOR: '1' }, label: 'a-rather-long-model-name.gguf' });
    narrow.at(0, 'downloading', 0, 100 * MIB);
    narrow.at(1000, 'downloading', 30 * MIB, 100 * MIB);
    const frame = (narrow.err.chunks[1] as string).slice('\r\x1b[2K'.length);
    expect(frame.length).toBeLessThanOrEqual(39); // never the last column
    expect(frame).toContain('30%'); // the numbers stay; label, ETA and rate go first
    expect(frame).toContain('30 MiB / 100 MiB');
  });

  it('shows a spinner with bytes and rate when the total is unknown', () => {
    const { err, at } = harness({ tty: true, env: { NO_COLOR: '1' } });
    at(0, 'downloading', 0, null);
    at(1000, 'downloading', 3 * MIB, null);
    at(2000, 'downloading', 6 * MIB, null);
    const frames = err.chunks.map((c) => c.slice('\r\x1b[2K'.length));
    expect(frames).toEqual(['| downloading  0 B', '/ downloading  3 MiB  3 MiB/s', '- downloading  6 MiB  3 MiB/s']);
  });
});

describe('progress in a log (stderr not a terminal)', () => {
  it('prints plain lines at each tenth, each new phase and the end', () => {
    const { p, err, out, at } = harness({ label: 'model.gguf' });
    expect(p.mode).toBe('lines');
    for (let i = 0; i <= 40; i++) at(i * 100, 'downloading', Math.floor((i / 40) * 20 * MIB), 20 * MIB); // 0..100 % in 4 s
    at(4100, 'verifying', 20 * MIB, 20 * MIB);
    at(5000, 'done', 20 * MIB, 20 * MIB);
    p.end();
    const lines = err.text().split('\n');
    expect(lines.pop()).toBe(''); // every line ends
    expect(lines[0]).toBe('bkg: downloading model.gguf: 0 B of 20 MiB (0%)');
    expect(lines[1]).toBe('bkg: downloading model.gguf: 2 MiB of 20 MiB (10%), 5 MiB/s, ETA 4s');
    expect(lines.filter((l) => l.startsWith('bkg: downloading'))).toHaveLength(11); // 0 %, 10 %, ..., 100 %
    expect(lines.slice(-2)).toEqual(['bkg: verifying model.gguf: 20 MiB of 20 MiB (100%)', 'bkg: done model.gguf: 20 MiB in 5.0s, 4 MiB/s']);
    expect(err.text()).not.toContain('\r');
    expect(err.text()).not.toContain('\x1b');
    expect(out.chunks).toEqual([]);
  });

  it('without a total, prints a line every 5 s with bytes and rate', () => {
    const { err, at } = harness();
    for (let s = 0; s <= 12; s++) at(s * 1000, 'downloading', s * MIB, null);
    at(12_500, 'failed', 12 * MIB, null);
    expect(err.text().split('\n').filter(Boolean)).toEqual([
      'bkg: downloading: 0 B',
      'bkg: downloading: 5 MiB, 1 MiB/s',
      'bkg: downloading: 10 MiB, 1 MiB/s',
      'bkg: failed after 12 MiB',
    ]);
  });

  it('is what a dumb terminal gets too', () => {
    expect(progressMode({ stderr: { isTTY: true, write: () => true }, env: { TERM: 'dumb' } })).toBe('lines');
    expect(progressMode({ stderr: { isTTY: true, write: () => true }, env: {} })).toBe('tty');
    expect(progressMode({ json: true, stderr: { isTTY: true, write: () => true }, env: {} })).toBe('json');
  });
});

describe('progress with --json', () => {
  it('writes one JSON event per line on stdout, nothing on stderr', () => {
    const { p, err, out, at } = harness({ json: true, tty: true });
    expect(p.mode).toBe('json');
    at(0, 'downloading', 0, 8 * MIB);
    at(1000, 'downloading', 2 * MIB, 8 * MIB);
    at(1050, 'downloading', 2 * MIB, 8 * MIB); // nothing new: no event
    at(2000, 'downloading', 4 * MIB, 8 * MIB);
    at(2500, 'verifying', 8 * MIB, 8 * MIB);
    at(3000, 'done', 8 * MIB, 8 * MIB);
    p.end();
    expect(err.chunks).toEqual([]);
    expect(out.chunks.every((c) => c.endsWith('\n') && c.indexOf('\n') === c.length - 1)).toBe(true);
    expect(out.chunks.map((c) => JSON.parse(c))).toEqual([
      { type: 'progress', phase: 'downloading', bytes_done: 0, bytes_total: 8 * MIB, rate_bps: null, eta_s: null },
      { type: 'progress', phase: 'downloading', bytes_done: 2 * MIB, bytes_total: 8 * MIB, rate_bps: 2 * MIB, eta_s: 3 },
      { type: 'progress', phase: 'downloading', bytes_done: 4 * MIB, bytes_total: 8 * MIB, rate_bps: 2 * MIB, eta_s: 2 },
      { type: 'progress', phase: 'verifying', bytes_done: 8 * MIB, bytes_total: 8 * MIB, rate_bps: null, eta_s: null },
      { type: 'progress', phase: 'done', bytes_done: 8 * MIB, bytes_total: 8 * MIB, rate_bps: null, eta_s: 0 },
    ]);
  });

  it('reports unknown totals as null, with the rate', () => {
    const { out, at } = harness({ json: true });
    at(0, 'downloading', 0, null);
    at(1000, 'downloading', MIB, null);
    expect(JSON.parse(out.chunks[1] as string)).toEqual({ type: 'progress', phase: 'downloading', bytes_done: MIB, bytes_total: null, rate_bps: MIB, eta_s: null });
  });
});

describe('durations', () => {
  it('reads as seconds, minutes and hours', () => {
    expect([formatEta(0), formatEta(45.2), formatEta(185), formatEta(3720)]).toEqual(['0s', '45s', '3m05s', '1h02m']);
  });
});
