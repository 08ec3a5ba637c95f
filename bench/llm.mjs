#!/usr/bin/env node
// The admin LLM through the daemon next to the same work done without it, side by side in one run,
// on a real bkg daemon (started from dist/ in a child process) in a temp BKG_HOME, with the test
// model stories260K.gguf.
//
//   sudo node bench/llm.mjs [--quick] [--n-chat N] [--n-pull N] [--n-auth N] [--model PATH]
//
// 1. Inference: a streamed chat through POST /api/v1/llm/chat (SSE, a model-access key over TCP)
//    vs node-llama-cpp called directly in this process with the daemon's settings (same model
//    file, threads, context size, prompt template, sampling and stop rules), alternating; time to
//    the first text and tokens/s.
// 2. Pull: POST /api/v1/admin/llm/models {source: http URL, sha256} until the job is done
//    (download + verification in a throwaway sandbox, the spare the daemon started after the pull
//    before; an untimed pause after each pull lets it start) vs a plain streamed HTTP download of the same
//    URL to a file, for a 64 MiB GGUF made by the bench (one F32 tensor of random data; --pull-mib)
//    and, for information, the 1.2 MB test model; the files are served by a node:http server in
//    this process.
// 3. Key check: GET /v1/models with a valid model-access key (signature verify + revocation check)
//    vs GET /healthz (no auth), over one keep-alive TCP connection.
//
// Needs root, a built helper (make -C helper: the pull verifies in a sandbox), a compiled dist/
// (npx tsc -p tsconfig.build.json) and the model file. See bench/README.md. Exits 1 when it
// fails or cannot clean up.
import { createHash, createPublicKey, randomFillSync } from 'node:crypto';
import { copyFileSync, createReadStream, createWriteStream, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, get as httpGet } from 'node:http';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { DaemonSession, freePort, runBench } from './lib/daemon.mjs';
import { cgroupDirs, checkHost, hostFacts, hostLine, ROOT, tempDir } from './lib/host.mjs';
import { die, parseOptions } from './lib/options.mjs';
import { cells, fmt, paragraph, printJson, section, signed, table, times, verdict } from './lib/output.mjs';
import { nowMs, rotate, roundRobin, sleep, summarize } from './lib/timing.mjs';

const MODEL_SHA256 = '270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d';
const OPTIONS = {
  prog: 'llm-bench',
  script: 'llm.mjs',
  quick: 'fewer runs',
  options: {
    nChat: { flag: '--n-chat', env: 'BENCH_N_CHAT', default: 10, quick: 3, help: 'measured chat rounds, each one API + one direct' },
    nPull: { flag: '--n-pull', env: 'BENCH_N_PULL', default: 10, quick: 3, help: 'measured pull rounds, each one pull + one plain download' },
    nAuth: { flag: '--n-auth', env: 'BENCH_N_AUTH', default: 1000, quick: 200, help: 'measured requests per key-check variant' },
    pullMib: { flag: '--pull-mib', env: 'BENCH_PULL_MIB', default: 64, quick: 64, help: 'size of the GGUF file of the pull rows, MiB' },
    warmup: { flag: '--warmup', env: 'BENCH_WARMUP', default: 2, quick: 1, help: 'unmeasured chat and pull rounds first', more: ['the key-check rows get 20× as many'] },
    model: {
      flag: '--model',
      arg: 'PATH',
      type: 'string',
      env: 'BENCH_MODEL',
      default: join(ROOT, '..', 'shared', 'models', 'stories260K.gguf'),
      shownDefault: '../shared/models/stories260K.gguf',
      help: 'the model file',
      more: [`its sha256 must be ${MODEL_SHA256.slice(0, 12)}… unless $BENCH_MODEL_SHA256 says otherwise`],
    },
  },
};
const MODEL_ID = 'stories';
/** The id of the big file of row 2. */
const BIG_ID = 'bench-big';
/** The targets of issue 14. */
const TARGET_TPS = 0.95;
const TARGET_FIRST_MS = 2;
const TARGET_PULL = 0.9;
const NAMESPACE = 'default';
/** The chat of row 1: the same as test/daemon/llm-flow.test.ts. */
const MESSAGES = [{ role: 'user', content: 'Once upon a time' }];
const MAX_TOKENS = 128;
const TEMPERATURE = 0;
/** The untimed pause after each measured pull (the daemon starts its spare verifier meanwhile). */
const SPARE_SETTLE_MS = 500;
/** How often the chat model's pull is polled (the measured pulls follow the event stream instead). */
const POLL_MS = 5;
const HIGH = 1_000_000;

