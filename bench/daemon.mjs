#!/usr/bin/env node
// The daemon path, measured side by side with bubblewrap in one run: a real bkg daemon (started
// from dist/ in a child process, so its RSS can be read from /proc) in a temp BKG_HOME, driven over
// its unix socket exactly as the CLI drives it.
//
//   sudo node bench/daemon.mjs [--quick] [--exec-n N] [--cold-n N] [--cli-n N] [--idle N] [--cycle-seconds S]
//
// 1. warm exec of `true` in a running sandbox (REST) vs cold `bwrap ... /bin/true`: p50 / p99
// 2. cold time to first output: create + start + exec `echo ok` vs cold `bwrap ... /bin/echo ok`
// 3. `bkg exec NAME -- true` end to end vs `node -e 0` (skipped while the command does not exist)
// 4. 100 idle running sandboxes: host memory per sandbox and daemon RSS; everything gone after
// 5. create → start → exec `true` → delete cycles per second, and leaks before vs after
//
// Needs root, a built helper (make -C helper) and a compiled dist/ (npx tsc -p tsconfig.build.json).
// See bench/README.md. Exits 1 when anything leaked.
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { DaemonSession, runBench, SANDBOX_LIMITS } from './lib/daemon.mjs';
import { cgroupDirs, cgroupV2, checkHost, cliEnv, hostFacts, hostLine, mountCount, ROOT, RUN_JS, which } from './lib/host.mjs';
import { parseOptions } from './lib/options.mjs';
import { cells, fmt, lastLine, paragraph, printJson, section, table, times, verdict } from './lib/output.mjs';
import { loopFor, nowMs, roundRobin, sleep, spawnDone, spawnTimed, summarize } from './lib/timing.mjs';

const OPTIONS = {
  prog: 'daemon-bench',
  script: 'daemon.mjs',
  quick: 'small counts and a 10 s cycle phase, under a minute in all',
  options: {
    execN: { flag: '--exec-n', env: 'BENCH_EXEC_N', default: 300, quick: 100, help: 'warm execs, and bwrap /bin/true runs, measured' },
    coldN: { flag: '--cold-n', env: 'BENCH_COLD_N', default: 30, quick: 10, help: 'create+start+exec rounds, and bwrap /bin/echo runs' },
    cliN: { flag: '--cli-n', env: 'BENCH_CLI_N', default: 20, quick: 5, help: '`bkg exec` and `node -e 0` runs' },
    idle: { flag: '--idle', env: 'BENCH_IDLE_SANDBOXES', default: 100, quick: 100, help: 'idle running sandboxes for the memory row' },
    cycleSeconds: { flag: '--cycle-seconds', arg: 'S', env: 'BENCH_CYCLE_SECONDS', type: 'number', min: 0.1, default: 60, quick: 10, help: 'duration of the create→exec→destroy phase (half one cycle at a time, half with --cycle-workers at once)' },
    cycleWorkers: { flag: '--cycle-workers', arg: 'W', env: 'BENCH_CYCLE_WORKERS', min: 1, default: 4, quick: 4, help: 'cycles at once in the second half of the cycle phase (each worker runs its cycles one after another)' },
    warmup: { flag: '--warmup', env: 'BENCH_WARMUP', min: 0, default: 10, quick: 3, help: 'unmeasured rounds before phases 1–3, at most 3 in phase 3' },
  },
};
const MiB = 1024 * 1024;
const BWRAP_ARGS = ['--unshare-all', '--die-with-parent', '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev'];
/** The running sandbox of phases 1 and 3. */
const WARM = 'bench-warm';
const P4 = ['p50_ms', 'p90_ms', 'p99_ms', 'mean_ms'];
const P3 = ['p50_ms', 'p90_ms', 'mean_ms'];
const mib = (bytes) => bytes / MiB;
const judge = (ok) => verdict(ok, 'MISSED');

