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
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { daemonChild, mountCount, nowMs, percentile, round3, sleep, stopPids, strayDaemons, which } from './lib.mjs';

const SELF = fileURLToPath(import.meta.url);
const ROOT = dirname(dirname(SELF));
const MiB = 1024 * 1024;
/** The limits every bench sandbox gets (the brief's "idle sandbox": 64 MiB, 32 pids). */
const LIMITS = { memory_mb: 64, pids: 32 };
const CONTROLLERS = ['memory', 'cpu', 'pids'];
const BWRAP_ARGS = ['--unshare-all', '--die-with-parent', '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev'];

// ---------------------------------------------------------------------------------------------
// Daemon child: `node bench/daemon.mjs --daemon-child` with BKG_HOME set. Prints one READY line
// with the daemon's info, and closes on SIGTERM/SIGINT or when the parent's pipe to stdin closes.
// Nothing else is imported here, so the child's RSS is the daemon's.
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------
function usage(code) {
  console.log(`usage: node bench/daemon.mjs [options]

  --quick            small counts and a 10 s cycle phase, under a minute in all ($BENCH_QUICK=1)
  --exec-n N         warm execs, and bwrap /bin/true runs, measured (default 300; quick 100; $BENCH_EXEC_N)
  --cold-n N         create+start+exec rounds, and bwrap /bin/echo runs (default 30; quick 10; $BENCH_COLD_N)
  --cli-n N          \`bkg exec\` and \`node -e 0\` runs (default 20; quick 5; $BENCH_CLI_N)
  --idle N           idle running sandboxes for the memory row (default 100; $BENCH_IDLE_SANDBOXES)
  --cycle-seconds S  duration of the create→exec→destroy phase (default 60; quick 10; $BENCH_CYCLE_SECONDS)
  --warmup N         unmeasured rounds before phases 1–3 (default 10; quick 3; $BENCH_WARMUP)`);
  process.exit(code);
}

function die(msg) {
  console.error(`daemon-bench: ${msg}`);
  process.exit(1);
}

function parseArgs(argv) {
  const env = process.env;
  let quick = env.BENCH_QUICK !== undefined && env.BENCH_QUICK !== '' && env.BENCH_QUICK !== '0';
  const raw = {};
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const value = () => inline ?? argv[++i] ?? die(`${flag} needs a value`);
    if (flag === '--quick') quick = true;
    else if (flag === '--exec-n') raw.execN = value();
    else if (flag === '--cold-n') raw.coldN = value();
    else if (flag === '--cli-n') raw.cliN = value();
    else if (flag === '--idle') raw.idle = value();
    else if (flag === '--cycle-seconds') raw.cycleSeconds = value();
    else if (flag === '--warmup') raw.warmup = value();
    else if (flag === '--help' || flag === '-h') usage(0);
    else die(`unknown argument "${argv[i]}" (try --help)`);
  }
  const pick = (key, envName, normal, fast, { min = 1, real = false } = {}) => {
    const v = raw[key] ?? env[envName] ?? String(quick ? fast : normal);
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || (!real && !Number.isInteger(n))) die(`${key}: needs ${real ? 'a number' : 'an integer'} >= ${min}, got "${v}"`);
    return n;
  };
  return {
    quick,
    execN: pick('execN', 'BENCH_EXEC_N', 300, 100),
    coldN: pick('coldN', 'BENCH_COLD_N', 30, 10),
    cliN: pick('cliN', 'BENCH_CLI_N', 20, 5),
    idle: pick('idle', 'BENCH_IDLE_SANDBOXES', 100, 100),
    cycleSeconds: pick('cycleSeconds', 'BENCH_CYCLE_SECONDS', 60, 10, { min: 0.1, real: true }),
    warmup: pick('warmup', 'BENCH_WARMUP', 10, 3, { min: 0 }),
  };
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

/** Nearest-rank percentile of a sorted array. */

function summarize(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return { n: s.length, p50_ms: percentile(s, 50), p90_ms: percentile(s, 90), p99_ms: percentile(s, 99), mean_ms: mean, min_ms: s[0], max_ms: s[s.length - 1] };
}

const fmt = (n, d = 3) => (n === null || n === undefined || Number.isNaN(n) ? '–' : n.toFixed(d));
const mib = (bytes) => bytes / MiB;
const verdict = (ok) => (ok ? 'met' : 'MISSED');


/** MemAvailable, as the median of 5 readings 100 ms apart (it moves with everything on the host). */
async function memAvailable() {
  const r = [];
  for (let i = 0; i < 5; i++) {
    if (i) await sleep(100);
    r.push(meminfo().MemAvailable);
  }
  return r.sort((a, b) => a - b)[2];
}