async function main() {
  const opts = { ...parseOptions(OPTIONS), sha256: process.env.BENCH_MODEL_SHA256 ?? MODEL_SHA256 };
  await checkHost({ root: 'needs root (the pull verifies the model in a sandbox); try sudo', dist: ['dist/daemon/main.js', 'dist/llm/engine-llama.js'] });
  if (!existsSync(opts.model)) die(`no model file at ${opts.model} (--model PATH)`);
  const s = new DaemonSession({ prog: OPTIONS.prog, homePrefix: 'bkg-bench-llm-home-', strictStop: true });
  const work = tempDir('bkg-bench-llm-');
  s.defer('the temp files', () => {
    rmSync(work, { recursive: true, force: true });
    if (existsSync(work)) throw new Error(`could not remove ${work}`);
  });
  const notes = [];
  const results = {};
  const started = nowMs();
  const load0 = loadavg();
  const cgroupsBefore = new Set(cgroupDirs().all);
  const { failed, errors } = await s.run(async () => {
    // The model, copied next to the plain downloads (both served and read from this temp dir).
    const modelFile = join(work, 'stories260K.gguf');
    copyFileSync(opts.model, modelFile);
    const file = await serveFile(s, modelFile, 'stories260K.gguf');
    const bigFile = join(work, 'big.gguf');
    const bigSha256 = writeBigGguf(bigFile, opts.pullMib * 1024 * 1024);
    const big = { ...(await serveFile(s, bigFile, 'big.gguf')), sha256: bigSha256 };
    const port = await freePort();
    // Rate limits out of the way (the pull polls and the key-check rows send many requests); the
    // limiter still runs on every keyed request. Model-access keys get a high rpm at approval.
    const info = await s.open({ port, env: { BKG_RATE_LIMITS: ['admin', 'namespace', 'readonly'].map((r) => `${r}=${HIGH}/${HIGH}`).join(',') } });
    console.log("# bkg LLM bench: the daemon's model paths next to the same work without it");
    console.log(`${hostLine()}; load average at start ${load0.map((l) => l.toFixed(2)).join(' ')}`);
    console.log(`daemon: pid ${info.pid}, bkg ${info.version}, TCP 127.0.0.1:${port}; model ${opts.model} (${file.size} bytes), sha256 ${opts.sha256.slice(0, 12)}…`);
    console.log(`pull file: ${big.url} (${big.size} bytes, a GGUF with one F32 tensor of random data), sha256 ${big.sha256.slice(0, 12)}…`);
    console.log(`mode: ${opts.quick ? 'quick' : 'full'}: chat ${opts.nChat} rounds, pull ${opts.nPull} rounds (after ${opts.warmup} warm-up round(s) each), key check ${opts.nAuth} requests per variant`);

    // Row 2 is measured first: the chat model is pulled afterwards, so no id or digest clash.
    const pulls = await measurePulls(s, opts, big, file, join(work, 'plain.gguf'));
    await pullModel(s, file.url, opts.sha256);
    const token = await modelAccessKey(s);
    const tcp = await s.client({ origin: `http://127.0.0.1:${port}` });
    const direct = await loadDirect(s, modelFile);
    console.log(`inference: node-llama-cpp CPU only, threads ${direct.threads}, context ${direct.contextSize} (LlamaEngine's defaults, which the daemon uses), max_tokens ${MAX_TOKENS}, temperature ${TEMPERATURE}; prompt ${JSON.stringify(direct.promptText)}`);
    console.log('');

    results.chat = await chat(s, opts, tcp, token, direct, notes);
    results.pull = reportPulls(opts, pulls, big.size, file.size);
    results.key_check = await keyCheck(s, opts, port, token);
  });
  results.cleanup = { ok: errors.length === 0, errors };
  if (failed) return;
  // The pulls' verifiers ran in throwaway sandboxes (ids not reported by the API): any cgroup dir
  // that appeared during the run and is still there 5 s on is reported (other bkg runs on the host
  // can cause this too, so it is a note, not a failure).
  let leftCgroups = [];
  for (const deadline = nowMs() + 5000; ; await sleep(100)) {
    leftCgroups = cgroupDirs().all.filter((d) => !cgroupsBefore.has(d));
    if (!leftCgroups.length || nowMs() > deadline) break;
  }
  if (leftCgroups.length) notes.push(`sandbox cgroup dirs that appeared during the run are still there (ours, or another bkg run's): ${leftCgroups.join(', ')}`);
  results.cleanup.new_cgroup_dirs_left = leftCgroups;

  const elapsedS = (nowMs() - started) / 1000;
  const load1 = loadavg();
  for (const n of notes) console.log(`note: ${n}`);
  console.log(`load average at the end: ${load1.map((l) => l.toFixed(2)).join(' ')} (other work on the host shows up in every row)`);
  console.log(`cleanup: ${results.cleanup.ok ? `OK (in-process model disposed, daemon stopped, file server closed, temp home and files removed; new sandbox cgroup dirs left: ${leftCgroups.length})` : `FAILED: ${errors.join('; ')}`}`);
  console.log(`(${fmt(elapsedS, 1)} s in all)`);
  printJson({
    bench: 'llm',
    mode: opts.quick ? 'quick' : 'full',
    options: opts,
    elapsed_s: elapsedS,
    host: { ...hostFacts(), loadavg_start: load0, loadavg_end: load1 },
    notes,
    ...results,
  });
  if (!results.cleanup.ok) process.exitCode = 1;
}

