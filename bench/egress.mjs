#!/usr/bin/env node
// HTTP through a sandbox's egress proxy vs direct, on loopback: an HTTP server in a child process on
// the host's 127.0.0.2 (standing in for the internet), curl inside real bkg sandboxes (the runtime
// from dist/, the proxy in this process as under `bkg run --rm`), three ways:
//
//   direct   --network host: curl straight to the server (the baseline)
//   http     --network allow:127.0.0.2:PORT: curl through HTTP_PROXY, plain HTTP (the proxy parses each request)
//   connect  the same, with a CONNECT tunnel (curl -p: what HTTPS uses; the proxy only relays bytes)
//
// Measured: throughput of large downloads (MiB/s per transfer) and of small requests on one kept-alive
// connection (requests/s). Target: through the proxy ≥ 0.8× direct, for the downloads. Each round
// runs the variants in a rotated order (no variant always first), after one unmeasured warm-up pass
// per variant (the proxy's code runs warm, as direct's has none to warm).
//
//   node bench/egress.mjs [--quick] [--size-mb N] [--downloads N] [--requests N] [--rounds N]
//
// Needs Linux, a built helper (make -C helper), dist/ (npx tsc -p tsconfig.build.json) and curl.
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { checkHost, hostFacts, hostLine, which } from './lib/host.mjs';
import { die, parseOptions } from './lib/options.mjs';
import { cells, fmt, paragraph, printJson, section, table, times, verdict } from './lib/output.mjs';
import { nowMs, rotate, summarize } from './lib/timing.mjs';

const OPTIONS = {
  prog: 'egress-bench',
  script: 'egress.mjs',
  quick: 'smaller downloads and fewer rounds, about 15 s',
  options: {
    sizeMb: { flag: '--size-mb', env: 'BENCH_SIZE_MB', default: 256, quick: 64, help: 'size of each large download, MiB' },
    downloads: { flag: '--downloads', env: 'BENCH_DOWNLOADS', default: 5, quick: 3, help: 'large downloads per round and variant (one curl, one connection each)' },
    requests: { flag: '--requests', env: 'BENCH_REQUESTS', default: 500, quick: 200, help: 'small requests per round and variant (one curl, one kept-alive connection)' },
    rounds: { flag: '--rounds', env: 'BENCH_ROUNDS', default: 3, quick: 2, help: 'rounds; the variants run round-robin in each' },
  },
};
const LOOPBACK = '127.0.0.2';
const MiB = 1024 * 1024;
const TARGET = 0.8;
/** `args` n times over (curl takes an -o per URL). */
const repeat = (n, args) => Array.from({ length: n }, () => args).flat();

/** The server's side: `node bench/egress.mjs --server-child` prints its port, then serves /blob?mb=N and /small until stdin ends. */
async function serverChild() {
  const chunk = Buffer.alloc(MiB, 'x');
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/small') return void res.end('ok');
    const total = Number(url.searchParams.get('mb') ?? '1');
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total * MiB) });
    let sent = 0;
    const pump = () => {
      while (sent < total) {
        sent++;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((r) => server.listen(0, LOOPBACK, r));
  process.stdout.write(`PORT ${server.address().port}\n`);
  process.stdin.on('end', () => process.exit(0)).resume();
}

function startServer() {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [process.argv[1], '--server-child'], { stdio: ['pipe', 'pipe', 'inherit'] });
    child.on('error', reject);
    child.stdout.setEncoding('utf8').on('data', (d) => {
      const m = /PORT (\d+)/.exec(d);
      if (m) resolve({ port: Number(m[1]), stop: () => child.stdin.end() });
    });
  });
}

/** Run curl in a fresh sandbox; its stdout. */
async function curlIn(engine, network, args) {
  const { newSandboxId } = await import('../dist/runtime/definition.js');
  const { withDefaults } = await import('../dist/runtime/limits.js');
  const out = [];
  const err = [];
  const r = await engine.run(
    { id: newSandboxId(), argv: ['curl', '-sS', ...args], limits: withDefaults({ memoryBytes: 256 * MiB, pids: 64, timeoutMs: 600_000 }), network },
    { stdio: ['ignore', 'pipe', 'pipe'], onStdout: (c) => out.push(c), onStderr: (c) => err.push(c) },
  );
  if (r.exitCode !== 0 || r.networkDenied) die(`curl failed in a sandbox (${network}): exit ${r.exitCode}: ${Buffer.concat(err).toString().trim()}`);
  return Buffer.concat(out).toString();
}

