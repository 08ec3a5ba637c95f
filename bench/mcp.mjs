#!/usr/bin/env node
// The MCP path next to REST, measured side by side in one run: the round trip of `sandbox_exec`
// running `true` in one running sandbox, on a real bkg daemon (started from dist/ in a child
// process) in a temp BKG_HOME.
//
//   sudo node bench/mcp.mjs [--quick] [--n N] [--warmup N]
//
// 1. REST: POST /api/v1/sandboxes/NAME/exec {"cmd":["true"]} over $BKG_HOME/bkg.sock (keep-alive)
// 2. MCP Streamable HTTP: the official SDK client, one session, to http://127.0.0.1:PORT/mcp with an
//    admin key, callTool sandbox_exec
// 3. MCP stdio: the SDK client spawning `node bin/run.js mcp` (the bridge to the daemon's /mcp on
//    the unix socket), one session, callTool sandbox_exec; skipped while the command does not exist
// (info) REST over TCP with an admin key, which splits TCP + key auth from MCP itself; and the
//        floors of each transport without an exec: GET /healthz, MCP ping over HTTP (SDK client,
//        and bare POSTs into the same session) and over stdio
//
// Needs root, a built helper (make -C helper) and a compiled dist/ (npx tsc -p tsconfig.build.json).
// See bench/README.md. Exits 1 when it fails or cannot clean up.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { daemonChild, freePort, nowMs, percentile, round3, sleep, stopPids, strayDaemons } from './lib.mjs';

const SELF = fileURLToPath(import.meta.url);
const ROOT = dirname(dirname(SELF));
const RUN_JS = join(ROOT, 'bin/run.js');
/** The limits of the bench sandbox (the same as bench/daemon.mjs). */
const LIMITS = { memory_mb: 64, pids: 32 };
const SANDBOX = 'bench-mcp';
const CMD = ['true'];

// ---------------------------------------------------------------------------------------------
// Daemon child: `node bench/mcp.mjs --daemon-child` with BKG_HOME and BKG_PORT set. Prints one
// READY line with the daemon's info, and closes on SIGTERM/SIGINT or when the parent's pipe to
// stdin closes.
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------
function usage(code) {
  console.log(`usage: node bench/mcp.mjs [options]

  --quick       fewer runs ($BENCH_QUICK=1)
  --n N         measured calls per variant (default 200; quick 50; $BENCH_N)
  --warmup N    unmeasured rounds first (default 20; quick 5; $BENCH_WARMUP)`);
  process.exit(code);
}

function die(msg) {
  console.error(`mcp-bench: ${msg}`);
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
    else if (flag === '--n') raw.n = value();
    else if (flag === '--warmup') raw.warmup = value();
    else if (flag === '--help' || flag === '-h') usage(0);
    else die(`unknown argument "${argv[i]}" (try --help)`);
  }
  const pick = (key, envName, normal, fast, min) => {
    const v = raw[key] ?? env[envName] ?? String(quick ? fast : normal);
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) die(`${key}: needs an integer >= ${min}, got "${v}"`);
    return n;
  };
  return { quick, n: pick('n', 'BENCH_N', 200, 50, 1), warmup: pick('warmup', 'BENCH_WARMUP', 20, 5, 0) };
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------
function summarize(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return { n: s.length, p50_ms: percentile(s, 50), p90_ms: percentile(s, 90), p99_ms: percentile(s, 99), mean_ms: mean, min_ms: s[0], max_ms: s[s.length - 1] };
}

const fmt = (n, d = 3) => (n === null || n === undefined || Number.isNaN(n) ? '–' : n.toFixed(d));
const firstLine = (s) => String(s ?? '').trim().split('\n').filter(Boolean).slice(-1)[0] ?? '';


/** A TCP port that was free a moment ago on 127.0.0.1 (the daemon binds it right after). */

/** Cgroup directories named after `id` under bkg's parents (v1: per controller; v2: unified). */
function cgroupDirsOf(id) {
  const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
  const bases = v2 ? ['/sys/fs/cgroup/bkg'] : ['memory', 'cpu', 'pids'].map((c) => `/sys/fs/cgroup/${c}/bkg`);
  return bases.map((b) => join(b, id)).filter((p) => existsSync(p));
}

