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
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { DaemonSession, freePort, runBench, SANDBOX_LIMITS, stopPids } from './lib/daemon.mjs';
import { cgroupV2, checkHost, cliEnv, hostFacts, hostLine, ROOT, RUN_JS } from './lib/host.mjs';
import { parseOptions } from './lib/options.mjs';
import { cells, fmt, lastLine, paragraph, printJson, signed, table, times } from './lib/output.mjs';
import { nowMs, roundRobin, sleep, summarize } from './lib/timing.mjs';

const OPTIONS = {
  prog: 'mcp-bench',
  script: 'mcp.mjs',
  quick: 'fewer runs',
  options: {
    n: { flag: '--n', env: 'BENCH_N', default: 200, quick: 50, help: 'measured calls per variant' },
    warmup: { flag: '--warmup', env: 'BENCH_WARMUP', min: 0, default: 20, quick: 5, help: 'unmeasured rounds first' },
  },
};
const SANDBOX = 'bench-mcp';
const CMD = ['true'];
const P4 = ['p50_ms', 'p90_ms', 'p99_ms', 'mean_ms'];

async function main() {
  const opts = parseOptions(OPTIONS);
  await checkHost({ root: 'must run as root (the daemon creates cgroups and id-maps sandboxes): sudo node bench/mcp.mjs', dist: ['dist/daemon/main.js'], helper: true });
  const sdk = await loadSdk();
  const s = new DaemonSession({ prog: OPTIONS.prog, homePrefix: 'bkg-mbench-' });
  const notes = [];
  const results = {};
  const started = nowMs();
  const { failed, errors } = await s.run(async () => {
    // BKG_PORT: a TCP port, for the Streamable HTTP rows. Rate limits out of the way: the keyed
    // variants send an admin key's 100/s (burst 200) within a few seconds. The limiter still runs
    // on every keyed request, so its cost stays in.
    const port = await freePort();
    const info = await s.open({ port, env: { BKG_RATE_LIMITS: 'admin=1000000/1000000' } });
    // Two admin keys: one for the MCP session (the bare pings into it must use the same key: a
    // session is bound to the key that opened it), one for REST over TCP.
    const newKey = async (name) => (await s.api('POST', '/api/v1/keys', { name, role: 'admin' }, 201)).body.secret;
    const mcpKey = await newKey('bench-mcp-http');
    const tcpKey = await newKey('bench-rest-tcp');
    const sandboxId = (await s.create(SANDBOX)).id;
    await s.start(SANDBOX);
    const tcp = await s.client({ origin: `http://127.0.0.1:${port}`, key: tcpKey });
    const tcpMcp = await s.client({ origin: `http://127.0.0.1:${port}`, key: mcpKey });
    const t0 = nowMs();
    const http = await mcpHttpClient(s, sdk, `http://127.0.0.1:${port}/mcp`, mcpKey);
    const httpConnectMs = nowMs() - t0;
    const { stdio, connectMs: stdioConnectMs } = await mcpStdioClient(s, sdk, notes);

    const restExec = async (c) => (await s.exec(SANDBOX, CMD, c)).duration_ms;
    const variants = [
      { key: 'rest_unix', label: 'REST: POST …/exec over the unix socket (undici, keep-alive, no key)', run: () => restExec(s.unix) },
      { key: 'mcp_http', label: 'MCP Streamable HTTP: SDK callTool sandbox_exec, TCP 127.0.0.1 /mcp, admin key, 1 session', run: () => callExec(http.client) },
      { key: 'mcp_stdio', label: 'MCP stdio: SDK callTool sandbox_exec → `node bin/run.js mcp` → daemon /mcp on the unix socket, 1 session', run: () => callExec(stdio.client), stdio: true, off: !stdio },
      { key: 'rest_tcp', label: '(info) REST: POST …/exec over TCP 127.0.0.1 with an admin key (undici, keep-alive)', run: () => restExec(tcp) },
      // Floors: the same transports without an exec.
      { key: 'healthz_unix', label: '(info) floor: GET /healthz over the unix socket', run: () => s.api('GET', '/healthz', undefined, 200), floor: true },
      { key: 'ping_mcp_http', label: '(info) floor: MCP `ping` over Streamable HTTP (SDK client, same session)', run: () => http.client.ping(), floor: true },
      { key: 'ping_mcp_raw', label: '(info) floor: the same `ping` as a bare POST /mcp (undici, TCP, no SDK client)', run: rawPing(s, tcpMcp, http.transport), floor: true },
      { key: 'ping_mcp_stdio', label: '(info) floor: MCP `ping` over stdio → bridge → daemon (same session)', run: () => stdio.client.ping(), floor: true, stdio: true, off: !stdio },
    ];

    console.log('# bkg MCP bench: `sandbox_exec` of `true` in one running sandbox, REST vs MCP');
    console.log(`${hostLine()}, cgroups ${cgroupV2() ? 'v2' : 'v1'}`);
    console.log(`daemon: pid ${info.pid}, bkg ${info.version}, socket ${info.socket}, TCP 127.0.0.1:${port}; sandbox ${SANDBOX} (${sandboxId}), runtime shell, limits ${JSON.stringify(SANDBOX_LIMITS)}`);
    console.log(`mode: ${opts.quick ? 'quick' : 'full'}: ${opts.n} measured calls per variant after ${opts.warmup} warm-up rounds, round-robin`);
    console.log(`session set-up (not in the table): MCP HTTP connect ${fmt(httpConnectMs, 1)} ms; MCP stdio spawn + connect ${stdioConnectMs === null ? '–' : `${fmt(stdioConnectMs, 1)} ms`}`);
    for (const n of notes) console.log(`note: ${n}`);
    console.log('');

    await roundRobin(variants, { warmup: opts.warmup, n: opts.n, before: () => s.check(), onError: dropStdio(s, variants, stdio, notes) });
    results.variants = report(variants, opts);
    results.session_setup_ms = { mcp_http: httpConnectMs, mcp_stdio: stdioConnectMs };
  });
  results.cleanup = { ok: errors.length === 0, errors };
  if (failed) return;
  const elapsedS = (nowMs() - started) / 1000;
  console.log(`cleanup: ${results.cleanup.ok ? 'OK (sandbox deleted, its cgroups gone, daemon stopped, temp home removed)' : `FAILED: ${errors.join('; ')}`}`);
  console.log(`(${fmt(elapsedS, 1)} s in all)`);
  printJson({
    bench: 'mcp',
    mode: opts.quick ? 'quick' : 'full',
    options: opts,
    elapsed_s: elapsedS,
    host: { ...hostFacts(), cgroup_version: cgroupV2() ? 2 : 1 },
    limits: SANDBOX_LIMITS,
    notes,
    ...results,
  });
  if (!results.cleanup.ok) process.exitCode = 1;
}

