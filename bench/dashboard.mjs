#!/usr/bin/env node
// What the dashboard costs, measured against a real bkg daemon (started from dist/ in a child
// process, so its CPU time can be read from /proc/<pid>/stat) in a temp BKG_HOME.
//
//   sudo node bench/dashboard.mjs [--quick] [--sandboxes N] [--seconds S] [--subscribers N]
//
// 1. daemon CPU with 100 running sandboxes: idle with no event subscriber, then with 2 WebSocket
//    subscribers of GET /api/v1/events receiving a usage sample of every sandbox each second, then
//    after they left (sampling stops): % of one core (target < 5 % with 2 subscribers)
// 2. `bkg dashboard`'s time to its first full frame vs `bkg ls`, both on a pty (target ≤ 500 ms),
//    then the dashboard's own CPU while idle (target < 2 % of one core)
//
// Needs root, a built helper (make -C helper) and a compiled dist/ (npx tsc -p tsconfig.build.json).
// See bench/README.md.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { DaemonSession, runBench, SANDBOX_LIMITS } from './lib/daemon.mjs';
import { cgroupV2, checkHost, hostFacts, hostLine } from './lib/host.mjs';
import { parseOptions } from './lib/options.mjs';
import { dashboardFirstFrame } from './lib/first-frame.mjs';
import { fmt, paragraph, printJson, section, table, verdict } from './lib/output.mjs';
import { nowMs, sleep } from './lib/timing.mjs';

const OPTIONS = {
  prog: 'dashboard-bench',
  script: 'dashboard.mjs',
  quick: '5 s measurements instead of 20 s',
  options: {
    sandboxes: { flag: '--sandboxes', env: 'BENCH_SANDBOXES', default: 100, help: 'running sandboxes while the daemon\'s CPU is measured' },
    seconds: { flag: '--seconds', arg: 'S', env: 'BENCH_SECONDS', type: 'number', min: 1, default: 20, quick: 5, help: 'length of each CPU measurement' },
    subscribers: { flag: '--subscribers', env: 'BENCH_SUBSCRIBERS', default: 2, help: 'WebSocket subscribers of the event stream' },
    n: { flag: '--n', env: 'BENCH_N', default: 10, quick: 4, help: 'first-frame runs of each variant (dashboard, bkg ls)' },
  },
};
/** Target: the daemon with its sandboxes and subscribers, in % of one core. */
const CPU_TARGET_PCT = 5;

async function main() {
  const opts = parseOptions(OPTIONS);
  await checkHost({ root: 'must run as root (the daemon creates cgroups and id-maps sandboxes): sudo node bench/dashboard.mjs', dist: ['dist/daemon/main.js'], helper: true });
  const s = new DaemonSession({ prog: OPTIONS.prog, homePrefix: 'bkg-dashbench-' });
  const phases = {};
  const started = nowMs();
  const { failed } = await s.run(async () => {
    const info = await s.open();
    console.log('# bkg dashboard bench');
    console.log(`${hostLine()}, cgroups ${cgroupV2() ? 'v2' : 'v1'}`);
    console.log(`daemon: pid ${info.pid}, bkg ${info.version}, socket ${info.socket}; usage sampled every 1 s (BKG_EVENTS_INTERVAL_MS default)`);
    console.log(`sandboxes: runtime shell, limits ${JSON.stringify(SANDBOX_LIMITS)}`);
    console.log(`mode: ${opts.quick ? 'quick' : 'full'}: ${opts.sandboxes} sandboxes, ${opts.subscribers} subscribers, ${opts.seconds} s per measurement`);
    console.log('');

    const names = await startSandboxes(s, opts.sandboxes);
    phases.daemon_cpu = await daemonCpu(s, opts, names);

    // against the same daemon and its running sandboxes (the session deletes them after)
    phases.first_frame = await dashboardFirstFrame(s, opts, names);
  });
  if (failed) return;
  console.log(`(${fmt((nowMs() - started) / 1000, 1)} s in all)`);
  printJson({
    bench: 'dashboard',
    mode: opts.quick ? 'quick' : 'full',
    options: opts,
    host: { ...hostFacts(), cgroup_version: cgroupV2() ? 2 : 1 },
    limits: SANDBOX_LIMITS,
    phases,
  });
}