async function main() {
  const opts = parseOptions(OPTIONS);
  const host = await checkHost({ root: 'must run as root (the daemon creates cgroups and id-maps sandboxes): sudo node bench/daemon.mjs', dist: ['dist/daemon/main.js'], helper: true });
  const bwrap = which('bwrap');
  const notes = bwrap ? [] : ['bwrap not installed: the bubblewrap peers are skipped (benchmark-only peer; apt-get install bubblewrap)'];
  const s = new DaemonSession({ prog: OPTIONS.prog, homePrefix: 'bkg-dbench-' });
  const phases = {};
  const leaks = [];
  const started = nowMs();
  const { failed, errors } = await s.run(async () => {
    const info = await s.open();
    console.log('# bkg daemon bench');
    console.log(`${hostLine()}, cgroups ${cgroupV2() ? 'v2' : 'v1'}`);
    console.log(`daemon: pid ${info.pid}, bkg ${info.version}, socket ${info.socket}; client: ${s.unix.kind}; helper ${host.helperPath}`);
    console.log(`sandboxes: runtime shell, limits ${JSON.stringify(SANDBOX_LIMITS)}; bwrap: ${bwrap ?? 'not installed'}`);
    console.log(`mode: ${opts.quick ? 'quick' : 'full'}: exec n=${opts.execN}, cold n=${opts.coldN}, cli n=${opts.cliN}, idle ${opts.idle}, cycles ${opts.cycleSeconds} s, warm-up ${opts.warmup}`);
    for (const n of notes) console.log(`note: ${n}`);
    console.log('');

    await s.create(WARM);
    await s.start(WARM);
    phases.warm_exec = await warmExec(s, opts, bwrap);
    phases.cold_first_output = await coldFirstOutput(s, opts, bwrap);
    phases.cli_exec = await cliExec(s, opts);
    await s.remove(WARM);
    phases.idle = await idleSandboxes(s, opts, leaks, phases);
    phases.cycles = await cycles(s, opts, leaks, bwrap);
  });
  if (failed) return;
  leaks.push(...errors.map((e) => `cleanup: ${e}`));
  const elapsedS = (nowMs() - started) / 1000;
  console.log(`leak check: ${leaks.length ? `FAILED: ${leaks.join('; ')}` : 'OK (cgroup dirs, mounts, bkg-helper processes and daemon fds back to where they started)'}`);
  console.log(`(${fmt(elapsedS, 1)} s in all)`);
  printJson({
    bench: 'daemon',
    mode: opts.quick ? 'quick' : 'full',
    options: opts,
    elapsed_s: elapsedS,
    host: { ...hostFacts(), cgroup_version: cgroupV2() ? 2 : 1 },
    client: s.unix?.kind ?? null,
    limits: SANDBOX_LIMITS,
    skipped: notes,
    phases,
    leaks: { ok: leaks.length === 0, failures: leaks },
  });
  if (leaks.length) process.exitCode = 1;
}

/** 1. exec `true` in the running sandbox (REST) vs a cold bwrap /bin/true; (info) the exec's own time, and a GET /healthz. */
async function warmExec(s, opts, bwrap) {
  const [exec, healthz, peer] = await roundRobin(
    [
      { run: () => s.exec(WARM, ['true']) },
      { run: () => s.api('GET', '/healthz', undefined, 200) },
      { run: () => spawnTimed(bwrap, [...BWRAP_ARGS, '/bin/true'], { env: {} }), off: !bwrap },
    ],
    { warmup: opts.warmup, n: opts.execN, before: () => s.check() },
  );
  const b = summarize(exec.samples, '_ms');
  const inside = summarize(exec.results.map((r) => r.duration_ms), '_ms');
  const floor = summarize(healthz.samples, '_ms');
  const p = bwrap ? summarize(peer.samples, '_ms') : null;
  const ratio = p ? b.p50_ms / p.p50_ms : null;
  section('1. Warm exec: `true` in a running sandbox (REST over the unix socket) vs cold bwrap');
  table(['variant', 'p50 ms', 'p90 ms', 'p99 ms', 'mean ms', '× bwrap p50'], [
    ['bkg exec `true`, running sandbox (POST …/exec)', ...cells(b, P4), times(ratio)],
    p && ['bwrap --unshare-all (ro /) /bin/true, cold', ...cells(p, P4), '1.00×'],
    ["(info) … the exec's own `duration_ms`, as the helper reports it", ...cells(inside, P4), ''],
    ['(info) GET /healthz round trip: socket + HTTP + router floor', ...cells(floor, P4), ''],
  ]);
  paragraph(`p50 ratio ${ratio === null ? 'n/a' : times(ratio)} (target < 0.5×: ${ratio === null ? 'n/a' : judge(ratio < 0.5)}); ${opts.execN} measured runs each, round-robin`);
  return { bkg: b, bwrap: p, exec_duration_ms: inside, healthz: floor, ratio_p50: ratio, target: '< 0.5', met: ratio === null ? null : ratio < 0.5 };
}