// ---------------------------------------------------------------------------------------------
// Row 1: streamed chat through the API, and node-llama-cpp directly
// ---------------------------------------------------------------------------------------------

/** A model-access key the way an admin gets one: request it, approve it (rpm out of the way). */
async function modelAccessKey(s) {
  const reqId = (await s.api('POST', '/api/v1/llm/requests', { model_id: MODEL_ID, cave_namespace: NAMESPACE }, 201)).body.id;
  return (await s.api('POST', `/api/v1/admin/llm/requests/${reqId}/approve`, { scopes: ['chat'], ttl_s: 3600, rpm: HIGH }, 200)).body.token;
}

/** The streamed API chat, the direct one and the non-streamed API chat, in a different order each round; prints row 1. */
async function chat(s, opts, tcp, token, direct, notes) {
  const [api, dir, whole] = await roundRobin(
    [{ run: () => apiChat(tcp, token) }, { run: () => directChat(direct) }, { run: () => apiChatWhole(tcp, token) }],
    { warmup: opts.warmup, n: opts.nChat, order: (vs, i) => rotate(vs, i % vs.length), before: () => s.check() },
  );
  const runs = { api: api.results, direct: dir.results, whole: whole.results };
  // The same settings must give the same tokens: a mismatch means the comparison is off.
  const apiTexts = new Set([...runs.api, ...runs.whole].map((r) => r.text));
  const directTexts = new Set(runs.direct.map((r) => r.text));
  const sameText = apiTexts.size === 1 && directTexts.size === 1 && [...apiTexts][0] === [...directTexts][0];
  if (!sameText) notes.push(`the API and the direct calls did not produce the same text (API: ${apiTexts.size} distinct, direct: ${directTexts.size} distinct)`);
  const sameTokens = [...runs.api, ...runs.whole].every((r) => r.tokens === runs.direct[0].tokens) && runs.direct.every((r) => r.tokens === runs.direct[0].tokens);
  if (!sameTokens) notes.push('the API and the direct calls generated different numbers of tokens');
  const tps = (r) => r.tokens / (r.totalMs / 1000);
  const insideTps = (r) => r.tokens / (r.insideMs / 1000);
  const of = (rs, f) => summarize(rs.map(f));
  const side = (rs) => ({ first: of(rs, (r) => r.firstMs), total: of(rs, (r) => r.totalMs), tps: of(rs, tps), tokens: rs[0].tokens, finish: rs[0].finish });
  const c = {
    api: side(runs.api),
    direct: side(runs.direct),
    inside: { first: of(runs.api, (r) => r.insideFirstMs), total: of(runs.api, (r) => r.insideMs), tps: of(runs.api, insideTps) },
    whole: { total: of(runs.whole, (r) => r.totalMs), tps: of(runs.whole, tps), inside: of(runs.whole, (r) => r.insideMs), insideTps: of(runs.whole, insideTps) },
  };
  const tpsRatio = c.api.tps.p50 / c.direct.tps.p50;
  // Paired by round (the two ran within a second of each other): steadier on a busy host.
  const pairedRatio = summarize(runs.api.map((r, i) => tps(r) / tps(runs.direct[i]))).p50;
  const pairedFirst = summarize(runs.api.map((r, i) => r.firstMs - runs.direct[i].firstMs)).p50;
  const firstDiff = c.api.first.p50 - c.direct.first.p50;
  const perToken = (c.api.total.p50 - c.direct.total.p50) / c.api.tokens;
  const firstApi = api.warm[0];
  const range = (st) => `${fmt(st.min, 1)}–${fmt(st.max, 1)}`;
  const vsDirect = (st) => times(st.p50 / c.direct.tps.p50, 3);
  section(`1. Streamed chat: POST /api/v1/llm/chat vs node-llama-cpp in-process (${opts.nChat} rounds, order rotated each round, medians)`);
  table(['variant', 'first text p50 ms', 'min–max', 'total p50 ms', 'tokens', 'tokens/s p50', '× direct'], [
    ['API: SSE over TCP 127.0.0.1, model-access key + X-Cave-Namespace (undici, keep-alive)', fmt(c.api.first.p50), range(c.api.first), fmt(c.api.total.p50), `${c.api.tokens} (${c.api.finish})`, fmt(c.api.tps.p50, 0), vsDirect(c.api.tps)],
    ["direct: node-llama-cpp in the bench process, the engine's prompt, context and stop rules", fmt(c.direct.first.p50), range(c.direct.first), fmt(c.direct.total.p50), `${c.direct.tokens} (${c.direct.finish})`, fmt(c.direct.tps.p50, 0), '1.000×'],
    ["(info) … the daemon's own `first_token_ms` / `duration_ms` (the API's done events)", fmt(c.inside.first.p50), range(c.inside.first), fmt(c.inside.total.p50), '', fmt(c.inside.tps.p50, 0), vsDirect(c.inside.tps)],
    ['(info) API not streamed (`stream: false`): the whole answer', '', '', fmt(c.whole.total.p50), '', fmt(c.whole.tps.p50, 0), vsDirect(c.whole.tps)],
    ['(info) … its own `duration_ms`', '', '', fmt(c.whole.inside.p50), '', fmt(c.whole.insideTps.p50, 0), vsDirect(c.whole.insideTps)],
  ]);
  console.log(`tokens/s ratio (API / direct, medians): ${fmt(tpsRatio, 3)}× (target ≥ ${TARGET_TPS}×: ${verdict(tpsRatio >= TARGET_TPS)}); first text: ${signed(firstDiff)} ms over direct (target ≤ ${TARGET_FIRST_MS} ms: ${verdict(firstDiff <= TARGET_FIRST_MS)}); same text both ways: ${sameText ? 'yes' : 'NO'}`);
  console.log(`paired by round (median of the per-round values): tokens/s ratio ${fmt(pairedRatio, 3)}×, first text ${signed(pairedFirst)} ms; the API adds ${signed(perToken, 3)} ms per token (total p50 difference / tokens) to direct's ${fmt(c.direct.total.p50 / c.direct.tokens, 3)} ms`);
  paragraph(`not in the table: the first API call (the daemon loads the model): first text ${fmt(firstApi?.firstMs, 1)} ms, total ${fmt(firstApi?.totalMs, 1)} ms; the bench's own model load ${fmt(direct.loadMs, 1)} ms`);
  return {
    api: c.api, direct: c.direct, daemon_inside: c.inside, not_streamed: c.whole, tokens_per_s_ratio: tpsRatio, tokens_per_s_target_met: tpsRatio >= TARGET_TPS, paired_tokens_per_s_ratio: pairedRatio, paired_first_text_added_ms: pairedFirst, added_ms_per_token: perToken,
    first_text_added_ms: firstDiff, first_text_target_met: firstDiff <= TARGET_FIRST_MS, same_text: sameText,
    first_api_call_ms: firstApi ? { first: firstApi.firstMs, total: firstApi.totalMs } : null, direct_model_load_ms: direct.loadMs,
    settings: { threads: direct.threads, context_size: direct.contextSize, max_tokens: MAX_TOKENS, temperature: TEMPERATURE, prompt: direct.promptText },
  };
}