function meminfo() {
  const out = {};
  for (const line of readFileSync('/proc/meminfo', 'utf8').split('\n')) {
    const m = /^(\w+):\s+(\d+) kB/.exec(line);
    if (m) out[m[1]] = Number(m[2]) * 1024;
  }
  return out;
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


/** Child directories of /sys/fs/cgroup/<controller>/bkg (v1) or /sys/fs/cgroup/bkg (v2), by full path. */
function cgroupDirs() {
  const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
  const bases = v2 ? { unified: '/sys/fs/cgroup/bkg' } : Object.fromEntries(CONTROLLERS.map((c) => [c, `/sys/fs/cgroup/${c}/bkg`]));
  const byController = {};
  const all = [];
  for (const [c, base] of Object.entries(bases)) {
    byController[c] = 0;
    try {
      for (const e of readdirSync(base, { withFileTypes: true })) {
        if (!e.isDirectory()) continue;
        byController[c]++;
        all.push(join(base, e.name));
      }
    } catch {
      /* no base yet: nothing there */
    }
  }
  return { v2, bases, byController, all };
}

/** Sum of memory.usage_in_bytes (v1) / memory.current (v2) of the given sandbox ids' memory cgroups. */
function cgroupMemory(ids) {
  const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
  let sum = 0;
  let seen = 0;
  for (const id of ids) {
    const file = v2 ? `/sys/fs/cgroup/bkg/${id}/memory.current` : `/sys/fs/cgroup/memory/bkg/${id}/memory.usage_in_bytes`;
    try {
      sum += Number(readFileSync(file, 'utf8').trim());
      seen++;
    } catch {
      /* not there */
    }
  }
  return seen ? sum : null;
}

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

function cgroupSummary(byController) {
  return Object.entries(byController).map(([c, n]) => `${c} ${n}`).join(', ');
}

// ---------------------------------------------------------------------------------------------
// HTTP over the unix socket: undici (a dependency of bkg, used by its CLI client) with one
// keep-alive connection, or node:http with one keep-alive Agent if undici cannot be loaded.
// ---------------------------------------------------------------------------------------------
async function makeClient(socketPath) {
  try {
    const { Client } = await import('undici');
    const client = new Client('http://localhost', { socketPath, pipelining: 1, keepAliveTimeout: 600_000, keepAliveMaxTimeout: 600_000, headersTimeout: 120_000, bodyTimeout: 120_000 });
    return {
      kind: 'undici Client (1 keep-alive connection)',
      async call(method, path, body) {
        const payload = body === undefined ? undefined : JSON.stringify(body);
        const res = await client.request({ method, path, headers: payload ? { 'content-type': 'application/json' } : {}, body: payload });
        const text = await res.body.text();
        return { status: res.statusCode, body: text ? JSON.parse(text) : undefined };
      },
      close: () => client.close().catch(() => {}),
    };
  } catch {
    const http = await import('node:http');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    return {
      kind: 'node:http Agent (1 keep-alive socket)',
      call(method, path, body) {
        return new Promise((resolve, reject) => {
          const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
          const req = http.request({ method, path, socketPath, agent, headers: payload ? { 'content-type': 'application/json' } : {} }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString();
              try {
                resolve({ status: res.statusCode, body: text ? JSON.parse(text) : undefined });
              } catch (err) {
                reject(err);
              }
            });
          });
          req.on('error', reject);
          req.end(payload);
        });
      },
      close: async () => agent.destroy(),
    };
  }
}