async function main() {
  if (process.argv.includes('--server-child')) return serverChild();
  const opts = parseOptions(OPTIONS);
  const host = await checkHost({ dist: ['dist/runtime/engine.js'], helper: true });
  if (!which('curl')) die('curl is not installed (the client inside the sandboxes): apt-get install curl');
  const { SandboxEngine } = await import('../dist/runtime/engine.js');
  const { createLogger } = await import('../dist/log.js');
  const engine = new SandboxEngine({ host, log: createLogger({ level: 'silent' }) });
  const server = await startServer();
  const base = `http://${LOOPBACK}:${server.port}`;
  const allow = `allow:${LOOPBACK}:${server.port}`;
  const VARIANTS = [
    { name: 'direct', network: 'host', extra: ['--noproxy', '*'] },
    { name: 'http', network: allow, extra: [] },
    { name: 'connect', network: allow, extra: ['-p'] },
  ];
  console.log('# bkg egress bench');
  console.log(hostLine());
  console.log(`server: node on ${LOOPBACK}:${server.port} (a child process); client: curl in a bkg sandbox; the proxy: this process (as under \`bkg run --rm\`)`);
  console.log(`mode: ${opts.quick ? 'quick' : 'full'}: ${opts.downloads} × ${opts.sizeMb} MiB downloads and ${opts.requests} small requests per round and variant, ${opts.rounds} rounds`);
  console.log('');
  const mibps = Object.fromEntries(VARIANTS.map((v) => [v.name, []]));
  const rps = Object.fromEntries(VARIANTS.map((v) => [v.name, []]));
  const started = nowMs();
  try {
    // warm-up, not measured: one download and a few small requests per variant
    for (const v of VARIANTS) {
      await curlIn(engine, v.network, [...v.extra, ...repeat(2, ['-o', '/dev/null', `${base}/blob?mb=${Math.min(opts.sizeMb, 16)}`])]);
      await curlIn(engine, v.network, [...v.extra, ...repeat(50, ['-o', '/dev/null', `${base}/small`])]);
    }
    for (let round = 0; round < opts.rounds; round++) {
      for (const v of rotate(VARIANTS, round)) {
        // one curl per measurement: its transfers share one kept-alive connection
        const big = await curlIn(engine, v.network, [...v.extra, '-w', '%{speed_download}\\n', ...repeat(opts.downloads, ['-o', '/dev/null', `${base}/blob?mb=${opts.sizeMb}`])]);
        mibps[v.name].push(...big.trim().split('\n').map((bps) => Number(bps) / MiB));
        const small = await curlIn(engine, v.network, [...v.extra, '-w', '%{time_total}\\n', ...repeat(opts.requests, ['-o', '/dev/null', `${base}/small`])]);
        const secs = small.trim().split('\n').map(Number);
        rps[v.name].push(secs.length / secs.reduce((a, b) => a + b, 0));
      }
    }
  } finally {
    server.stop();
  }
  const big = Object.fromEntries(VARIANTS.map((v) => [v.name, summarize(mibps[v.name])]));
  const small = Object.fromEntries(VARIANTS.map((v) => [v.name, summarize(rps[v.name])]));
  const ratio = (s, name) => s[name].p50 / s.direct.p50;
  section(`Large downloads (${opts.sizeMb} MiB each), MiB/s per transfer`);
  table(['path', 'p50', 'min', 'max', 'mean', 'vs direct (p50)'], VARIANTS.map((v) => [v.name, ...cells(big[v.name], ['p50', 'min', 'max', 'mean'], 0), v.name === 'direct' ? '1.00×' : times(ratio(big, v.name))]));
  section(`Small requests (${opts.requests} on one kept-alive connection), requests/s`);
  table(['path', 'p50', 'min', 'max', 'vs direct (p50)'], VARIANTS.map((v) => [v.name, ...cells(small[v.name], ['p50', 'min', 'max'], 0), v.name === 'direct' ? '1.00×' : times(ratio(small, v.name))]));
  const worst = Math.min(ratio(big, 'http'), ratio(big, 'connect'));
  paragraph(`target: downloads through the proxy ≥ ${TARGET}× direct: ${verdict(worst >= TARGET)} (worst ${times(worst)}); ${fmt((nowMs() - started) / 1000, 1)} s in all`);
  printJson({
    bench: 'egress', host: hostFacts(), options: opts,
    downloads_mib_s: big, small_requests_per_s: small,
    ratios: { http_download: ratio(big, 'http'), connect_download: ratio(big, 'connect'), http_small: ratio(small, 'http'), connect_small: ratio(small, 'connect') },
    target: TARGET, met: worst >= TARGET,
  });
}

await main();
