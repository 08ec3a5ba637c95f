// Timing and statistics: a clock, percentiles, summaries, and the round-robin runner every bench
// uses to interleave its variants (so machine noise spreads over all of them alike).
import { spawn, spawnSync } from 'node:child_process';

export const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Population standard deviation. */
export function stddev(xs) {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length);
}

/**
 * `{ n, p50, p90, p99, mean, min, max }` of the samples; `unit` is appended to every key but n
 * (summarize(xs, '_ms') gives p50_ms, …).
 */
export function summarize(samples, unit = '') {
  const s = [...samples].sort((a, b) => a - b);
  return {
    n: s.length,
    [`p50${unit}`]: percentile(s, 50),
    [`p90${unit}`]: percentile(s, 90),
    [`p99${unit}`]: percentile(s, 99),
    [`mean${unit}`]: mean(s),
    [`min${unit}`]: s[0],
    [`max${unit}`]: s[s.length - 1],
  };
}

/** The list rotated left by k: rotate([a, b, c], 1) is [b, c, a]. */
export function rotate(list, k) {
  const i = list.length ? k % list.length : 0;
  return [...list.slice(i), ...list.slice(0, i)];
}

/**
 * Run `warmup + n` rounds; each round calls every variant's `run(round, measured)` once, in
 * `order(variants, round)` (default: as listed; called once per round). Each call is timed from
 * just before it until it settles, unless it resolves to an object with a numeric `ms`: a variant
 * that times itself (a spawnSync without its set-up, a pull until its job was seen done).
 * Measured rounds push that time to `v.samples` and the resolved value to `v.results`; warm-up
 * rounds push the value to `v.warm`. Variants with `off` set are skipped.
 *
 * @param {Array<{run: (round: number, measured: boolean) => any, off?: boolean, samples?: number[], results?: any[], warm?: any[]}>} variants
 * @param {object} o
 * @param {number} o.n measured rounds
 * @param {number} [o.warmup] unmeasured rounds first
 * @param {(variants: any[], round: number) => any[]} [o.order]
 * @param {(v: any, round: number) => any} [o.before] before each call, not timed
 * @param {(round: number) => any} [o.after] after each round, not timed
 * @param {(err: Error, v: any, round: number) => any} [o.onError] truthy: go on without this call; else it throws
 */
export async function roundRobin(variants, { n, warmup = 0, order = (vs) => vs, before, after, onError }) {
  for (const v of variants) {
    v.samples ??= [];
    v.results ??= [];
    v.warm ??= [];
  }
  for (let round = 0; round < warmup + n; round++) {
    const measured = round >= warmup;
    for (const v of order(variants, round)) {
      if (v.off) continue;
      await before?.(v, round);
      let value;
      const t0 = nowMs();
      try {
        value = await v.run(round, measured);
      } catch (err) {
        if (await onError?.(err, v, round)) continue;
        throw err;
      }
      const wall = nowMs() - t0;
      if (!measured) v.warm.push(value);
      else {
        v.samples.push(typeof value?.ms === 'number' ? value.ms : wall);
        v.results.push(value);
      }
    }
    await after?.(round);
  }
  return variants;
}

/**
 * spawnSync, timed from spawn to exit (nothing else); throws unless it exited 0. The error has
 * `why` ('exit status 1', 'killed by SIGKILL', …). Default stdio: stdout and stderr piped.
 */
export function spawnTimed(cmd, args, options = {}) {
  const t0 = nowMs();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  const ms = nowMs() - t0;
  const stdout = r.stdout?.toString() ?? '';
  const stderr = r.stderr?.toString().trim() ?? '';
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit status ${r.status}`;
    const err = new Error(`${cmd} ${args.join(' ')}: ${why}${stderr ? `\n${stderr}` : ''}`);
    err.why = why;
    throw err;
  }
  return { ms, stdout, stderr };
}

/** Run `cmd` to its end without blocking the event loop (so several can run at once); rejects unless it exits 0. */
export function spawnDone(cmd, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: 'ignore', ...options });
    child.once('error', reject);
    child.once('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')}: ${signal ? `killed by ${signal}` : `exit status ${code}`}`))));
  });
}

/** For `seconds`, `workers` loops each calling `once` one call after another: the calls' times (ms) and how long it all took (s). */
export async function loopFor(seconds, workers, once) {
  const per = [];
  const deadline = nowMs() + seconds * 1000;
  const t0 = nowMs();
  await Promise.all(Array.from({ length: workers }, async () => {
    while (nowMs() < deadline) {
      const c0 = nowMs();
      await once();
      per.push(nowMs() - c0);
    }
  }));
  return { per, elapsedS: (nowMs() - t0) / 1000 };
}