/** One streamed chat over `client` (TCP, keep-alive): time to the first `text` event, to the `done` event, and the text. */
async function apiChat(c, token) {
  const body = JSON.stringify({ model: MODEL_ID, messages: MESSAGES, max_tokens: MAX_TOKENS, temperature: TEMPERATURE, stream: true });
  const t0 = nowMs();
  const res = await c.request({
    method: 'POST',
    path: '/api/v1/llm/chat',
    headers: { authorization: `Bearer ${token}`, 'x-cave-namespace': NAMESPACE, 'content-type': 'application/json' },
    body,
  });
  if (res.statusCode !== 200) throw new Error(`POST /api/v1/llm/chat: HTTP ${res.statusCode} ${await res.body.text()}`);
  let buf = '';
  let text = '';
  let firstMs = null;
  let done = null;
  let doneMs = null;
  res.body.setEncoding('utf8');
  for await (const chunk of res.body) {
    buf += chunk;
    let at;
    while ((at = buf.indexOf('\n\n')) >= 0) {
      const event = buf.slice(0, at);
      buf = buf.slice(at + 2);
      const data = event.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
      if (!data) continue;
      const e = JSON.parse(data);
      if (typeof e.text === 'string' && e.text !== '') {
        firstMs ??= nowMs() - t0;
        text += e.text;
      } else if (e.done === true) {
        done = e;
        doneMs = nowMs() - t0;
      } else if (e.error) throw new Error(`chat stream error: ${JSON.stringify(e)}`);
    }
  }
  if (!done) throw new Error('the chat stream ended without a done event');
  const tokens = done.usage?.completion_tokens;
  if (!Number.isInteger(tokens) || tokens < 1) throw new Error(`done event without usage.completion_tokens: ${JSON.stringify(done)}`);
  return { firstMs, totalMs: doneMs, tokens, text, finish: done.finish_reason, insideFirstMs: done.first_token_ms, insideMs: done.duration_ms };
}