// ---------------------------------------------------------------------------------------------
// The daemon process
// ---------------------------------------------------------------------------------------------
function startDaemonChild(home) {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, BKG_HOME: home, BKG_PORT: '0' };
    const child = spawn(process.execPath, [SELF, '--daemon-child'], { env, stdio: ['pipe', 'pipe', 'inherit'] });
    let buf = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('the daemon did not report ready within 30 s'));
    }, 30_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the daemon exited before it was ready (${signal ?? `status ${code}`})`));
    });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => {
      buf += d;
      const m = /^READY (.*)$/m.exec(buf);
      if (!m) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      child.stdout.resume();
      resolve({ child, info: JSON.parse(m[1]), exited: new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r()))) });
    });
  });
}

async function stopDaemonChild(d) {
  if (!d || d.child.exitCode !== null || d.child.signalCode !== null) return;
  d.child.kill('SIGTERM');
  let timer;
  const killed = await Promise.race([d.exited.then(() => false), new Promise((r) => (timer = setTimeout(() => r(true), 10_000)))]);
  clearTimeout(timer);
  if (killed) {
    d.child.kill('SIGKILL');
    await d.exited;
  }
}

const alive = (d) => d && d.child.exitCode === null && d.child.signalCode === null;

// ---------------------------------------------------------------------------------------------
// main
// ---------------------------------------------------------------------------------------------
async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (process.platform !== 'linux') die('needs Linux');
  if (process.getuid?.() !== 0) die('must run as root (the daemon creates cgroups and id-maps sandboxes): sudo node bench/daemon.mjs');
  if (!existsSync(join(ROOT, 'dist/daemon/main.js'))) die('dist/ is missing: run `npx tsc -p tsconfig.build.json` first');
  const { detectHost } = await import('../dist/runtime/host.js');
  const host = detectHost();
  if (!existsSync(host.helperPath)) die(`helper not found at ${host.helperPath} (build it: make -C helper)`);
  const bwrap = which('bwrap');
  const notes = [];
  if (!bwrap) notes.push('bwrap not installed: the bubblewrap peers are skipped (benchmark-only peer; apt-get install bubblewrap)');

  const home = realpathSync(mkdtempSync(join(tmpdir(), 'bkg-dbench-')));
  const names = new Set(); // sandboxes that may exist, so cleanup can delete them
  const ids = new Map(); // name -> id, for cgroup paths
  let daemon = null;
  let client = null;
  let aborted = null;
  const onSignal = (sig) => {
    aborted ??= sig;
    console.error(`daemon-bench: ${sig}: cleaning up`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const check = () => {
    if (aborted) throw new Error(`interrupted by ${aborted}`);
    if (daemon && !alive(daemon)) throw new Error('the daemon exited');
  };

  const results = { phases: {} };
  let leakFailures = [];
  let failure = null;
  const started = nowMs();
  try {
    daemon = await startDaemonChild(home);
    client = await makeClient(daemon.info.socket);
    const pid = daemon.info.pid;
    const api = async (method, path, body, want) => {
      check();
      const r = await client.call(method, path, body);
      if (want !== undefined && r.status !== want) throw new Error(`${method} ${path}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
      return r;
    };
    const create = async (name) => {
      names.add(name);
      const r = await api('POST', '/api/v1/sandboxes', { name, limits: LIMITS }, 201);
      ids.set(name, r.body.id);
      return r.body;
    };
    const startSb = (name) => api('POST', `/api/v1/sandboxes/${name}/start`, undefined, 200);
    const exec = async (name, cmd) => {
      const r = await api('POST', `/api/v1/sandboxes/${name}/exec`, { cmd }, 200);
      if (r.body.exit_code !== 0) throw new Error(`exec ${cmd.join(' ')} in ${name}: ${JSON.stringify(r.body)}`);
      return r.body;
    };
    const remove = async (name) => {
      await api('DELETE', `/api/v1/sandboxes/${name}`, undefined, 204);
      names.delete(name);
    };
    const spawnTimed = (cmd, args, extra = {}) => {
      check();
      const t0 = nowMs();
      const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...extra });
      const t1 = nowMs();
      if (r.error || r.status !== 0) {
        const why = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit status ${r.status}`;
        throw new Error(`${cmd} ${args.join(' ')}: ${why}\n${r.stderr?.toString().trim() ?? ''}`);
      }
      return { ms: t1 - t0, stdout: r.stdout?.toString() ?? '' };
    };

    const cg0 = cgroupDirs();
    console.log('# bkg daemon bench');
    console.log(`host: Linux ${release()}, ${cpus().length} CPU(s) (${cpus()[0]?.model.trim() ?? '?'}), node ${process.version}, cgroups ${cg0.v2 ? 'v2' : 'v1'}`);
    console.log(`daemon: pid ${pid}, bkg ${daemon.info.version}, socket ${daemon.info.socket}; client: ${client.kind}; helper ${host.helperPath}`);
    console.log(`sandboxes: runtime shell, limits ${JSON.stringify(LIMITS)}; bwrap: ${bwrap ?? 'not installed'}`);
    console.log(`mode: ${opts.quick ? 'quick' : 'full'}: exec n=${opts.execN}, cold n=${opts.coldN}, cli n=${opts.cliN}, idle ${opts.idle}, cycles ${opts.cycleSeconds} s, warm-up ${opts.warmup}`);
    for (const n of notes) console.log(`note: ${n}`);
    console.log('');

    // ---- 1. warm exec ----------------------------------------------------------------------
    {
      const sb = 'bench-warm';
      await create(sb);
      await startSb(sb);
      const bkg = [];
      const inside = [];
      const floor = [];
      const peer = [];
      for (let i = 0; i < opts.warmup + opts.execN; i++) {
        const t0 = nowMs();
        const r = await exec(sb, ['true']);
        const ms = nowMs() - t0;
        const h0 = nowMs();
        await api('GET', '/healthz', undefined, 200);
        const healthz = nowMs() - h0;
        const b = bwrap ? spawnTimed(bwrap, [...BWRAP_ARGS, '/bin/true'], { env: {} }).ms : null;
        if (i >= opts.warmup) {
          bkg.push(ms);
          inside.push(r.duration_ms);
          floor.push(healthz);
          if (b !== null) peer.push(b);
        }
      }
      const s = summarize(bkg);
      const si = summarize(inside);
      const sf = summarize(floor);
      const p = bwrap ? summarize(peer) : null;
      const ratio = p ? s.p50_ms / p.p50_ms : null;
      console.log(`## 1. Warm exec: \`true\` in a running sandbox (REST over the unix socket) vs cold bwrap`);
      console.log('');
      console.log('| variant | p50 ms | p90 ms | p99 ms | mean ms | × bwrap p50 |');
      console.log('|---|---:|---:|---:|---:|---:|');
      console.log(`| bkg exec \`true\`, running sandbox (POST …/exec) | ${fmt(s.p50_ms)} | ${fmt(s.p90_ms)} | ${fmt(s.p99_ms)} | ${fmt(s.mean_ms)} | ${ratio === null ? '–' : `${fmt(ratio, 2)}×`} |`);
      if (p) console.log(`| bwrap --unshare-all (ro /) /bin/true, cold | ${fmt(p.p50_ms)} | ${fmt(p.p90_ms)} | ${fmt(p.p99_ms)} | ${fmt(p.mean_ms)} | 1.00× |`);
      console.log(`| (info) … the exec's own \`duration_ms\`, as the helper reports it | ${fmt(si.p50_ms)} | ${fmt(si.p90_ms)} | ${fmt(si.p99_ms)} | ${fmt(si.mean_ms)} | |`);
      console.log(`| (info) GET /healthz round trip: socket + HTTP + router floor | ${fmt(sf.p50_ms)} | ${fmt(sf.p90_ms)} | ${fmt(sf.p99_ms)} | ${fmt(sf.mean_ms)} | |`);
      console.log('');
      console.log(`p50 ratio ${ratio === null ? 'n/a' : `${fmt(ratio, 2)}×`} (target < 0.5×: ${ratio === null ? 'n/a' : verdict(ratio < 0.5)}); ${opts.execN} measured runs each, round-robin`);
      console.log('');
      results.phases.warm_exec = { bkg: s, bwrap: p, exec_duration_ms: si, healthz: sf, ratio_p50: ratio, target: '< 0.5', met: ratio === null ? null : ratio < 0.5 };
    }

    // ---- 2. cold time to first output ------------------------------------------------------
    {
      const total = [];
      const steps = { create: [], start: [], exec: [], delete: [] };
      const peer = [];
      for (let i = 0; i < opts.warmup + opts.coldN; i++) {
        const sb = `bench-cold-${i}`;
        const t0 = nowMs();
        await create(sb);
        const t1 = nowMs();
        await startSb(sb);
        const t2 = nowMs();
        const out = await exec(sb, ['echo', 'ok']);
        const t3 = nowMs();
        if (out.stdout !== 'ok\n') throw new Error(`echo ok in ${sb} printed ${JSON.stringify(out.stdout)}`);
        await remove(sb); // not part of time to first output
        const t4 = nowMs();
        let b = null;
        if (bwrap) {
          const r = spawnTimed(bwrap, [...BWRAP_ARGS, '/bin/echo', 'ok'], { env: {} });
          if (r.stdout !== 'ok\n') throw new Error(`bwrap /bin/echo ok printed ${JSON.stringify(r.stdout)}`);
          b = r.ms;
        }
        if (i < opts.warmup) continue;
        total.push(t3 - t0);
        steps.create.push(t1 - t0);
        steps.start.push(t2 - t1);
        steps.exec.push(t3 - t2);
        steps.delete.push(t4 - t3);
        if (b !== null) peer.push(b);
      }
      const s = summarize(total);
      const st = Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, summarize(v)]));
      const p = bwrap ? summarize(peer) : null;
      const ratio = p ? s.p50_ms / p.p50_ms : null;
      const share = (x) => `${Math.round((100 * x.p50_ms) / s.p50_ms)}%`;
      console.log('## 2. Cold time to first output: create + start + exec `echo ok` vs cold bwrap `/bin/echo ok`');
      console.log('');
      console.log('| variant | median ms | p90 ms | mean ms | × bwrap median |');
      console.log('|---|---:|---:|---:|---:|');
      console.log(`| bkg: create + start + exec \`echo ok\` (until the exec response) | ${fmt(s.p50_ms)} | ${fmt(s.p90_ms)} | ${fmt(s.mean_ms)} | ${ratio === null ? '–' : `${fmt(ratio, 2)}×`} |`);
      console.log(`| … POST /sandboxes (create) | ${fmt(st.create.p50_ms)} | ${fmt(st.create.p90_ms)} | ${fmt(st.create.mean_ms)} | ${share(st.create)} of bkg |`);
      console.log(`| … POST …/start | ${fmt(st.start.p50_ms)} | ${fmt(st.start.p90_ms)} | ${fmt(st.start.mean_ms)} | ${share(st.start)} of bkg |`);
      console.log(`| … POST …/exec \`echo ok\` | ${fmt(st.exec.p50_ms)} | ${fmt(st.exec.p90_ms)} | ${fmt(st.exec.mean_ms)} | ${share(st.exec)} of bkg |`);
      if (p) console.log(`| bwrap --unshare-all (ro /) /bin/echo ok, cold | ${fmt(p.p50_ms)} | ${fmt(p.p90_ms)} | ${fmt(p.mean_ms)} | 1.00× |`);
      console.log(`| (not timed above: DELETE, running sandbox) | ${fmt(st.delete.p50_ms)} | ${fmt(st.delete.p90_ms)} | ${fmt(st.delete.mean_ms)} | |`);
      console.log('');
      console.log(`median ratio ${ratio === null ? 'n/a' : `${fmt(ratio, 2)}×`} (target ≤ 1.5×: ${ratio === null ? 'n/a' : verdict(ratio <= 1.5)}); ${opts.coldN} measured rounds each`);
      console.log('');
      results.phases.cold_first_output = { bkg: s, steps: st, bwrap: p, ratio_median: ratio, target: '<= 1.5', met: ratio === null ? null : ratio <= 1.5 };
    }

    // ---- 3. bkg exec via the CLI -----------------------------------------------------------
    {
      console.log('## 3. `bkg exec NAME -- true` end to end vs `node -e 0`');
      console.log('');
      // BKG_PORT=0: should our daemon die mid-run, the CLI starts one of its own in this home; it
      // must not take the host's TCP port. Cleanup stops any such daemon (see strayDaemons).
      const cliEnv = { ...process.env, BKG_HOME: home, BKG_PORT: '0' };
      delete cliEnv.BKG_API_URL;
      delete cliEnv.BKG_API_KEY;
      const help = spawnSync(process.execPath, [join(ROOT, 'bin/run.js'), 'exec', '--help'], { env: cliEnv, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
      if (help.status !== 0) {
        const why = (help.stderr?.toString() || help.stdout?.toString() || '').trim().split('\n').pop();
        const note = `skipped: \`node bin/run.js exec --help\` failed (${help.error?.message ?? `exit status ${help.status}`}${why ? `: ${why.trim()}` : ''}); the command does not exist yet`;
        console.log(note);
        console.log('');
        results.phases.cli_exec = { skipped: note };
      } else {
        const sb = 'bench-warm';
        const bkg = [];
        const node = [];
        let error = null;
        for (let i = 0; i < Math.min(opts.warmup, 3) + opts.cliN && !error; i++) {
          try {
            const a = spawnTimed(process.execPath, [join(ROOT, 'bin/run.js'), 'exec', sb, '--', 'true'], { env: cliEnv, cwd: ROOT });
            const b = spawnTimed(process.execPath, ['-e', '0'], { env: cliEnv, cwd: ROOT });
            if (i >= Math.min(opts.warmup, 3)) {
              bkg.push(a.ms);
              node.push(b.ms);
            }
            // spawnSync blocks this event loop, so undici cannot notice the daemon closing our idle
            // keep-alive connection (Node's 5 s server timeout); a ping between runs keeps it in use.
            await api('GET', '/healthz', undefined, 200);
          } catch (err) {
            error = err.message.split('\n').filter(Boolean).slice(0, 3).join(' / ');
          }
        }
        await sleep(100); // let a daemon exit be noticed: a dead daemon is a failure, not a skipped row
        check();
        if (error) {
          const note = `skipped: \`bkg exec ${sb} -- true\` failed: ${error}`;
          console.log(note);
          console.log('');
          results.phases.cli_exec = { skipped: note };
        } else {
          const s = summarize(bkg);
          const p = summarize(node);
          const ratio = s.p50_ms / p.p50_ms;
          console.log('| variant | median ms | p90 ms | mean ms | × node -e 0 |');
          console.log('|---|---:|---:|---:|---:|');
          console.log(`| node bin/run.js exec ${sb} -- true | ${fmt(s.p50_ms)} | ${fmt(s.p90_ms)} | ${fmt(s.mean_ms)} | ${fmt(ratio, 2)}× |`);
          console.log(`| node -e 0 | ${fmt(p.p50_ms)} | ${fmt(p.p90_ms)} | ${fmt(p.mean_ms)} | 1.00× |`);
          console.log('');
          console.log(`median ratio ${fmt(ratio, 2)}× (target ≤ 2.5×: ${verdict(ratio <= 2.5)}); ${opts.cliN} measured runs each, round-robin`);
          console.log('');
          results.phases.cli_exec = { bkg: s, node: p, ratio_median: ratio, target: '<= 2.5', met: ratio <= 2.5 };
        }
      }
      await remove('bench-warm');
    }

    // ---- 4. idle sandboxes -----------------------------------------------------------------
    {
      await sleep(500);
      const before = snapshot(pid);
      const memBefore = await memAvailable();
      const helpersBefore = new Set(before.helpers);
      const idleNames = [];
      const t0 = nowMs();
      for (let i = 0; i < opts.idle; i++) {
        const sb = `bench-idle-${i}`;
        idleNames.push(sb);
        await create(sb);
        await startSb(sb);
      }
      const startS = (nowMs() - t0) / 1000;
      await sleep(2000); // let them settle: nothing runs in them
      const memAfter = await memAvailable();
      const during = snapshot(pid);
      const newHelpers = during.helpers.filter((h) => !helpersBefore.has(h));
      const helperPss = newHelpers.reduce((a, h) => a + (pss(h) ?? 0), 0);
      const cgMem = cgroupMemory(idleNames.map((n) => ids.get(n)));
      const perSandbox = mib(memBefore - memAfter) / opts.idle;
      // MemAvailable is host-wide: if it rose, something else freed memory meanwhile and the row says nothing.
      const hostMet = perSandbox < 0 ? null : perSandbox <= 2;
      const hostVerdict = hostMet === null ? 'inconclusive (MemAvailable rose: other activity on the host)' : verdict(hostMet);
      const rssAfter = during.daemon_rss;
      const t1 = nowMs();
      for (const sb of idleNames) await remove(sb);
      const deleteS = (nowMs() - t1) / 1000;
      const after = await settle(pid, before);
      const leftOurs = idleNames.map((n) => ids.get(n)).filter((id) => after.cgroup_paths.some((p) => p.endsWith(`/${id}`)));
      const cgOk = after.cgroup_dirs <= before.cgroup_dirs && leftOurs.length === 0;
      const helpersOk = after.helpers.length <= before.helpers.length;
      console.log(`## 4. ${opts.idle} idle running sandboxes`);
      console.log('');
      console.log(`| metric | before | with ${opts.idle} running | per sandbox | target |`);
      console.log('|---|---:|---:|---:|---:|');
      console.log(`| host MemAvailable, MiB | ${fmt(mib(memBefore), 1)} | ${fmt(mib(memAfter), 1)} | ${fmt(perSandbox, 2)} MiB | ≤ 2 MiB: ${hostVerdict} |`);
      console.log(`| daemon VmRSS, MiB | ${fmt(mib(before.daemon_rss), 1)} | ${fmt(mib(rssAfter), 1)} | ${fmt(mib(rssAfter - before.daemon_rss) / opts.idle, 3)} MiB | ≤ 150 MiB: ${verdict(mib(rssAfter) <= 150)} |`);
      console.log(`| sandbox memory cgroups, usage sum, MiB (info) | – | ${cgMem === null ? '–' : fmt(mib(cgMem), 1)} | ${cgMem === null ? '–' : `${fmt(mib(cgMem) / opts.idle, 2)} MiB`} | |`);
      console.log(`| new bkg-helper processes, Pss sum, MiB (info) | – | ${fmt(mib(helperPss), 1)} | ${fmt(mib(helperPss) / opts.idle, 2)} MiB | |`);
      console.log(`| bkg-helper processes | ${before.helpers.length} | ${during.helpers.length} | ${fmt((during.helpers.length - before.helpers.length) / opts.idle, 1)} | |`);
      console.log(`| daemon open fds | ${before.daemon_fds} | ${during.daemon_fds} | ${fmt((during.daemon_fds - before.daemon_fds) / opts.idle, 1)} | |`);
      console.log('');
      console.log(`started ${opts.idle} in ${fmt(startS, 1)} s (create + start, one at a time), deleted them in ${fmt(deleteS, 1)} s`);
      console.log('');
      console.log('| after deleting them all | at start | with them running | after delete | back to start? |');
      console.log('|---|---:|---:|---:|---|');
      console.log(`| cgroup dirs under bkg/ (${cgroupSummary(before.cgroup_dirs_by_controller).replace(/ \d+/g, '')}) | ${before.cgroup_dirs} (${cgroupSummary(before.cgroup_dirs_by_controller)}) | ${during.cgroup_dirs} (${cgroupSummary(during.cgroup_dirs_by_controller)}) | ${after.cgroup_dirs} (${cgroupSummary(after.cgroup_dirs_by_controller)}) | ${cgOk ? 'yes' : 'NO'} |`);
      console.log(`| bkg-helper processes | ${before.helpers.length} | ${during.helpers.length} | ${after.helpers.length} | ${helpersOk ? 'yes' : 'NO'} |`);
      console.log('');
      if (!cgOk) leakFailures.push(`idle: cgroup dirs ${before.cgroup_dirs} → ${after.cgroup_dirs}${leftOurs.length ? ` (${leftOurs.length} of this bench's sandboxes)` : ''}: ${after.cgroup_paths.filter((p) => !before.cgroup_paths.includes(p)).slice(0, 5).join(', ')}`);
      if (!helpersOk) leakFailures.push(`idle: bkg-helper processes ${before.helpers.length} → ${after.helpers.length} (new pids ${after.helpers.filter((h) => !helpersBefore.has(h)).slice(0, 10).join(', ')})`);
      results.phases.idle = {
        sandboxes: opts.idle,
        host_mem_available_before_mib: mib(memBefore),
        host_mem_available_after_mib: mib(memAfter),
        host_mib_per_sandbox: perSandbox,
        host_target: '<= 2',
        host_met: hostMet,
        daemon_rss_before_mib: mib(before.daemon_rss),
        daemon_rss_after_mib: mib(rssAfter),
        daemon_rss_target: '<= 150',
        daemon_rss_met: mib(rssAfter) <= 150,
        cgroup_memory_usage_sum_mib: cgMem === null ? null : mib(cgMem),
        helper_pss_sum_mib: mib(helperPss),
        start_all_s: startS,
        delete_all_s: deleteS,
        cgroup_dirs: { start: before.cgroup_dirs, running: during.cgroup_dirs, after: after.cgroup_dirs },
        helpers: { start: before.helpers.length, running: during.helpers.length, after: after.helpers.length },
        cleaned_up: cgOk && helpersOk,
      };
    }

    // ---- 5. create → exec → destroy cycles ---------------------------------------------------
    {
      await sleep(200);
      const before = snapshot(pid);
      const cycleIds = [];
      const per = [];
      const deadline = nowMs() + opts.cycleSeconds * 1000;
      const t0 = nowMs();
      let n = 0;
      while (nowMs() < deadline) {
        const sb = `bench-cycle-${n}`;
        const c0 = nowMs();
        const created = await create(sb);
        cycleIds.push(created.id);
        await startSb(sb);
        await exec(sb, ['true']);
        await remove(sb);
        per.push(nowMs() - c0);
        n++;
      }
      const elapsedS = (nowMs() - t0) / 1000;
      const after = await settle(pid, before);
      const s = summarize(per);
      const leftOurs = cycleIds.filter((id) => after.cgroup_paths.some((p) => p.endsWith(`/${id}`)));
      const rows = [
        ['cgroup dirs under bkg/', before.cgroup_dirs, after.cgroup_dirs, Math.max(after.cgroup_dirs - before.cgroup_dirs, leftOurs.length)],
        ['host mounts (/proc/self/mountinfo lines)', before.mounts, after.mounts, after.mounts - before.mounts],
        ['bkg-helper processes', before.helpers.length, after.helpers.length, after.helpers.length - before.helpers.length],
        ['daemon open fds (/proc/PID/fd)', before.daemon_fds, after.daemon_fds, after.daemon_fds - before.daemon_fds],
      ];
      console.log(`## 5. create → start → exec \`true\` → delete, for ${opts.cycleSeconds} s`);
      console.log('');
      console.log('| cycles | seconds | cycles/s | per cycle p50 ms | p90 ms | p99 ms |');
      console.log('|---:|---:|---:|---:|---:|---:|');
      console.log(`| ${n} | ${fmt(elapsedS, 1)} | ${fmt(n / elapsedS, 2)} | ${fmt(s.p50_ms)} | ${fmt(s.p90_ms)} | ${fmt(s.p99_ms)} |`);
      console.log('');
      console.log('| resource | before | after | leaked |');
      console.log('|---|---:|---:|---:|');
      for (const [what, b, a, d] of rows) console.log(`| ${what} | ${b} | ${a} | ${d > 0 ? `**${d}**` : 0} |`);
      console.log(`| daemon VmRSS, MiB (info, not a leak check) | ${fmt(mib(before.daemon_rss), 1)} | ${fmt(mib(after.daemon_rss), 1)} | |`);
      console.log('');
      for (const [what, b, a, d] of rows) if (d > 0) leakFailures.push(`cycles: ${what} ${b} → ${a}`);
      if (leftOurs.length) leakFailures.push(`cycles: ${leftOurs.length} of this bench's sandbox cgroup dirs left (${leftOurs.slice(0, 5).join(', ')})`);
      results.phases.cycles = {
        seconds: elapsedS,
        cycles: n,
        cycles_per_s: n / elapsedS,
        per_cycle: s,
        leaks: Object.fromEntries(rows.map(([what, b, a, d]) => [what, { before: b, after: a, leaked: Math.max(0, d) }])),
        daemon_rss_before_mib: mib(before.daemon_rss),
        daemon_rss_after_mib: mib(after.daemon_rss),
      };
    }
  } catch (err) {
    failure = err;
  } finally {
    // Cleanup: delete whatever this run created (sandboxes outlive the daemon), stop the daemon,
    // remove the temp home. If the daemon died, a fresh one on the same home re-adopts the
    // sandboxes from its database and deletes them.
    const cleanupErrors = await cleanup({ home, names, ownsId: (id) => [...ids.values()].includes(id), getDaemon: () => daemon, setDaemon: (d) => (daemon = d), client, setClient: (c) => (client = c) });
    if (cleanupErrors.length) {
      for (const e of cleanupErrors) console.error(`daemon-bench: cleanup: ${e}`);
      leakFailures.push(...cleanupErrors.map((e) => `cleanup: ${e}`));
    }
  }

  const elapsedS = (nowMs() - started) / 1000;
  if (failure) {
    console.error(`daemon-bench: failed: ${failure.stack ?? failure}`);
    process.exitCode = 1;
    return;
  }
  console.log(`leak check: ${leakFailures.length ? `FAILED: ${leakFailures.join('; ')}` : 'OK (cgroup dirs, mounts, bkg-helper processes and daemon fds back to where they started)'}`);
  console.log(`(${fmt(elapsedS, 1)} s in all)`);
  const json = {
    bench: 'daemon',
    mode: opts.quick ? 'quick' : 'full',
    options: opts,
    elapsed_s: elapsedS,
    host: { kernel: release(), cpus: cpus().length, node: process.version, cgroup_version: existsSync('/sys/fs/cgroup/cgroup.controllers') ? 2 : 1 },
    client: client?.kind ?? null,
    limits: LIMITS,
    skipped: notes,
    ...results,
    leaks: { ok: leakFailures.length === 0, failures: leakFailures },
  };
  console.log(`JSON: ${JSON.stringify(round3(json))}`);
  if (leakFailures.length) process.exitCode = 1;
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

/**
 * Daemons running on `home` other than ours: `bkg exec` starts one (`bin/run.js daemon start
 * --foreground`, detached) when nothing answers on the socket, e.g. after our daemon died.
 */


async function cleanup({ home, names, ownsId, getDaemon, setDaemon, client, setClient }) {
  const errors = [];
  const ourPids = new Set();
  const deleteAll = async (c) => {
    for (const name of [...names]) {
      try {
        const r = await c.call('DELETE', `/api/v1/sandboxes/${name}`);
        if (r.status === 204 || r.status === 404) names.delete(name);
        else errors.push(`DELETE ${name}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
      } catch (err) {
        errors.push(`DELETE ${name}: ${err.message}`);
        if (!alive(getDaemon())) break; // a dead connection is retried by the next request; a dead daemon is not
      }
    }
  };
  try {
    if (getDaemon()) ourPids.add(getDaemon().child.pid);
    if (names.size && client && alive(getDaemon())) await deleteAll(client);
    if (names.size) {
      // Our daemon is gone (or could not delete). Whatever daemon answers on this home's socket
      // (one `bkg exec` started) serves the same database; else start a fresh one. Either
      // re-adopts the running sandboxes, which outlive their daemon, and can delete them.
      errors.length = 0;
      await client?.close();
      await stopDaemonChild(getDaemon());
      let c = await makeClient(join(home, 'bkg.sock'));
      const answers = await Promise.race([c.call('GET', '/healthz').then(() => true, () => false), sleep(2000).then(() => false)]);
      if (!answers) {
        await c.close();
        const d = await startDaemonChild(home);
        setDaemon(d);
        ourPids.add(d.child.pid);
        c = await makeClient(d.info.socket);
      }
      setClient(c);
      client = c;
      await deleteAll(c);
      if (names.size) errors.push(`could not delete ${names.size} sandbox(es): ${[...names].slice(0, 5).join(', ')}`);
    }
  } catch (err) {
    errors.push(`deleting sandboxes: ${err.message}`);
  }
  try {
    await client?.close();
  } catch {
    /* closing anyway */
  }
  try {
    await stopDaemonChild(getDaemon());
  } catch (err) {
    errors.push(`stopping the daemon: ${err.message}`);
  }
  // Every sandbox this run created must have taken its cgroups with it (the helper removes them as it exits).
  const ourDirs = () => cgroupDirs().all.filter((d) => ownsId(d.slice(d.lastIndexOf('/') + 1)));
  const deadline = nowMs() + 5000;
  while (ourDirs().length && nowMs() < deadline) await sleep(100);
  if (ourDirs().length) errors.push(`${ourDirs().length} cgroup dir(s) of this run's sandboxes are left: ${ourDirs().slice(0, 5).join(', ')}`);
  const strays = strayDaemons(home, [...ourPids]);
  if (strays.length) {
    console.error(`daemon-bench: stopping ${strays.length} daemon(s) that \`bkg exec\` started in ${home}: pid ${strays.join(', ')}`);
    await stopPids(strays);
  }
  rmSync(home, { recursive: true, force: true });
  return errors;
}

if (process.argv.includes('--daemon-child')) await daemonChild();
else await main();