// ---------------------------------------------------------------------------------------------
// HTTP: undici (a dependency of bkg, used by its CLI) with one keep-alive connection, over the
// unix socket (no key: the host admin) or over TCP with a bearer key.
// ---------------------------------------------------------------------------------------------
async function makeClient({ socketPath, origin = 'http://localhost', key } = {}) {
  const { Client } = await import('undici');
  const client = new Client(origin, { ...(socketPath ? { socketPath } : {}), pipelining: 1, keepAliveTimeout: 600_000, keepAliveMaxTimeout: 600_000, headersTimeout: 120_000, bodyTimeout: 120_000 });
  const auth = key ? { authorization: `Bearer ${key}` } : {};
  return {
    async call(method, path, body, headers = {}) {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const res = await client.request({ method, path, headers: { ...auth, ...(payload ? { 'content-type': 'application/json' } : {}), ...headers }, body: payload });
      const text = await res.body.text();
      let parsed;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = text;
      }
      return { status: res.statusCode, body: parsed };
    },
    close: () => client.close().catch(() => {}),
  };
}

// ---------------------------------------------------------------------------------------------
// The daemon process
// ---------------------------------------------------------------------------------------------
function startDaemonChild(home, port) {
  return new Promise((resolve, reject) => {
    // Rate limits out of the way: the keyed variants send an admin key's 100/s (burst 200) within
    // a few seconds. The limiter still runs on every keyed request, so its cost stays in.
    const env = { ...process.env, BKG_HOME: home, BKG_PORT: String(port), BKG_RATE_LIMITS: 'admin=1000000/1000000' };
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

const alive = (d) => d && d.child.exitCode === null && d.child.signalCode === null;

async function stopDaemonChild(d) {
  if (!alive(d)) return;
  d.child.kill('SIGTERM');
  let timer;
  const killed = await Promise.race([d.exited.then(() => false), new Promise((r) => (timer = setTimeout(() => r(true), 10_000)))]);
  clearTimeout(timer);
  if (killed) {
    d.child.kill('SIGKILL');
    await d.exited;
  }
}

/**
 * Daemons running on `home` other than ours: the CLI (here, `bkg mcp` when it reconnects) starts
 * one (`bin/run.js daemon start --foreground`) when nothing answers on the socket.
 */


// ---------------------------------------------------------------------------------------------
// MCP clients (the official SDK, as an editor or agent would use it)
// ---------------------------------------------------------------------------------------------
/** The SDK's modules, loaded before anything is timed (and only in the bench process, not the daemon child). */
async function loadSdk() {
  const [{ Client }, { StreamableHTTPClientTransport }, { StdioClientTransport }] = await Promise.all([
    import('@modelcontextprotocol/sdk/client/index.js'),
    import('@modelcontextprotocol/sdk/client/streamableHttp.js'),
    import('@modelcontextprotocol/sdk/client/stdio.js'),
  ]);
  return { Client, StreamableHTTPClientTransport, StdioClientTransport };
}

async function mcpHttpClient({ Client, StreamableHTTPClientTransport }, url, key) {
  const client = new Client({ name: 'bkg-bench', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${key}` } } });
  await client.connect(transport);
  return { client, transport };
}

/** Spawns `node bin/run.js mcp`; its stderr is kept (the last 4 KiB) for error messages. */
async function mcpStdioClient({ Client, StdioClientTransport }, env) {
  const transport = new StdioClientTransport({ command: process.execPath, args: [RUN_JS, 'mcp'], env, cwd: ROOT, stderr: 'pipe' });
  const stderr = { text: '' };
  transport.stderr?.on('data', (d) => {
    stderr.text = (stderr.text + d.toString()).slice(-4096);
  });
  const client = new Client({ name: 'bkg-bench', version: '1.0.0' });
  try {
    await client.connect(transport);
  } catch (err) {
    await client.close().catch(() => {});
    err.stderr = stderr.text;
    throw err;
  }
  return { client, transport, stderr };
}

/** How the bridge process ended, for notes ('running' while it runs). `_process` is the SDK transport's own child. */
function bridgeExit(stdio) {
  const p = stdio?.transport._process;
  if (!p) return 'unknown';
  if (p.exitCode === null && p.signalCode === null) return 'running';
  return p.signalCode ? `killed by ${p.signalCode}` : `exit status ${p.exitCode}`;
}

/** One sandbox_exec tool call; throws unless it ran and exited 0. Returns the exec's duration_ms. */
async function callExec(client, sandbox) {
  const r = await client.callTool({ name: 'sandbox_exec', arguments: { sandbox, cmd: CMD } });
  const sc = r.structuredContent;
  if (r.isError || !sc || sc.exit_code !== 0) throw new Error(`sandbox_exec ${CMD.join(' ')}: ${JSON.stringify(sc ?? r.content)}`);
  return sc.duration_ms;
}

// ---------------------------------------------------------------------------------------------
// main
// ---------------------------------------------------------------------------------------------
async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (process.platform !== 'linux') die('needs Linux');
  if (process.getuid?.() !== 0) die('must run as root (the daemon creates cgroups and id-maps sandboxes): sudo node bench/mcp.mjs');
  if (!existsSync(join(ROOT, 'dist/daemon/main.js'))) die('dist/ is missing: run `npx tsc -p tsconfig.build.json` first');
  const { detectHost } = await import('../dist/runtime/host.js');
  const host = detectHost();
  if (!existsSync(host.helperPath)) die(`helper not found at ${host.helperPath} (build it: make -C helper)`);

  const sdk = await loadSdk();

  const home = realpathSync(mkdtempSync(join(tmpdir(), 'bkg-mbench-')));
  const notes = [];
  const state = { daemon: null, unix: null, tcp: null, tcpMcp: null, mcpHttp: null, stdio: null, sandboxId: null, created: false };
  let aborted = null;
  const onSignal = (sig) => {
    aborted ??= sig;
    console.error(`mcp-bench: ${sig}: cleaning up`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const check = () => {
    if (aborted) throw new Error(`interrupted by ${aborted}`);
    if (state.daemon && !alive(state.daemon)) throw new Error('the daemon exited');
  };

  const results = {};
  let failure = null;
  const started = nowMs();
  try {
    const port = await freePort();
    state.daemon = await startDaemonChild(home, port);
    const info = state.daemon.info;
    if (info.port !== port) throw new Error(`the daemon listens on TCP port ${info.port}, not ${port}`);
    state.unix = await makeClient({ socketPath: info.socket });
    const api = async (c, method, path, body, want) => {
      check();
      const r = await c.call(method, path, body);
      if (want !== undefined && r.status !== want) throw new Error(`${method} ${path}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
      return r;
    };

    // Two admin keys: one for the MCP session (the bare pings into it must use the same key: a
    // session is bound to the key that opened it), one for REST over TCP.
    const newKey = async (name) => (await api(state.unix, 'POST', '/api/v1/keys', { name, role: 'admin' }, 201)).body.secret;
    const mcpKey = await newKey('bench-mcp-http');
    const tcpKey = await newKey('bench-rest-tcp');

    state.created = true;
    const created = await api(state.unix, 'POST', '/api/v1/sandboxes', { name: SANDBOX, limits: LIMITS }, 201);
    state.sandboxId = created.body.id;
    await api(state.unix, 'POST', `/api/v1/sandboxes/${SANDBOX}/start`, undefined, 200);

    state.tcp = await makeClient({ origin: `http://127.0.0.1:${port}`, key: tcpKey });
    state.tcpMcp = await makeClient({ origin: `http://127.0.0.1:${port}`, key: mcpKey });
    const restExec = async (c) => {
      const r = await api(c, 'POST', `/api/v1/sandboxes/${SANDBOX}/exec`, { cmd: CMD }, 200);
      if (r.body.exit_code !== 0) throw new Error(`exec ${CMD.join(' ')}: ${JSON.stringify(r.body)}`);
      return r.body.duration_ms;
    };

    const mcpUrl = `http://127.0.0.1:${port}/mcp`;
    let t0 = nowMs();
    state.mcpHttp = await mcpHttpClient(sdk, mcpUrl, mcpKey);
    const httpConnectMs = nowMs() - t0;
    // A JSON-RPC ping POSTed by hand into the SDK client's session: the daemon's MCP cost without the client's.
    const rawHeaders = {
      accept: 'application/json, text/event-stream',
      'content-type': 'application/json',
      'mcp-session-id': state.mcpHttp.transport.sessionId,
      ...(state.mcpHttp.transport.protocolVersion ? { 'mcp-protocol-version': state.mcpHttp.transport.protocolVersion } : {}),
    };
    let rawId = 0;
    const rawPing = async () => {
      check();
      const id = `bench-${++rawId}`;
      const r = await state.tcpMcp.call('POST', '/mcp', { jsonrpc: '2.0', id, method: 'ping' }, rawHeaders);
      // The daemon answers as an SSE stream (event: message / data: {...}).
      if (r.status !== 200 || !String(r.body).includes(`"id":"${id}"`) || !String(r.body).includes('"result"')) throw new Error(`raw ping: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    };

    // `bkg mcp`: BKG_PORT=0, so that should our daemon die mid-run, a daemon the CLI starts in this
    // home does not take a TCP port; the bridge talks to $BKG_HOME/bkg.sock either way. The SDK
    // adds only a safe default environment (PATH, HOME, ...), so no BKG_API_URL/BKG_API_KEY leaks in.
    const stdioEnv = { BKG_HOME: home, BKG_PORT: '0' };
    let stdioConnectMs = null;
    {
      const helpEnv = { ...process.env, ...stdioEnv };
      delete helpEnv.BKG_API_URL;
      delete helpEnv.BKG_API_KEY;
      const help = spawnSync(process.execPath, [RUN_JS, 'mcp', '--help'], { env: helpEnv, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
      if (help.status !== 0) {
        const why = firstLine(help.stderr?.toString() || help.stdout?.toString());
        notes.push(`MCP stdio skipped: \`node bin/run.js mcp --help\` failed (${help.error?.message ?? `exit status ${help.status}`}${why ? `: ${why}` : ''}); the command does not exist yet`);
      } else {
        t0 = nowMs();
        try {
          state.stdio = await mcpStdioClient(sdk, stdioEnv);
          stdioConnectMs = nowMs() - t0;
        } catch (err) {
          check();
          notes.push(`MCP stdio skipped: connecting to \`node bin/run.js mcp\` failed: ${err.message}${err.stderr ? ` (stderr: ${firstLine(err.stderr)})` : ''}`);
        }
      }
    }

    const variants = [
      { key: 'rest_unix', label: 'REST: POST …/exec over the unix socket (undici, keep-alive, no key)', call: () => restExec(state.unix), samples: [], inside: [] },
      { key: 'mcp_http', label: 'MCP Streamable HTTP: SDK callTool sandbox_exec, TCP 127.0.0.1 /mcp, admin key, 1 session', call: () => callExec(state.mcpHttp.client, SANDBOX), samples: [], inside: [] },
      { key: 'mcp_stdio', label: 'MCP stdio: SDK callTool sandbox_exec → `node bin/run.js mcp` → daemon /mcp on the unix socket, 1 session', call: () => callExec(state.stdio.client, SANDBOX), samples: [], inside: [], stdio: true, off: !state.stdio },
      { key: 'rest_tcp', label: '(info) REST: POST …/exec over TCP 127.0.0.1 with an admin key (undici, keep-alive)', call: () => restExec(state.tcp), samples: [], inside: [] },
      // Floors: the same transports without an exec.
      { key: 'healthz_unix', label: '(info) floor: GET /healthz over the unix socket', call: () => api(state.unix, 'GET', '/healthz', undefined, 200), samples: [], inside: [], floor: true },
      { key: 'ping_mcp_http', label: '(info) floor: MCP `ping` over Streamable HTTP (SDK client, same session)', call: () => state.mcpHttp.client.ping(), samples: [], inside: [], floor: true },
      { key: 'ping_mcp_raw', label: '(info) floor: the same `ping` as a bare POST /mcp (undici, TCP, no SDK client)', call: rawPing, samples: [], inside: [], floor: true },
      { key: 'ping_mcp_stdio', label: '(info) floor: MCP `ping` over stdio → bridge → daemon (same session)', call: () => state.stdio.client.ping(), samples: [], inside: [], floor: true, stdio: true, off: !state.stdio },
    ];

    console.log('# bkg MCP bench: `sandbox_exec` of `true` in one running sandbox, REST vs MCP');
    console.log(`host: Linux ${release()}, ${cpus().length} CPU(s) (${cpus()[0]?.model.trim() ?? '?'}), node ${process.version}, cgroups ${existsSync('/sys/fs/cgroup/cgroup.controllers') ? 'v2' : 'v1'}`);
    console.log(`daemon: pid ${info.pid}, bkg ${info.version}, socket ${info.socket}, TCP 127.0.0.1:${port}; sandbox ${SANDBOX} (${state.sandboxId}), runtime shell, limits ${JSON.stringify(LIMITS)}`);
    console.log(`mode: ${opts.quick ? 'quick' : 'full'}: ${opts.n} measured calls per variant after ${opts.warmup} warm-up rounds, round-robin`);
    console.log(`session set-up (not in the table): MCP HTTP connect ${fmt(httpConnectMs, 1)} ms; MCP stdio spawn + connect ${stdioConnectMs === null ? '–' : `${fmt(stdioConnectMs, 1)} ms`}`);
    for (const n of notes) console.log(`note: ${n}`);
    console.log('');

    // Round-robin: one call of each variant per round, so machine noise spreads over all of them.
    for (let i = 0; i < opts.warmup + opts.n; i++) {
      for (const v of variants) {
        if (v.off) continue;
        check();
        const c0 = nowMs();
        let inside;
        try {
          inside = await v.call();
        } catch (err) {
          if (!v.stdio) throw err;
          // The bridge is still being written: a failure there drops its rows (all their samples,
          // so no row rests on fewer runs than the others), not the run.
          check();
          for (const w of variants.filter((x) => x.stdio)) {
            w.off = true;
            w.samples.length = 0;
            w.inside.length = 0;
          }
          await sleep(100); // let the bridge's exit be seen
          const note = `MCP stdio dropped in round ${i + 1} (${v.key}): ${err.message}; bridge: ${bridgeExit(state.stdio)}${state.stdio?.stderr.text ? `, stderr: ${firstLine(state.stdio.stderr.text)}` : ', nothing on stderr'}`;
          notes.push(note);
          console.log(`note: ${note}`);
          continue;
        }
        const ms = nowMs() - c0;
        if (i >= opts.warmup) {
          v.samples.push(ms);
          if (typeof inside === 'number') v.inside.push(inside);
        }
      }
    }

    const measured = variants.filter((v) => v.samples.length);
    for (const v of measured) {
      v.stats = summarize(v.samples);
      v.insideStats = v.inside.length ? summarize(v.inside) : null;
    }
    const rest = variants[0].stats;
    const ratio = (s) => s.p50_ms / rest.p50_ms;
    console.log('| variant | p50 ms | p90 ms | p99 ms | mean ms | × REST p50 |');
    console.log('|---|---:|---:|---:|---:|---:|');
    for (const v of variants) {
      if (!v.stats) console.log(`| ${v.label} | skipped (see note) | | | | |`);
      else console.log(`| ${v.label} | ${fmt(v.stats.p50_ms)} | ${fmt(v.stats.p90_ms)} | ${fmt(v.stats.p99_ms)} | ${fmt(v.stats.mean_ms)} | ${v.floor ? '' : `${fmt(ratio(v.stats), 2)}×`} |`);
      if (v === variants[0] && v.insideStats) {
        const ri = v.insideStats;
        console.log(`| (info) … the exec's own \`duration_ms\` (REST responses), as the helper reports it | ${fmt(ri.p50_ms)} | ${fmt(ri.p90_ms)} | ${fmt(ri.p99_ms)} | ${fmt(ri.mean_ms)} | |`);
      }
    }
    console.log('');
    const over = measured.filter((v) => v !== variants[0] && !v.floor).map((v) => `${v.key} ${v.stats.p50_ms >= rest.p50_ms ? "+" : "−"}${fmt(Math.abs(v.stats.p50_ms - rest.p50_ms), 2)} ms`);
    console.log(`p50 over REST (unix): ${over.join(', ') || '–'}; ${opts.n} measured calls each`);
    console.log('');

    results.variants = Object.fromEntries(variants.map((v) => [v.key, v.stats ? { label: v.label, ...v.stats, ...(v.floor ? {} : { ratio_p50_to_rest: ratio(v.stats), exec_duration_ms: v.insideStats }) } : { label: v.label, skipped: true }]));
    results.session_setup_ms = { mcp_http: httpConnectMs, mcp_stdio: stdioConnectMs };
  } catch (err) {
    failure = state.daemon && !alive(state.daemon) && !/daemon exited/.test(err.message) ? new Error(`the daemon exited (${state.daemon.child.signalCode ?? `status ${state.daemon.child.exitCode}`}): ${err.stack ?? err}`) : err;
  } finally {
    const errors = await cleanup(home, state);
    for (const e of errors) console.error(`mcp-bench: cleanup: ${e}`);
    results.cleanup = { ok: errors.length === 0, errors };
  }

  const elapsedS = (nowMs() - started) / 1000;
  if (failure) {
    console.error(`mcp-bench: failed: ${failure.stack ?? failure}`);
    process.exitCode = 1;
    return;
  }
  console.log(`cleanup: ${results.cleanup.ok ? 'OK (sandbox deleted, its cgroups gone, daemon stopped, temp home removed)' : `FAILED: ${results.cleanup.errors.join('; ')}`}`);
  console.log(`(${fmt(elapsedS, 1)} s in all)`);
  const json = {
    bench: 'mcp',
    mode: opts.quick ? 'quick' : 'full',
    options: opts,
    elapsed_s: elapsedS,
    host: { kernel: release(), cpus: cpus().length, node: process.version, cgroup_version: existsSync('/sys/fs/cgroup/cgroup.controllers') ? 2 : 1 },
    limits: LIMITS,
    notes,
    ...results,
  };
  console.log(`JSON: ${JSON.stringify(round3(json))}`);
  if (!results.cleanup.ok) process.exitCode = 1;
}

/**
 * Close the MCP sessions (which ends the bridge), delete the sandbox (it outlives the daemon: if
 * ours died, whatever daemon answers on the home's socket, or a fresh one, re-adopts it from the
 * database), stop the daemon and any stray one, wait for the sandbox's cgroups, remove the home.
 */
async function cleanup(home, state) {
  const errors = [];
  const ourPids = [];
  if (state.daemon) ourPids.push(state.daemon.child.pid);
  if (state.mcpHttp) await state.mcpHttp.client.close().catch((err) => errors.push(`closing the MCP HTTP session: ${err.message}`));
  if (state.stdio) {
    const pid = state.stdio.transport.pid;
    await state.stdio.client.close().catch((err) => errors.push(`closing the MCP stdio session: ${err.message}`));
    // The SDK ends stdin, then SIGTERMs and SIGKILLs after 2 s each; make sure.
    for (let i = 0; pid && existsSync(`/proc/${pid}`) && i < 100; i++) await sleep(50);
    if (pid && existsSync(`/proc/${pid}`)) {
      errors.push(`the \`bkg mcp\` bridge (pid ${pid}) was still running after close: killed`);
      await stopPids([pid]);
    }
  }
  await state.tcp?.close();
  await state.tcpMcp?.close();
  const deleteSandbox = async (c) => {
    const r = await c.call('DELETE', `/api/v1/sandboxes/${SANDBOX}`);
    if (r.status !== 204 && r.status !== 404) throw new Error(`DELETE ${SANDBOX}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
  };
  if (state.created) {
    let deleted = false;
    let lastErr = null;
    if (state.unix && alive(state.daemon)) {
      try {
        await deleteSandbox(state.unix);
        deleted = true;
      } catch (err) {
        lastErr = err;
      }
    }
    if (!deleted) {
      try {
        await state.unix?.close();
        await stopDaemonChild(state.daemon);
        let c = await makeClient({ socketPath: join(home, 'bkg.sock') });
        const answers = await Promise.race([c.call('GET', '/healthz').then(() => true, () => false), sleep(2000).then(() => false)]);
        if (!answers) {
          await c.close();
          state.daemon = await startDaemonChild(home, 0);
          ourPids.push(state.daemon.child.pid);
          c = await makeClient({ socketPath: state.daemon.info.socket });
        }
        state.unix = c;
        await deleteSandbox(c);
      } catch (err) {
        errors.push(`deleting the sandbox: ${err.message}${lastErr ? ` (first try: ${lastErr.message})` : ''}`);
      }
    }
  }
  await state.unix?.close();
  try {
    await stopDaemonChild(state.daemon);
  } catch (err) {
    errors.push(`stopping the daemon: ${err.message}`);
  }
  if (state.sandboxId) {
    const deadline = nowMs() + 5000;
    while (cgroupDirsOf(state.sandboxId).length && nowMs() < deadline) await sleep(100);
    const left = cgroupDirsOf(state.sandboxId);
    if (left.length) errors.push(`the sandbox's cgroup dir(s) are left: ${left.join(', ')}`);
  }
  const strays = strayDaemons(home, ourPids);
  if (strays.length) {
    console.error(`mcp-bench: stopping ${strays.length} daemon(s) that the CLI started in ${home}: pid ${strays.join(', ')}`);
    await stopPids(strays);
  }
  rmSync(home, { recursive: true, force: true });
  return errors;
}

if (process.argv.includes('--daemon-child')) await daemonChild();
else await main();