/** The same chat, not streamed (stream: false): one JSON answer with the daemon's own timings. */
async function apiChatWhole(c, token) {
  const t0 = nowMs();
  const r = await c.call('POST', '/api/v1/llm/chat', { model: MODEL_ID, messages: MESSAGES, max_tokens: MAX_TOKENS, temperature: TEMPERATURE, stream: false }, { authorization: `Bearer ${token}`, 'x-cave-namespace': NAMESPACE });
  const totalMs = nowMs() - t0;
  if (r.status !== 200) throw new Error(`POST /api/v1/llm/chat (stream: false): HTTP ${r.status} ${JSON.stringify(r.body)}`);
  return { totalMs, tokens: r.body.usage?.completion_tokens, text: r.body.message?.content, insideFirstMs: r.body.first_token_ms, insideMs: r.body.duration_ms };
}

/**
 * node-llama-cpp in this process, doing what LlamaEngine.generate does per request: tokenize the
 * template (BOS first when the model wants it), a fresh context (one sequence), evaluate with the
 * same sampling, decode and scan for the template's stop strings with the engine's own
 * StreamingDecoder/StopScanner, stop at EOG/BOS or max_tokens, dispose the context. Timed from
 * before the tokenize to the first text and to the disposed context (the daemon sends `done` after that).
 */
async function directChat(d) {
  const { model, engine, threads, contextSize } = d;
  const t0 = nowMs();
  const promptText = engine.formatChatPrompt(MESSAGES);
  const bos = model.tokens.shouldPrependBosToken ? model.tokens.bos : null;
  const prompt = bos === null ? model.tokenize(promptText) : [bos, ...model.tokenize(promptText)];
  const budget = Math.min(MAX_TOKENS, contextSize - prompt.length);
  const context = await model.createContext({ contextSize, threads, sequences: 1 });
  const decoder = new engine.StreamingDecoder(model, prompt);
  const stopper = new engine.StopScanner(engine.CHAT_STOP_STRINGS);
  let tokens = 0;
  let text = '';
  let firstMs = null;
  let finish = 'stop';
  const emit = (delta) => {
    if (delta === '') return;
    firstMs ??= nowMs() - t0;
    text += delta;
  };
  try {
    const it = context.getSequence().evaluate(prompt, { temperature: TEMPERATURE });
    try {
      for (;;) {
        const next = await it.next();
        if (next.done === true || model.isEogToken(next.value) || (model.tokens.bos !== null && next.value === model.tokens.bos)) break;
        tokens++;
        const { emit: delta, stopped } = stopper.push(decoder.push(next.value));
        emit(delta);
        if (stopped) break;
        if (tokens >= budget) {
          finish = 'length';
          break;
        }
      }
    } finally {
      await it.return();
    }
    const { emit: rest, stopped } = stopper.push(decoder.flush());
    emit(rest);
    if (!stopped) emit(stopper.flush());
  } finally {
    await context.dispose();
  }
  return { firstMs, totalMs: nowMs() - t0, tokens, text, finish };
}


/** node-llama-cpp with the engine's getLlama options, the model loaded, and the engine's settings; disposed at cleanup. */
async function loadDirect(s, modelPath) {
  const engine = await import('../dist/llm/engine-llama.js');
  const mod = await import('node-llama-cpp');
  // The settings the daemon's engine runs with: src/daemon/main.ts constructs `new LlamaEngine({ log })`,
  // so its defaults; read them off an instance rather than restating them here.
  const quiet = { info() {}, warn() {}, error() {}, debug() {}, trace() {}, fatal() {}, child() { return quiet; } };
  const probe = new engine.LlamaEngine({ log: quiet });
  const threads = Number.isInteger(probe.threads) ? probe.threads : 1;
  const defaultContext = Number.isInteger(probe.contextSize) ? probe.contextSize : 2048;
  const nativeLog = [];
  const llama = await mod.getLlama({
    gpu: false,
    build: 'never',
    progressLogs: false,
    maxThreads: threads,
    logLevel: mod.LlamaLogLevel.warn,
    logger: (level, message) => nativeLog.push(`${level}: ${String(message).trim()}`),
  });
  let model = null;
  s.defer('disposing the in-process model', async () => {
    if (model && !model.disposed) await model.dispose();
    await llama.dispose();
  });
  const t0 = nowMs();
  model = await llama.loadModel({ modelPath });
  const loadMs = nowMs() - t0;
  const train = model.trainContextSize;
  const contextSize = train > 0 ? Math.min(defaultContext, train) : defaultContext;
  return { engine, model, threads, contextSize, loadMs, promptText: engine.formatChatPrompt(MESSAGES) };
}

// ---------------------------------------------------------------------------------------------
// Row 2: a pull through the registry, and a plain download
// ---------------------------------------------------------------------------------------------

/**
 * The daemon's event stream (GET /api/v1/events?types=model.pull, SSE over its own unix-socket
 * connection): when each job was first seen in each status, with the time it arrived. A pull is
 * timed by these pushed events rather than by polling, so the bench adds no requests to the
 * daemon while it downloads. Closed at cleanup (or with close()).
 */