/** 2. create + start + exec `echo ok` until the exec response (then an untimed delete) vs a cold bwrap /bin/echo ok. */
async function coldFirstOutput(s, opts, bwrap) {
  const [bkg, peer] = await roundRobin(
    [
      {
        async run(round) {
          const sb = `bench-cold-${round}`;
          const t0 = nowMs();
          await s.create(sb);
          const t1 = nowMs();
          await s.start(sb);
          const t2 = nowMs();
          const out = await s.exec(sb, ['echo', 'ok']);
          const t3 = nowMs();
          if (out.stdout !== 'ok\n') throw new Error(`echo ok in ${sb} printed ${JSON.stringify(out.stdout)}`);
          await s.remove(sb); // not part of time to first output
          return { ms: t3 - t0, create: t1 - t0, start: t2 - t1, exec: t3 - t2, delete: nowMs() - t3 };
        },
      },
      {
        off: !bwrap,
        run() {
          const r = spawnTimed(bwrap, [...BWRAP_ARGS, '/bin/echo', 'ok'], { env: {} });
          if (r.stdout !== 'ok\n') throw new Error(`bwrap /bin/echo ok printed ${JSON.stringify(r.stdout)}`);
          return r;
        },
      },
    ],
    { warmup: opts.warmup, n: opts.coldN, before: () => s.check() },
  );
  const b = summarize(bkg.samples, '_ms');
  const steps = Object.fromEntries(['create', 'start', 'exec', 'delete'].map((k) => [k, summarize(bkg.results.map((r) => r[k]), '_ms')]));
  const p = bwrap ? summarize(peer.samples, '_ms') : null;
  const ratio = p ? b.p50_ms / p.p50_ms : null;
  const share = (x) => `${Math.round((100 * x.p50_ms) / b.p50_ms)}% of bkg`;
  section('2. Cold time to first output: create + start + exec `echo ok` vs cold bwrap `/bin/echo ok`');
  table(['variant', 'median ms', 'p90 ms', 'mean ms', '× bwrap median'], [
    ['bkg: create + start + exec `echo ok` (until the exec response)', ...cells(b, P3), times(ratio)],
    ['… POST /sandboxes (create)', ...cells(steps.create, P3), share(steps.create)],
    ['… POST …/start', ...cells(steps.start, P3), share(steps.start)],
    ['… POST …/exec `echo ok`', ...cells(steps.exec, P3), share(steps.exec)],
    p && ['bwrap --unshare-all (ro /) /bin/echo ok, cold', ...cells(p, P3), '1.00×'],
    ['(not timed above: DELETE, running sandbox)', ...cells(steps.delete, P3), ''],
  ]);
  paragraph(`median ratio ${ratio === null ? 'n/a' : times(ratio)} (target ≤ 1.5×: ${ratio === null ? 'n/a' : judge(ratio <= 1.5)}); ${opts.coldN} measured rounds each`);
  return { bkg: b, steps, bwrap: p, ratio_median: ratio, target: '<= 1.5', met: ratio === null ? null : ratio <= 1.5 };
}