/** Create and start `n` sandboxes, one at a time; their names. */
async function startSandboxes(s, n) {
  const names = Array.from({ length: n }, (_, i) => `bench-dash-${i}`);
  const t0 = nowMs();
  for (const name of names) {
    await s.create(name);
    await s.start(name);
  }
  paragraph(`started ${n} sandboxes in ${fmt((nowMs() - t0) / 1000, 1)} s (create + start, one at a time)`);
  await sleep(2000); // let them settle: nothing runs in them
  return names;
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** The daemon's CPU over `seconds`, in % of one core. */
async function measureCpu(s, seconds) {
  const pid = s.info.pid;
  const c0 = cpuSeconds(pid);
  const t0 = nowMs();
  const deadline = t0 + seconds * 1000;
  while (nowMs() < deadline) {
    s.check();
    await sleep(Math.min(500, deadline - nowMs()));
  }
  const wallS = (nowMs() - t0) / 1000;
  const cpuS = cpuSeconds(pid) - c0;
  return { wall_s: wallS, cpu_s: cpuS, pct_of_core: (cpuS / wallS) * 100 };
}

/** A WebSocket subscriber of GET /api/v1/events on the daemon's socket, counting what it receives. */
async function subscribe(socketPath) {
  // required here, not imported: the daemon child runs this file too, and must not load ws for us
  const { WebSocket } = createRequire(import.meta.url)('ws');
  const ws = new WebSocket(`ws+unix://${socketPath}:/api/v1/events`);
  const got = { messages: 0, bytes: 0, usage: 0, samples: [], ready: false, error: null };
  ws.on('message', (data) => {
    got.messages++;
    got.bytes += data.length;
    const m = JSON.parse(data.toString());
    if (m.type === 'stream.ready') got.ready = true;
    else if (m.type === 'usage') {
      got.usage++;
      got.samples.push(m.samples.length);
    } else if (m.type === 'stream.end') got.error = `${m.code}: ${m.message}`;
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`the daemon refused the event stream: HTTP ${res.statusCode}`)));
  });
  return {
    got,
    reset() {
      Object.assign(got, { messages: 0, bytes: 0, usage: 0, samples: [] });
    },
    close: () => new Promise((resolve) => {
      ws.once('close', resolve);
      ws.close(1000);
    }),
  };
}

/** 1. The daemon's CPU with the sandboxes running: no subscriber, `subscribers` of them, none again. */
async function daemonCpu(s, opts, names) {
  const idle = await measureCpu(s, opts.seconds);
  const subs = [];
  for (let i = 0; i < opts.subscribers; i++) subs.push(await subscribe(s.info.socket));
  s.defer('closing the event subscribers', () => Promise.all(subs.map((x) => x.close())));
  await sleep(2500); // the sampler's first (baseline) read, then a first usage event
  for (const x of subs) x.reset();
  const busy = await measureCpu(s, opts.seconds);
  const got = subs.map((x) => ({ ...x.got }));
  await Promise.all(subs.splice(0).map((x) => x.close()));
  await sleep(1500);
  const after = await measureCpu(s, opts.seconds);
  for (const g of got) {
    if (g.error) throw new Error(`a subscriber was cut off: ${g.error}`);
    if (!g.ready || g.usage === 0) throw new Error(`a subscriber received no usage event in ${opts.seconds} s`);
    if (g.samples.some((n) => n !== names.length)) throw new Error(`a usage event did not sample every sandbox: ${g.samples.join(', ')} of ${names.length}`);
  }
  const perSub = got[0];
  const met = busy.pct_of_core < CPU_TARGET_PCT;
  section(`1. Daemon CPU with ${names.length} running sandboxes and ${opts.subscribers} event subscribers`);
  table(['variant', 'daemon CPU s', 'wall s', '% of one core', 'target'], [
    ['no subscriber (no sampling)', fmt(idle.cpu_s, 2), fmt(idle.wall_s, 1), fmt(idle.pct_of_core, 2), ''],
    [`${opts.subscribers} WebSocket subscribers, usage every 1 s`, fmt(busy.cpu_s, 2), fmt(busy.wall_s, 1), fmt(busy.pct_of_core, 2), `< ${CPU_TARGET_PCT} %: ${verdict(met, 'MISSED')}`],
    ['after they left (sampling stopped)', fmt(after.cpu_s, 2), fmt(after.wall_s, 1), fmt(after.pct_of_core, 2), ''],
  ]);
  paragraph(
    `each subscriber received ${perSub.usage} usage events (${perSub.samples[0] ?? 0} samples each) in ${fmt(busy.wall_s, 1)} s, ` +
      `${fmt(perSub.bytes / 1024 / busy.wall_s, 1)} KiB/s; the sampling and fan-out cost ${fmt(busy.pct_of_core - idle.pct_of_core, 2)} points of a core ` +
      `(CPU from /proc/${s.info.pid}/stat utime+stime, ${CLK_TCK} ticks/s)`,
  );
  return {
    sandboxes: names.length,
    subscribers: opts.subscribers,
    idle,
    with_subscribers: busy,
    after,
    usage_events_per_subscriber: perSub.usage,
    bytes_per_s_per_subscriber: perSub.bytes / busy.wall_s,
    target_pct: CPU_TARGET_PCT,
    met,
  };
}

await runBench(main);