async function jobWatcher(s) {
  const c = await s.client({ socketPath: s.info.socket });
  if (!c.request) throw new Error('the pull rows need undici (a dependency of bkg) to read the event stream');
  const ac = new globalThis.AbortController();
  const seen = new Map();
  const waiters = new Set();
  const res = await c.request({ method: 'GET', path: '/api/v1/events?types=model.pull', headers: { accept: 'text/event-stream' }, signal: ac.signal });
  if (res.statusCode !== 200) throw new Error(`GET /api/v1/events: HTTP ${res.statusCode} ${await res.body.text()}`);
  res.body.setEncoding('utf8');
  const reading = (async () => {
    let buf = '';
    for await (const chunk of res.body) {
      const t = nowMs();
      buf += chunk;
      let at;
      while ((at = buf.indexOf('\n\n')) >= 0) {
        const data = buf.slice(0, at).split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
        buf = buf.slice(at + 2);
        if (!data) continue;
        const e = JSON.parse(data);
        if (e.type !== 'model.pull') continue;
        const times = seen.get(e.job.id) ?? {};
        times[e.job.status] ??= t;
        times.last = e.job;
        seen.set(e.job.id, times);
        for (const w of waiters) w();
      }
    }
  })().catch(() => {});
  const close = async () => {
    ac.abort();
    await reading;
  };
  s.defer('closing the event stream', close);
  return {
    close,
    /** Resolves with the job's times once it is done (throws when it failed or after 60 s). */
    async until(job) {
      const deadline = nowMs() + 60_000;
      for (;;) {
        const times = seen.get(job);
        if (times?.done !== undefined) return times;
        if (times?.failed !== undefined) throw new Error(`pull failed: ${JSON.stringify(times.last)}`);
        s.check();
        if (nowMs() > deadline) throw new Error(`pull not done after 60 s: ${JSON.stringify(times?.last ?? (await s.api('GET', `/api/v1/admin/llm/jobs/${job}`, undefined, 200)).body)}`);
        await new Promise((resolve) => {
          const w = () => {
            waiters.delete(w);
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(w, 250);
          waiters.add(w);
        });
      }
    },
  };
}

/** POST the pull and wait for its job's `done` event; the times at which it was first seen `verifying` and `done`. */
async function pullModel(s, url, sha256, name = MODEL_ID, watcher = null) {
  const t0 = nowMs();
  const job = (await s.api('POST', '/api/v1/admin/llm/models', { source: url, name, sha256 }, 202)).body.job_id;
  if (watcher) {
    const times = await watcher.until(job);
    return { ms: times.done - t0, downloadMs: times.verifying !== undefined ? times.verifying - t0 : null, verifyMs: times.verifying !== undefined ? times.done - times.verifying : null };
  }
  // Without a watcher (the chat model's own pull): poll.
  for (;;) {
    const j = (await s.api('GET', `/api/v1/admin/llm/jobs/${job}`, undefined, 200)).body;
    if (j.status === 'done') return { ms: nowMs() - t0, downloadMs: null, verifyMs: null };
    if (j.status === 'failed') throw new Error(`pull failed: ${JSON.stringify(j)}`);
    if (nowMs() - t0 > 60_000) throw new Error(`pull still ${j.status} after 60 s: ${JSON.stringify(j)}`);
    await sleep(POLL_MS);
  }
}

/**
 * A GGUF v3 of exactly `bytes` bytes that the verifier accepts: general.architecture "bench" and one
 * F32 tensor of random data filling the rest. Returns its sha256.
 */
function writeBigGguf(path, bytes) {
  const str = (t) => {
    const b = Buffer.from(t, 'utf8');
    const n = Buffer.alloc(8);
    n.writeBigUInt64LE(BigInt(b.length));
    return Buffer.concat([n, b]);
  };
  const u32 = (v) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    return b;
  };
  const u64 = (v) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    return b;
  };
  const headerOf = (elements) => Buffer.concat([Buffer.from('GGUF', 'latin1'), u32(3), u64(1), u64(1), str('general.architecture'), u32(8), str('bench'), str('blob'), u32(1), u64(elements), u32(0), u64(0)]);
  const dataOffset = Math.ceil(headerOf(0).length / 32) * 32;
  const elements = Math.floor((bytes - dataOffset) / 4);
  if (elements < 1 || dataOffset + elements * 4 !== bytes) throw new Error(`cannot make a GGUF of exactly ${bytes} bytes`);
  const file = Buffer.alloc(bytes);
  headerOf(elements).copy(file, 0);
  randomFillSync(file, dataOffset);
  writeFileSync(path, file);
  return createHash('sha256').update(file).digest('hex');
}

/**
 * Per round, in an order that alternates: the big file pulled (then deleted, so the next round
 * downloads again), downloaded plainly, and downloaded plainly with sha256; and for information the
 * small test model pulled and downloaded plainly.
 */