/** 3. `node bin/run.js exec NAME -- true` vs `node -e 0`; skipped (with a note) while the command is missing or failing. */
async function cliExec(s, opts) {
  section('3. `bkg exec NAME -- true` end to end vs `node -e 0`');
  const skipped = (note) => {
    paragraph(note);
    return { skipped: note };
  };
  // BKG_PORT=0: should our daemon die mid-run, the CLI starts one of its own in this home; it must
  // not take the host's TCP port. Cleanup stops any such daemon.
  const env = cliEnv(s.home);
  const help = spawnSync(process.execPath, [RUN_JS, 'exec', '--help'], { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  if (help.status !== 0) {
    const why = lastLine(help.stderr?.toString() || help.stdout?.toString());
    return skipped(`skipped: \`node bin/run.js exec --help\` failed (${help.error?.message ?? `exit status ${help.status}`}${why ? `: ${why}` : ''}); the command does not exist yet`);
  }
  let error = null;
  const variants = [
    { run: () => spawnTimed(process.execPath, [RUN_JS, 'exec', WARM, '--', 'true'], { env, cwd: ROOT }) },
    { run: () => spawnTimed(process.execPath, ['-e', '0'], { env, cwd: ROOT }) },
  ];
  try {
    // spawnSync blocks this event loop, so undici cannot notice the daemon closing our idle
    // keep-alive connection (Node's 5 s server timeout); a ping between rounds keeps it in use.
    await roundRobin(variants, { warmup: Math.min(opts.warmup, 3), n: opts.cliN, before: () => s.check(), after: () => s.api('GET', '/healthz', undefined, 200) });
  } catch (err) {
    error = err.message.split('\n').filter(Boolean).slice(0, 3).join(' / ');
  }
  await sleep(100); // let a daemon exit be noticed: a dead daemon is a failure, not a skipped row
  s.check();
  if (error) return skipped(`skipped: \`bkg exec ${WARM} -- true\` failed: ${error}`);
  const [b, p] = variants.map((v) => summarize(v.samples, '_ms'));
  const ratio = b.p50_ms / p.p50_ms;
  table(['variant', 'median ms', 'p90 ms', 'mean ms', '× node -e 0'], [
    [`node bin/run.js exec ${WARM} -- true`, ...cells(b, P3), times(ratio)],
    ['node -e 0', ...cells(p, P3), '1.00×'],
  ]);
  paragraph(`median ratio ${times(ratio)} (target ≤ 1.3×, issue 14: ${judge(ratio <= 1.3)}); ${opts.cliN} measured runs each, round-robin`);
  return { bkg: b, node: p, ratio_median: ratio, target: '<= 1.3', met: ratio <= 1.3 };
}

/** 4. N idle running sandboxes: host MemAvailable and daemon RSS before and with them; everything back after deleting them. */
async function idleSandboxes(s, opts, leaks, phases) {
  await sleep(500);
  const pid = s.info.pid;
  const before = snapshot(pid);
  const memBefore = await memAvailable();
  const helpersBefore = new Set(before.helpers);
  const names = Array.from({ length: opts.idle }, (_, i) => `bench-idle-${i}`);
  const t0 = nowMs();
  for (const sb of names) {
    await s.create(sb);
    await s.start(sb);
  }
  const startS = (nowMs() - t0) / 1000;
  await sleep(2000); // let them settle: nothing runs in them
  const memAfter = await memAvailable();
  const during = snapshot(pid);
  // with them all running: the list, and a warm exec (against phase 1's, with one sandbox)
  // the list as a client sees it (request to parsed rows), and where that goes: the answer's head (the daemon's work), its body, the client's JSON.parse
  const listParts = { head: [], body: [], parse: [], rows: opts.idle + 1 };
  const listOnce = async () => {
    if (!s.unix.request) return s.api('GET', '/api/v1/sandboxes', undefined, 200);
    s.check();
    const t0 = nowMs();
    const res = await s.unix.request({ method: 'GET', path: '/api/v1/sandboxes' });
    const t1 = nowMs();
    const text = await res.body.text();
    const t2 = nowMs();
    const rows = JSON.parse(text).sandboxes?.length;
    const t3 = nowMs();
    if (res.statusCode !== 200 || !(rows >= opts.idle)) throw new Error(`GET /api/v1/sandboxes: HTTP ${res.statusCode}, ${rows} rows`);
    listParts.rows = rows;
    listParts.head.push(t1 - t0);
    listParts.body.push(t2 - t1);
    listParts.parse.push(t3 - t2);
  };
  const [list, execMany] = await roundRobin([{ run: listOnce }, { run: () => s.exec(names[0], ['true']) }], { warmup: 2, n: Math.max(5, Math.min(50, opts.execN)) });
  const listP = summarize(list.samples, '_ms');
  const p50 = (a) => (a.length ? summarize(a.slice(-list.samples.length)).p50 : null);
  const listSplit = { head_ms: p50(listParts.head), body_ms: p50(listParts.body), parse_ms: p50(listParts.parse) };
  const execP = summarize(execMany.samples, '_ms');
  const helperPss = during.helpers.filter((h) => !helpersBefore.has(h)).reduce((a, h) => a + (pss(h) ?? 0), 0);
  const ids = names.map((n) => s.ids.get(n));
  const cgMem = cgroupMemory(ids);
  const perSandbox = mib(memBefore - memAfter) / opts.idle;
  // MemAvailable is host-wide: if it rose, something else freed memory meanwhile and the row says nothing.
  const hostMet = perSandbox < 0 ? null : perSandbox <= 1;
  const hostVerdict = hostMet === null ? 'inconclusive (MemAvailable rose: other activity on the host)' : judge(hostMet);
  const rssAfter = during.daemon_rss;
  // the daemon's RSS target: 150 MiB with up to 100 sandboxes, 200 MiB with 1,000 (issue 14's density target)
  const rssCap = opts.idle > 100 ? 200 : 150;
  const t1 = nowMs();
  for (const sb of names) await s.remove(sb);
  const deleteS = (nowMs() - t1) / 1000;
  const after = await settle(pid, before);
  const leftOurs = ids.filter((id) => after.cgroup_paths.some((p) => p.endsWith(`/${id}`)));
  const cgOk = after.cgroup_dirs <= before.cgroup_dirs && leftOurs.length === 0;
  const helpersOk = after.helpers.length <= before.helpers.length;
  const per = (a, b, d) => fmt((a - b) / opts.idle, d);
  section(`4. ${opts.idle} idle running sandboxes`);
  table(['metric', 'before', `with ${opts.idle} running`, 'per sandbox', 'target'], [
    ['host MemAvailable, MiB', fmt(mib(memBefore), 1), fmt(mib(memAfter), 1), `${fmt(perSandbox, 2)} MiB`, `≤ 1 MiB (issue 14): ${hostVerdict}`],
    ['daemon VmRSS, MiB', fmt(mib(before.daemon_rss), 1), fmt(mib(rssAfter), 1), `${fmt(mib(rssAfter - before.daemon_rss) / opts.idle, 3)} MiB`, `≤ ${rssCap} MiB: ${judge(mib(rssAfter) <= rssCap)}`],
    ['sandbox memory cgroups, usage sum, MiB (info)', '–', cgMem === null ? '–' : fmt(mib(cgMem), 1), cgMem === null ? '–' : `${fmt(mib(cgMem) / opts.idle, 2)} MiB`, ''],
    ['new bkg-helper processes, Pss sum, MiB (info)', '–', fmt(mib(helperPss), 1), `${fmt(mib(helperPss) / opts.idle, 2)} MiB`, ''],
    ['bkg-helper processes', before.helpers.length, during.helpers.length, per(during.helpers.length, before.helpers.length, 1), ''],
    ['daemon open fds', before.daemon_fds, during.daemon_fds, per(during.daemon_fds, before.daemon_fds, 1), ''],
  ]);
  paragraph(`started ${opts.idle} in ${fmt(startS, 1)} s (create + start, one at a time), deleted them in ${fmt(deleteS, 1)} s`);
  const warm1 = phases.warm_exec?.bkg?.p50_ms ?? null;
  const execRatio = warm1 ? execP.p50_ms / warm1 : null;
  table(['with them running', 'p50 ms', 'p90 ms', 'target'], [
    [`GET /api/v1/sandboxes (${listParts.rows} rows)`, fmt(listP.p50_ms, 2), fmt(listP.p90_ms, 2), `≤ 20 ms: ${judge(listP.p50_ms <= 20)}`],
    ...(listSplit.head_ms === null ? [] : [
      ['(info) … until the head of the answer (the daemon reads, checks and encodes the rows)', fmt(listSplit.head_ms, 2), '', ''],
      ['(info) … its body (the bytes through the socket into the client)', fmt(listSplit.body_ms, 2), '', ''],
      ['(info) … JSON.parse of it in the client', fmt(listSplit.parse_ms, 2), '', ''],
    ]),
    ['warm exec `true` (in one of them)', fmt(execP.p50_ms, 2), fmt(execP.p90_ms, 2), execRatio === null ? '' : `${times(execRatio)} the p50 with one sandbox (≤ 1.10×: ${judge(execRatio <= 1.1)})`],
  ]);
  const dirs = (x) => `${x.cgroup_dirs} (${cgroupSummary(x.cgroup_dirs_by_controller)})`;
  table(
    ['after deleting them all', 'at start', 'with them running', 'after delete', 'back to start?'],
    [
      [`cgroup dirs under bkg/ (${Object.keys(before.cgroup_dirs_by_controller).join(', ')})`, dirs(before), dirs(during), dirs(after), cgOk ? 'yes' : 'NO'],
      ['bkg-helper processes', before.helpers.length, during.helpers.length, after.helpers.length, helpersOk ? 'yes' : 'NO'],
    ],
    { left: [0, 4] },
  );
  if (!cgOk) leaks.push(`idle: cgroup dirs ${before.cgroup_dirs} → ${after.cgroup_dirs}${leftOurs.length ? ` (${leftOurs.length} of this bench's sandboxes)` : ''}: ${after.cgroup_paths.filter((p) => !before.cgroup_paths.includes(p)).slice(0, 5).join(', ')}`);
  if (!helpersOk) leaks.push(`idle: bkg-helper processes ${before.helpers.length} → ${after.helpers.length} (new pids ${after.helpers.filter((h) => !helpersBefore.has(h)).slice(0, 10).join(', ')})`);
  return {
    sandboxes: opts.idle,
    host_mem_available_before_mib: mib(memBefore),
    host_mem_available_after_mib: mib(memAfter),
    host_mib_per_sandbox: perSandbox,
    host_target: '<= 1',
    host_met: hostMet,
    daemon_rss_before_mib: mib(before.daemon_rss),
    daemon_rss_after_mib: mib(rssAfter),
    daemon_rss_target: `<= ${rssCap}`,
    daemon_rss_met: mib(rssAfter) <= rssCap,
    cgroup_memory_usage_sum_mib: cgMem === null ? null : mib(cgMem),
    helper_pss_sum_mib: mib(helperPss),
    list_ms: listP,
    list_split_ms: listSplit,
    list_target: '<= 20',
    list_met: listP.p50_ms <= 20,
    warm_exec_ms: execP,
    warm_exec_vs_one: execRatio,
    start_all_s: startS,
    delete_all_s: deleteS,
    cgroup_dirs: { start: before.cgroup_dirs, running: during.cgroup_dirs, after: after.cgroup_dirs },
    helpers: { start: before.helpers.length, running: during.helpers.length, after: after.helpers.length },
    cleaned_up: cgOk && helpersOk,
  };
}

/** 5. create → start → exec `true` → delete for S seconds: cycles per second, and what leaked. */
async function cycles(s, opts, leaks, bwrap) {
  await sleep(200);
  const pid = s.info.pid;
  const before = snapshot(pid);
  const ids = [];
  const runs = [];
  let next = 0;
  for (const workers of [1, opts.cycleWorkers]) {
    const r = await loopFor(opts.cycleSeconds / 2, workers, async () => {
      const sb = `bench-cycle-${next++}`;
      ids.push((await s.create(sb)).id);
      await s.start(sb);
      await s.exec(sb, ['true']);
      await s.remove(sb);
    });
    runs.push({ label: 'bkg: create → start → exec → delete', workers, ...r });
  }
  // the peer: a whole cold bwrap sandbox per cycle, as often as the host allows, alone and as many at once
  if (bwrap) {
    for (const workers of [1, opts.cycleWorkers]) {
      const r = await loopFor(Math.min(10, opts.cycleSeconds / 4), workers, () => spawnDone(bwrap, [...BWRAP_ARGS, '/bin/true'], { env: {} }));
      runs.push({ label: 'bwrap --unshare-all /bin/true (peer)', workers, ...r });
    }
  }
  const after = await settle(pid, before);
  const leftOurs = ids.filter((id) => after.cgroup_paths.some((p) => p.endsWith(`/${id}`)));
  const rows = [
    ['cgroup dirs under bkg/', before.cgroup_dirs, after.cgroup_dirs, Math.max(after.cgroup_dirs - before.cgroup_dirs, leftOurs.length)],
    ['host mounts (/proc/self/mountinfo lines)', before.mounts, after.mounts, after.mounts - before.mounts],
    ['bkg-helper processes', before.helpers.length, after.helpers.length, after.helpers.length - before.helpers.length],
    ['daemon open fds (/proc/PID/fd)', before.daemon_fds, after.daemon_fds, after.daemon_fds - before.daemon_fds],
  ];
  section(`5. create → start → exec \`true\` → delete, for ${opts.cycleSeconds} s: one at a time, then ${opts.cycleWorkers} at once`);
  const rate = (r) => r.per.length / r.elapsedS;
  const peerRate = (workers) => runs.find((p) => p.label.startsWith('bwrap') && p.workers === workers);
  table(['variant', 'at once', 'cycles', 'seconds', 'cycles/s', '× bwrap', 'per cycle p50 ms', 'p90 ms', 'p99 ms'], runs.map((r) => [r.label, r.workers, r.per.length, fmt(r.elapsedS, 1), fmt(rate(r), 2), peerRate(r.workers) ? `${fmt(rate(r) / rate(peerRate(r.workers)), 2)}×` : '', ...cells(summarize(r.per, '_ms'), ['p50_ms', 'p90_ms', 'p99_ms'])]), { left: [0] });
  table(['resource', 'before', 'after', 'leaked'], [
    ...rows.map(([what, b, a, d]) => [what, b, a, d > 0 ? `**${d}**` : 0]),
    ['daemon VmRSS, MiB (info, not a leak check)', fmt(mib(before.daemon_rss), 1), fmt(mib(after.daemon_rss), 1), ''],
  ]);
  for (const [what, b, a, d] of rows) if (d > 0) leaks.push(`cycles: ${what} ${b} → ${a}`);
  if (leftOurs.length) leaks.push(`cycles: ${leftOurs.length} of this bench's sandbox cgroup dirs left (${leftOurs.slice(0, 5).join(', ')})`);
  return {
    runs: runs.map((r) => ({ variant: r.label, workers: r.workers, seconds: r.elapsedS, cycles: r.per.length, cycles_per_s: rate(r), per_cycle: summarize(r.per, '_ms') })),
    leaks: Object.fromEntries(rows.map(([what, b, a, d]) => [what, { before: b, after: a, leaked: Math.max(0, d) }])),
    daemon_rss_before_mib: mib(before.daemon_rss),
    daemon_rss_after_mib: mib(after.daemon_rss),
  };
}

// ---------------------------------------------------------------------------------------------
// Host readings for rows 4 and 5
// ---------------------------------------------------------------------------------------------

/** What the leak checks compare: cgroup dirs under bkg/, host mounts, bkg-helper processes, the daemon's fds and RSS. */
function snapshot(daemonPid) {
  const cg = cgroupDirs();
  return {
    cgroup_dirs: cg.all.length,
    cgroup_dirs_by_controller: cg.byController,
    cgroup_paths: cg.all,
    mounts: mountCount(),
    helpers: helperPids(),
    daemon_fds: fdCount(daemonPid),
    daemon_rss: procStatusBytes(daemonPid, 'VmRSS'),
  };
}

/** Wait (up to 5 s) for the leak counters to come back to `before`, then return the last snapshot. */
async function settle(pid, before) {
  let s = snapshot(pid);
  const deadline = nowMs() + 5000;
  while (nowMs() < deadline && (s.cgroup_dirs > before.cgroup_dirs || s.mounts > before.mounts || s.helpers.length > before.helpers.length || s.daemon_fds > before.daemon_fds)) {
    await sleep(100);
    s = snapshot(pid);
  }
  return s;
}

const cgroupSummary = (byController) => Object.entries(byController).map(([c, n]) => `${c} ${n}`).join(', ');

/** MemAvailable, as the median of 5 readings 100 ms apart (it moves with everything on the host). */
async function memAvailable() {
  const r = [];
  for (let i = 0; i < 5; i++) {
    if (i) await sleep(100);
    const m = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    r.push(Number(m?.[1]) * 1024);
  }
  return r.sort((a, b) => a - b)[2];
}

/** A /proc/PID/status field in bytes (VmRSS, VmHWM, ...), or null when the process is gone. */
function procStatusBytes(pid, field) {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Proportional set size of a process (shared pages split among their users), or null. */
function pss(pid) {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

function fdCount(pid) {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

/** Pids of every process on the host whose comm is bkg-helper (supervisors, sandbox inits, exec helpers). */
function helperPids() {
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/comm`, 'utf8').trim() === 'bkg-helper') out.push(Number(name));
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

/** Sum of memory.usage_in_bytes (v1) / memory.current (v2) of the given sandbox ids' memory cgroups, or null. */
function cgroupMemory(ids) {
  const v2 = cgroupV2();
  let sum = 0;
  let seen = 0;
  for (const id of ids) {
    try {
      sum += Number(readFileSync(v2 ? `/sys/fs/cgroup/bkg/${id}/memory.current` : `/sys/fs/cgroup/memory/bkg/${id}/memory.usage_in_bytes`, 'utf8').trim());
      seen++;
    } catch {
      /* not there */
    }
  }
  return seen ? sum : null;
}

await runBench(main);
