#!/usr/bin/env node
// What traces cost on the hot path: a warm exec (POST /sandboxes/NAME/exec `true`) and GET /healthz
// through three daemons, interleaved round by round so machine noise spreads over all of them:
//
//   off        no OTEL_EXPORTER_OTLP_ENDPOINT: no provider, no-op hooks (the default)
//   rate 0     traces on, CAVE_OTEL_SAMPLING_RATE=0: spans are decided against and dropped
//   rate 1     traces on, every trace kept and exported (OTLP/HTTP JSON) to a receiver in this process
//
//   sudo node bench/otel.mjs [--quick] [--n N] [--json]
//
// Needs Linux, root, a built helper (make -C helper) and dist/ (npx tsc -p tsconfig.build.json).
import { createServer } from 'node:http';
import { DaemonSession, runBench } from './lib/daemon.mjs';
import { checkHost, hostFacts, hostLine } from './lib/host.mjs';
import { parseOptions } from './lib/options.mjs';
import { fmt, paragraph, printJson, section, table } from './lib/output.mjs';
import { roundRobin, rotate, summarize } from './lib/timing.mjs';

const OPTIONS = {
  prog: 'otel-bench',
  script: 'otel.mjs',
  quick: '100 rounds',
  options: {
    n: { flag: '--n', env: 'BENCH_N', default: 400, quick: 100, help: 'measured rounds (each: one exec and one /healthz per daemon)' },
    warmup: { flag: '--warmup', env: 'BENCH_WARMUP', default: 20, quick: 10, smoke: 0, min: 0, help: 'unmeasured rounds first' },
    json: { flag: '--json', type: 'boolean', help: 'print the results as JSON instead of tables' },
  },
};

/** An OTLP/HTTP receiver: counts the spans it is sent. */
async function receiver() {
  let spans = 0;
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      try {
        for (const rs of JSON.parse(Buffer.concat(chunks).toString()).resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) spans += (ss.spans ?? []).length;
      } catch {
        /* not JSON: not counted */
      }
      res.setHeader('content-type', 'application/json');
      res.end('{}');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { endpoint: `http://127.0.0.1:${server.address().port}`, spans: () => spans, close: () => new Promise((r) => server.close(r)) };
}

async function main() {
  const opts = parseOptions(OPTIONS);
  await checkHost({ root: 'must run as root (the daemon creates cgroups and id-maps sandboxes): sudo node bench/otel.mjs', dist: ['dist/daemon/main.js'], helper: true });
  const otlp = await receiver();
  const defs = [
    { name: 'off', env: { OTEL_EXPORTER_OTLP_ENDPOINT: '' } },
    { name: 'rate 0', env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint, CAVE_OTEL_SAMPLING_RATE: '0', OTEL_BSP_SCHEDULE_DELAY: '200' } },
    { name: 'rate 1', env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint, CAVE_OTEL_SAMPLING_RATE: '1', OTEL_BSP_SCHEDULE_DELAY: '200', OTEL_BSP_MAX_QUEUE_SIZE: '100000' } },
  ];
  const sessions = defs.map((d) => ({ ...d, s: new DaemonSession({ prog: OPTIONS.prog, homePrefix: 'bkg-otelbench-' }) }));
  let failed = false;
  try {
    for (const v of sessions) {
      await v.s.open({ env: v.env });
      await v.s.create('hot');
      await v.s.start('hot');
    }
    const variants = sessions.flatMap((v) => [
      { label: v.name, what: 'exec', run: () => v.s.exec('hot', ['true']) },
      { label: v.name, what: 'healthz', run: () => v.s.api('GET', '/healthz', undefined, 200) },
    ]);
    await roundRobin(variants, { n: opts.n, warmup: opts.warmup, order: (vs, round) => rotate(vs, round) });
    await new Promise((r) => setTimeout(r, 600)); // the last batch exported
    const results = Object.fromEntries(sessions.map((v) => [v.name, Object.fromEntries(variants.filter((x) => x.label === v.name).map((x) => [x.what, summarize(x.samples, '_ms')]))]));
    const base = results.off;
    const delta = (name, what) => results[name][what].p50_ms - base[what].p50_ms;
    if (opts.json) {
      printJson({ bench: 'otel', mode: opts.smoke ? 'smoke' : opts.quick ? 'quick' : 'full', host: hostFacts(), n: opts.n, variants: results, spans_received: otlp.spans() });
      return;
    }
    console.log(hostLine());
    section(`Warm exec and /healthz, p50/p90 in ms (${opts.n} rounds, interleaved)`);
    table(['variant', 'exec p50', 'exec p90', 'Δ exec p50 vs off', 'healthz p50', 'healthz p90', 'Δ healthz p50 vs off'], sessions.map(({ name }) => [
      name, fmt(results[name].exec.p50_ms), fmt(results[name].exec.p90_ms), name === 'off' ? '' : fmt(delta(name, 'exec')), fmt(results[name].healthz.p50_ms), fmt(results[name].healthz.p90_ms), name === 'off' ? '' : fmt(delta(name, 'healthz')),
    ]));
    paragraph(`The receiver got ${otlp.spans()} spans (all from "rate 1"). Figures of one run on a shared machine: compare the deltas with the p90-p50 spread before reading anything into them.`);
    printJson({ bench: 'otel', mode: opts.smoke ? 'smoke' : opts.quick ? 'quick' : 'full', n: opts.n, variants: results, spans_received: otlp.spans() });
  } catch (err) {
    console.error(`${OPTIONS.prog}: failed: ${err.stack ?? err}`);
    failed = true;
  } finally {
    for (const v of sessions) {
      const errors = await v.s.close();
      for (const e of errors) console.error(`${OPTIONS.prog}: cleanup: ${e}`);
    }
    await otlp.close();
  }
  if (failed) process.exitCode = 1;
}

await runBench(main);