async function measurePulls(s, opts, big, small, dest) {
  const watcher = await jobWatcher(s);
  const pullOf = (f, sha256, name) => async () => {
    const p = await pullModel(s, f.url, sha256, name, watcher);
    await s.api('DELETE', `/api/v1/admin/llm/models/${name}`, undefined, 204);
    // untimed: once a pull is over the daemon starts the spare verifier for the next one (a sandbox
    // and a node process); that start must not fall into the next variant's time
    await sleep(SPARE_SETTLE_MS);
    return p;
  };
  const plainOf = (f, hash) => async () => {
    const d = await plainDownload(f.url, dest, hash);
    if (d.bytes !== f.size) throw new Error(`plain download: ${d.bytes} bytes, expected ${f.size}`);
    if (hash && d.digest !== f.sha256) throw new Error(`plain download: sha256 ${d.digest}, expected ${f.sha256}`);
    return d;
  };
  const [pull, plain, plainHash, smallPull, smallPlain] = await roundRobin(
    [{ run: pullOf(big, big.sha256, BIG_ID) }, { run: plainOf(big, false) }, { run: plainOf(big, true) }, { run: pullOf(small, opts.sha256, MODEL_ID) }, { run: plainOf(small, false) }],
    { warmup: opts.warmup, n: opts.nPull, order: (vs, i) => rotate(vs, i % 2), before: () => s.check() },
  );
  await watcher.close();
  const seen = (r, k) => r.results.map((x) => x[k]).filter((x) => x !== null);
  return {
    pull: pull.samples, download: seen(pull, 'downloadMs'), verify: seen(pull, 'verifyMs'), plain: plain.samples, plainHash: plainHash.samples,
    smallPull: smallPull.samples, smallDownload: seen(smallPull, 'downloadMs'), smallVerify: seen(smallPull, 'verifyMs'), smallPlain: smallPlain.samples,
  };
}

/** Prints row 2. */
function reportPulls(opts, samples, size, smallSize) {
  const p = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, v.length ? summarize(v) : null]));
  const mbps = (ms, n = size) => n / (1024 * 1024) / (ms / 1000);
  const pullRatio = p.plain.p50 / p.pull.p50;
  const smallRatio = p.smallPlain.p50 / p.smallPull.p50;
  const span = ['p50', 'min', 'max'];
  section(`2. Pull with verification vs a plain download (${size} bytes from a local node:http server, ${opts.nPull} rounds, alternating, medians)`);
  table(['variant', 'p50 ms', 'min ms', 'max ms', 'MiB/s at p50', 'throughput × plain'], [
    [`pull: POST /api/v1/admin/llm/models {source: URL, sha256} until the job is \`done\` (${fmt(size / 1024 ** 2, 0)} MiB GGUF)`, ...cells(p.pull, span), fmt(mbps(p.pull.p50), 1), times(pullRatio, 3)],
    p.download && ['… until the job was first seen `verifying` (the download)', ...cells(p.download, span), '', ''],
    p.verify && ['… from `verifying` to `done` (the rest of the verification, then the commit)', ...cells(p.verify, span), '', ''],
    ['plain: node http.get → file (the bench process)', ...cells(p.plain, span), fmt(mbps(p.plain.p50), 1), '1.000×'],
    ['(info) plain + sha256 on the way (node crypto)', ...cells(p.plainHash, span), fmt(mbps(p.plainHash.p50), 1), times(p.plain.p50 / p.plainHash.p50, 3)],
    [`(info) pull of the ${fmt(smallSize / 1e6, 1)} MB test model (fixed cost)`, ...cells(p.smallPull, span), fmt(mbps(p.smallPull.p50, smallSize), 1), times(smallRatio, 3)],
    p.smallVerify && ['(info) … from `verifying` to `done`', ...cells(p.smallVerify, span), '', ''],
    ['(info) plain download of the test model', ...cells(p.smallPlain, span), fmt(mbps(p.smallPlain.p50, smallSize), 1), '1.000×'],
  ]);
  paragraph(`throughput ratio (plain p50 / pull p50, ${fmt(size / 1024 ** 2, 0)} MiB): ${fmt(pullRatio, 3)}× (target ≥ ${TARGET_PULL}×: ${verdict(pullRatio >= TARGET_PULL)}); the pull takes ${signed(p.pull.p50 - p.plain.p50, 1)} ms more; the test model's pull ${signed(p.smallPull.p50 - p.smallPlain.p50, 1)} ms more (${fmt(smallRatio, 3)}×). A pull is timed by the job's events on the daemon's event stream (no polling while it runs); after each pull the bench waits ${SPARE_SETTLE_MS} ms, untimed, while the daemon starts the spare verifier sandbox for the next pull.`);
  return { bytes: size, small_bytes: smallSize, ...p, throughput_ratio: pullRatio, throughput_target_met: pullRatio >= TARGET_PULL, small_throughput_ratio: smallRatio };
}