/**
 * The round-robin's onError: the bridge is still being written, so a failure there drops its rows
 * (all their samples, so no row rests on fewer runs than the others), with a note, not the run.
 */
function dropStdio(s, variants, stdio, notes) {
  return async (err, v, round) => {
    if (!v.stdio) return false;
    s.check();
    for (const w of variants.filter((x) => x.stdio)) {
      w.off = true;
      w.samples.length = 0;
      w.results.length = 0;
    }
    await sleep(100); // let the bridge's exit be seen
    const note = `MCP stdio dropped in round ${round + 1} (${v.key}): ${err.message}; bridge: ${bridgeExit(stdio)}${stdio.stderr.text ? `, stderr: ${lastLine(stdio.stderr.text)}` : ', nothing on stderr'}`;
    notes.push(note);
    console.log(`note: ${note}`);
    return true;
  };
}

/** The table (ratios to the first row, REST over the unix socket), the p50 differences, and the rows' JSON. */
function report(variants, opts) {
  for (const v of variants) {
    const inside = v.results.filter((x) => typeof x === 'number');
    v.stats = v.samples.length ? summarize(v.samples, '_ms') : null;
    v.insideStats = inside.length ? summarize(inside, '_ms') : null;
  }
  const rest = variants[0].stats;
  const ratio = (st) => st.p50_ms / rest.p50_ms;
  table(
    ['variant', 'p50 ms', 'p90 ms', 'p99 ms', 'mean ms', '× REST p50'],
    variants.flatMap((v) => [
      v.stats ? [v.label, ...cells(v.stats, P4), v.floor ? '' : times(ratio(v.stats))] : [v.label, 'skipped (see note)', '', '', '', ''],
      v === variants[0] && v.insideStats && ["(info) … the exec's own `duration_ms` (REST responses), as the helper reports it", ...cells(v.insideStats, P4), ''],
    ]),
  );
  const over = variants.filter((v) => v.stats && v !== variants[0] && !v.floor).map((v) => `${v.key} ${signed(v.stats.p50_ms - rest.p50_ms)} ms`);
  paragraph(`p50 over REST (unix): ${over.join(', ') || '–'}; ${opts.n} measured calls each`);
  return Object.fromEntries(variants.map((v) => [v.key, v.stats ? { label: v.label, ...v.stats, ...(v.floor ? {} : { ratio_p50_to_rest: ratio(v.stats), exec_duration_ms: v.insideStats }) } : { label: v.label, skipped: true }]));
}

// ---------------------------------------------------------------------------------------------
// MCP clients (the official SDK, as an editor or agent would use it); each is closed at cleanup
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

