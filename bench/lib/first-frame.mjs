// The dashboard's side of bench/dashboard.mjs: time from launch to the first full frame on a real
// terminal (a pty from script(1)), beside `bkg ls` measured the same way, and the dashboard's own
// CPU once idle. Use from a DaemonSession with running sandboxes:
//
//   phases.first_frame = await dashboardFirstFrame(s, { n: 10, seconds: 20 }, names);
//
// The pty's output is watched as it arrives; "first frame" is when the first sandbox's row shows
// its memory against its limit (the snapshot drawn by ink), "ls" when its table has that row.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { SANDBOX_LIMITS } from './daemon.mjs';
import { cliEnv, RUN_JS } from './host.mjs';
import { fmt, paragraph, section, table, verdict } from './output.mjs';
import { nowMs, sleep, summarize } from './timing.mjs';

/** Target (issue 12): the first full frame within 500 ms of launch. */
export const FIRST_FRAME_TARGET_MS = 500;

/**
 * Run `node argv…` on a pty of rows×cols; resolves when `seen(output)` first holds, with the ms
 * since spawn and the child's pid (the pty's process), plus a function that ends it (`keys` typed,
 * then its exit awaited).
 */
export function onTerminal({ argv, env, seen, rows = 30, cols = 100, timeoutMs = 15_000 }) {
  return new Promise((resolve, reject) => {
    const quoted = argv.map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
    const t0 = nowMs();
    const child = spawn('script', ['-qfec', `stty rows ${rows} cols ${cols}; exec '${process.execPath}' ${quoted}`, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let done = false;
    const exited = new Promise((r) => child.on('exit', (code) => r(code)));
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      child.kill('SIGKILL');
      reject(new Error(`${argv.join(' ')}: nothing expected on the terminal after ${timeoutMs} ms; it showed:\n${out.slice(-2000)}`));
    }, timeoutMs);
    child.stdout.on('data', (c) => {
      out += c.toString();
      if (done || !seen(out)) return;
      done = true;
      clearTimeout(timer);
      const ms = nowMs() - t0;
      resolve({
        ms,
        pid: child.pid,
        /** The pid of the program itself (script's child: sh exec()s node). */
        programPid: () => Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/)[0]),
        end: async (keys) => {
          if (keys) child.stdin.write(keys);
          const code = await Promise.race([exited, sleep(5000).then(() => null)]);
          if (code === null) child.kill('SIGKILL');
          return code;
        },
      });
    });
    child.on('error', (err) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(err);
    });
  });
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/**
 * 2. The dashboard's time to its first full frame vs `bkg ls` (both on a pty, round robin, `n`
 * runs each after one warm-up), then its own CPU while idle (`seconds`, after 25 s of sparklines
 * filling up; 1 s with --smoke) against the same daemon and sandboxes.
 */
export async function dashboardFirstFrame(s, opts, names) {
  const env = { ...cliEnv(s.home), TERM: 'xterm-256color' };
  delete env.CI; // a terminal, not a CI log
  const first = names.slice().sort()[0];
  const limit = new RegExp(`/${opts.memoryMb ?? SANDBOX_LIMITS.memory_mb}M`); // the row's "used/limit"
  const rowOf = (out) => out.split('\n').find((l) => l.includes(first)) ?? '';
  const variants = {
    ls: { argv: [RUN_JS, 'ls'], seen: (out) => rowOf(out).includes('running'), keys: null },
    dashboard: { argv: [RUN_JS, 'dashboard'], seen: (out) => limit.test(rowOf(out)), keys: 'q' },
  };
  const samples = { ls: [], dashboard: [] };
  const n = opts.n ?? 10;
  for (let i = -1; i < n; i++) {
    for (const [key, v] of Object.entries(variants)) {
      s.check();
      const run = await onTerminal({ argv: v.argv, env, seen: v.seen });
      const code = await run.end(v.keys);
      if (code !== 0) throw new Error(`bkg ${v.argv.slice(1).join(' ')} exited with ${code}`);
      if (i >= 0) samples[key].push(run.ms);
    }
  }
  const ls = summarize(samples.ls, '_ms');
  const dash = summarize(samples.dashboard, '_ms');
  const met = dash.p50_ms <= FIRST_FRAME_TARGET_MS;

  // idle: the dashboard left running, its sparklines full, nothing moving in the sandboxes
  const run = await onTerminal({ argv: variants.dashboard.argv, env, seen: variants.dashboard.seen });
  const pid = run.programPid();
  await sleep(opts.smoke ? 1000 : 25_000); // --smoke: the code path only, not a figure
  const c0 = cpuSeconds(pid);
  const t0 = nowMs();
  await sleep((opts.seconds ?? 20) * 1000);
  const idle = { cpu_s: cpuSeconds(pid) - c0, wall_s: (nowMs() - t0) / 1000 };
  idle.pct_of_core = (idle.cpu_s / idle.wall_s) * 100;
  await run.end('q');

  section(`2. Dashboard: time to the first full frame vs \`bkg ls\` (${names.length} sandboxes, a pty of 100×30, ${n} runs each)`);
  table(['variant', 'median ms', 'p90 ms', 'min ms', 'target'], [
    ['`bkg ls` (its table printed)', fmt(ls.p50_ms, 0), fmt(ls.p90_ms, 0), fmt(ls.min_ms, 0), ''],
    ['`bkg dashboard` (first frame with the snapshot)', fmt(dash.p50_ms, 0), fmt(dash.p90_ms, 0), fmt(dash.min_ms, 0), `<= ${FIRST_FRAME_TARGET_MS} ms: ${verdict(met, 'MISSED')}`],
  ]);
  paragraph(`idle, the dashboard used ${fmt(idle.pct_of_core, 2)} % of one core (${fmt(idle.cpu_s, 2)} s CPU in ${fmt(idle.wall_s, 1)} s, from /proc/${pid}/stat; target < 2 %: ${verdict(idle.pct_of_core < 2, 'MISSED')})`);
  return { ls, dashboard: dash, target_ms: FIRST_FRAME_TARGET_MS, met, idle: { ...idle, target_pct: 2, met: idle.pct_of_core < 2 } };
}