/** Serves `file` at /<name> (Content-Length, no ranges), every request from disk; closed at cleanup. */
async function serveFile(s, file, name) {
  const size = statSync(file).size;
  const server = createHttpServer((req, res) => {
    if (req.method !== 'GET' || req.url !== `/${name}`) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(size) });
    createReadStream(file, { highWaterMark: 1 << 20 }).pipe(res);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  s.defer('closing the file server', async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(() => r()));
  });
  return { server, url: `http://127.0.0.1:${server.address().port}/${name}`, size };
}

/** A streamed HTTP GET of `url` into `dest` with node (the global agent), optionally hashing it on the way. */
async function plainDownload(url, dest, hash = false) {
  const t0 = nowMs();
  const res = await new Promise((resolve, reject) => httpGet(url, { headers: { 'accept-encoding': 'identity' } }, resolve).once('error', reject));
  if (res.statusCode !== 200) {
    res.resume();
    throw new Error(`GET ${url}: HTTP ${res.statusCode}`);
  }
  let digest = null;
  if (hash) {
    const h = createHash('sha256');
    await pipeline(
      res,
      async function* (source) {
        for await (const chunk of source) {
          h.update(chunk);
          yield chunk;
        }
      },
      createWriteStream(dest),
    );
    digest = h.digest('hex');
  } else {
    await pipeline(res, createWriteStream(dest));
  }
  const ms = nowMs() - t0;
  const bytes = statSync(dest).size;
  rmSync(dest, { force: true });
  return { ms, bytes, digest };
}


// ---------------------------------------------------------------------------------------------
// Row 3: the key check per request
// ---------------------------------------------------------------------------------------------

/** GET /healthz vs GET /v1/models with the key (and with its signature altered), round-robin on one TCP connection; then jose's jwtVerify alone. Prints row 3. */
async function keyCheck(s, opts, port, token) {
  const [h, pl, sig] = token.split('.');
  const i = Math.floor(sig.length / 2);
  const bad = `${h}.${pl}.${sig.slice(0, i)}${sig[i] === 'A' ? 'B' : 'A'}${sig.slice(i + 1)}`;
  const c = await s.client({ origin: `http://127.0.0.1:${port}` });
  const get = (path, headers, want) => async () => {
    const r = await c.text('GET', path, undefined, headers);
    if (r.status !== want) throw new Error(`GET ${path}: HTTP ${r.status} (wanted ${want}) ${r.text}`);
    return r.text;
  };
  const variants = [
    { key: 'healthz', label: 'GET /healthz (public, no auth)', run: get('/healthz', {}, 200) },
    { key: 'models_valid', label: 'GET /v1/models with a valid model-access key, used again (its Ed25519 signature verified at its first use and remembered; expiry and revocation checked every time), then the registry lookup', run: get('/v1/models', { authorization: `Bearer ${token}` }, 200) },
    { key: 'models_bad_sig', label: "(info) GET /v1/models with the key's signature altered (401 at the signature check)", run: get('/v1/models', { authorization: `Bearer ${bad}` }, 401) },
  ];
  const models = JSON.parse(await variants[1].run());
  if (models.data?.[0]?.id !== MODEL_ID) throw new Error(`GET /v1/models: ${JSON.stringify(models)}`);
  await roundRobin(variants, { warmup: opts.warmup * 20, n: opts.nAuth, before: () => s.check() });
  // The verification alone: jose's jwtVerify of the same key in this process, with the daemon's options.
  const { jwtVerify } = await import('jose');
  const publicKey = createPublicKey(readFileSync(join(s.home, 'llm-signing.key'), 'utf8'));
  const [joseRun] = await roundRobin([{ run: () => jwtVerify(token, publicKey, { issuer: 'bkg', algorithms: ['EdDSA'] }) }], { warmup: opts.warmup * 20, n: opts.nAuth });
  for (const v of variants) v.stats = summarize(v.samples);
  const jose = summarize(joseRun.samples);
  const [hz, ok] = variants.map((v) => v.stats);
  const cols = ['p50', 'p90', 'p99', 'mean'];
  section(`3. The cost of a model-access key check per request (TCP 127.0.0.1, one keep-alive connection, ${opts.nAuth} requests each, round-robin)`);
  table(['variant', 'p50 ms', 'p90 ms', 'p99 ms', 'mean ms'], [
    ...variants.map((v) => [v.label, ...cells(v.stats, cols)]),
    ['(info) jose `jwtVerify` of the same key in the bench process (the signature check alone)', ...cells(jose, cols)],
  ]);
  paragraph(`the check's cost (valid key − /healthz): p50 ${signed(ok.p50 - hz.p50, 3)} ms, p99 ${signed(ok.p99 - hz.p99, 3)} ms (this also holds /v1/models' registry lookup and its JSON body)`);
  return {
    ...Object.fromEntries(variants.map((v) => [v.key, { label: v.label, ...v.stats }])),
    jose_jwt_verify: jose,
    added_p50_ms: ok.p50 - hz.p50,
    added_p99_ms: ok.p99 - hz.p99,
  };
}

await runBench(main);