async function mcpHttpClient(s, { Client, StreamableHTTPClientTransport }, url, key) {
  const client = new Client({ name: 'bkg-bench', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${key}` } } });
  await client.connect(transport);
  s.defer('closing the MCP HTTP session', () => client.close());
  return { client, transport };
}

/**
 * The SDK client on `node bin/run.js mcp` (its stderr kept, the last 4 KiB, for notes), and how
 * long the spawn + connect took; { stdio: null } with a note when the command is missing or the
 * connect fails. BKG_PORT=0, so that should our daemon die mid-run, a daemon the CLI starts in this
 * home does not take a TCP port; the bridge talks to $BKG_HOME/bkg.sock either way. The SDK adds
 * only a safe default environment (PATH, HOME, ...), so no BKG_API_URL/BKG_API_KEY leaks in.
 */
async function mcpStdioClient(s, { Client, StdioClientTransport }, notes) {
  const help = spawnSync(process.execPath, [RUN_JS, 'mcp', '--help'], { env: cliEnv(s.home), cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  if (help.status !== 0) {
    const why = lastLine(help.stderr?.toString() || help.stdout?.toString());
    notes.push(`MCP stdio skipped: \`node bin/run.js mcp --help\` failed (${help.error?.message ?? `exit status ${help.status}`}${why ? `: ${why}` : ''}); the command does not exist yet`);
    return { stdio: null, connectMs: null };
  }
  const t0 = nowMs();
  const transport = new StdioClientTransport({ command: process.execPath, args: [RUN_JS, 'mcp'], env: { BKG_HOME: s.home, BKG_PORT: '0' }, cwd: ROOT, stderr: 'pipe' });
  const stderr = { text: '' };
  transport.stderr?.on('data', (d) => {
    stderr.text = (stderr.text + d.toString()).slice(-4096);
  });
  const client = new Client({ name: 'bkg-bench', version: '1.0.0' });
  try {
    await client.connect(transport);
  } catch (err) {
    await client.close().catch(() => {});
    s.check();
    notes.push(`MCP stdio skipped: connecting to \`node bin/run.js mcp\` failed: ${err.message}${stderr.text ? ` (stderr: ${lastLine(stderr.text)})` : ''}`);
    return { stdio: null, connectMs: null };
  }
  const connectMs = nowMs() - t0;
  const pid = transport.pid;
  // Closing ends the bridge's stdin (the SDK then SIGTERMs and SIGKILLs after 2 s each); make sure.
  s.defer('the `bkg mcp` bridge', async () => {
    for (let i = 0; pid && existsSync(`/proc/${pid}`) && i < 100; i++) await sleep(50);
    if (pid && existsSync(`/proc/${pid}`)) {
      await stopPids([pid]);
      throw new Error(`pid ${pid} was still running after close: killed`);
    }
  });
  s.defer('closing the MCP stdio session', () => client.close());
  return { stdio: { client, transport, stderr }, connectMs };
}

/** How the bridge process ended, for notes ('running' while it runs). `_process` is the SDK transport's own child. */
function bridgeExit(stdio) {
  const p = stdio?.transport._process;
  if (!p) return 'unknown';
  if (p.exitCode === null && p.signalCode === null) return 'running';
  return p.signalCode ? `killed by ${p.signalCode}` : `exit status ${p.exitCode}`;
}

/** One sandbox_exec tool call; throws unless it ran and exited 0. Returns the exec's duration_ms. */
async function callExec(client) {
  const r = await client.callTool({ name: 'sandbox_exec', arguments: { sandbox: SANDBOX, cmd: CMD } });
  const sc = r.structuredContent;
  if (r.isError || !sc || sc.exit_code !== 0) throw new Error(`sandbox_exec ${CMD.join(' ')}: ${JSON.stringify(sc ?? r.content)}`);
  return sc.duration_ms;
}

/** A JSON-RPC ping POSTed by hand into the SDK client's session: the daemon's MCP cost without the client's. */
function rawPing(s, c, transport) {
  const headers = {
    accept: 'application/json, text/event-stream',
    'content-type': 'application/json',
    'mcp-session-id': transport.sessionId,
    ...(transport.protocolVersion ? { 'mcp-protocol-version': transport.protocolVersion } : {}),
  };
  let seq = 0;
  return async () => {
    s.check();
    const id = `bench-${++seq}`;
    const r = await c.call('POST', '/mcp', { jsonrpc: '2.0', id, method: 'ping' }, headers);
    // The daemon answers as an SSE stream (event: message / data: {...}).
    if (r.status !== 200 || !String(r.body).includes(`"id":"${id}"`) || !String(r.body).includes('"result"')) throw new Error(`raw ping: HTTP ${r.status} ${JSON.stringify(r.body)}`);
  };
}

await runBench(main);
