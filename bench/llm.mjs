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
//    (download + verification in a throwaway sandbox) vs a plain streamed HTTP download of the same
//    URL to a file; the file is served by a node:http server in this process.
// 3. Key check: GET /v1/models with a valid model-access key (signature verify + revocation check)
//    vs GET /healthz (no auth), over one keep-alive TCP connection.
//
// Needs root, a built helper (make -C helper: the pull verifies in a sandbox), a compiled dist/
// (npx tsc -p tsconfig.build.json) and the model file. See bench/README.md. Exits 1 when it
// fails or cannot clean up.
import { spawn } from 'node:child_process';
import { createHash, createPublicKey } from 'node:crypto';
import { copyFileSync, createReadStream, createWriteStream, existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { createServer as createHttpServer, get as httpGet } from 'node:http';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { daemonChild, freePort, nowMs, percentile, round3, sleep, stopPids, strayDaemons } from './lib.mjs';

const SELF = fileURLToPath(import.meta.url);
const ROOT = dirname(dirname(SELF));
const DEFAULT_MODEL = join(ROOT, '..', 'shared', 'models', 'stories260K.gguf');
const MODEL_SHA256 = '270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d';
const MODEL_ID = 'stories';
const NAMESPACE = 'default';
/** The chat of row 1: the same as test/daemon/llm-flow.test.ts. */
const MESSAGES = [{ role: 'user', content: 'Once upon a time' }];
const MAX_TOKENS = 128;
const TEMPERATURE = 0;
/** How often the pull's job is polled (over the unix socket). */
const POLL_MS = 5;
const HIGH = 1_000_000;

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------
function usage(code) {
  console.log(`usage: node bench/llm.mjs [options]

  --quick         fewer runs ($BENCH_QUICK=1)
  --n-chat N      measured chat rounds, each one API + one direct (default 10; quick 3; $BENCH_N_CHAT)
  --n-pull N      measured pull rounds, each one pull + one plain download (default 10; quick 3; $BENCH_N_PULL)
  --n-auth N      measured requests per key-check variant (default 1000; quick 200; $BENCH_N_AUTH)
  --warmup N      unmeasured chat and pull rounds first (default 2; quick 1; $BENCH_WARMUP);
                  the key-check rows get 20× as many
  --model PATH    the model file (default ../shared/models/stories260K.gguf; $BENCH_MODEL);
                  its sha256 must be ${MODEL_SHA256.slice(0, 12)}… unless $BENCH_MODEL_SHA256 says otherwise`);
  process.exit(code);
}

function die(msg) {
  console.error(`llm-bench: ${msg}`);
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
    else if (flag === '--n-chat') raw.nChat = value();
    else if (flag === '--n-pull') raw.nPull = value();
    else if (flag === '--n-auth') raw.nAuth = value();
    else if (flag === '--warmup') raw.warmup = value();
    else if (flag === '--model') raw.model = value();
    else if (flag === '--help' || flag === '-h') usage(0);
    else die(`unknown argument "${argv[i]}" (try --help)`);
  }
  const pick = (key, envName, normal, fast, min) => {
    const v = raw[key] ?? env[envName] ?? String(quick ? fast : normal);
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) die(`${key}: needs an integer >= ${min}, got "${v}"`);
    return n;
  };
  return {
    quick,
    nChat: pick('nChat', 'BENCH_N_CHAT', 10, 3, 1),
    nPull: pick('nPull', 'BENCH_N_PULL', 10, 3, 1),
    nAuth: pick('nAuth', 'BENCH_N_AUTH', 1000, 200, 1),
    warmup: pick('warmup', 'BENCH_WARMUP', 2, 1, 1),
    model: raw.model ?? env.BENCH_MODEL ?? DEFAULT_MODEL,
    sha256: env.BENCH_MODEL_SHA256 ?? MODEL_SHA256,
  };
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------
function summarize(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return { n: s.length, p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), mean, min: s[0], max: s[s.length - 1] };
}

const fmt = (n, d = 3) => (n === null || n === undefined || Number.isNaN(n) ? '–' : n.toFixed(d));
const signed = (n, d = 2) => `${n >= 0 ? '+' : '−'}${fmt(Math.abs(n), d)}`;
const verdict = (ok) => (ok ? 'met' : 'missed');

/** A TCP port that was free a moment ago on 127.0.0.1 (the daemon binds it right after). */

/** undici (a dependency of bkg) with one keep-alive connection: over the unix socket (the host admin) or TCP. */
async function makeClient({ socketPath, origin = 'http://localhost' } = {}) {
  const { Client } = await import('undici');
  const client = new Client(origin, { ...(socketPath ? { socketPath } : {}), pipelining: 1, keepAliveTimeout: 600_000, keepAliveMaxTimeout: 600_000, headersTimeout: 120_000, bodyTimeout: 120_000 });
  return {
    client,
    async call(method, path, body, headers = {}) {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const res = await client.request({ method, path, headers: { ...(payload ? { 'content-type': 'application/json' } : {}), ...headers }, body: payload });
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

/** The sandbox cgroup directories under bkg's parents now (v1: per controller; v2: unified). */
function bkgCgroupDirs() {
  const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
  const bases = v2 ? ['/sys/fs/cgroup/bkg'] : ['memory', 'cpu', 'pids'].map((c) => `/sys/fs/cgroup/${c}/bkg`);
  const out = [];
  for (const b of bases) {
    try {
      for (const e of readdirSync(b, { withFileTypes: true })) if (e.isDirectory()) out.push(join(b, e.name));
    } catch {
      /* no such parent */
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The daemon process (the same protocol as bench/mcp.mjs: `--daemon-child`, one READY line)
// ---------------------------------------------------------------------------------------------
function startDaemonChild(home, port) {
  return new Promise((resolve, reject) => {
    // Rate limits out of the way (the pull polls and the key-check rows send many requests); the
    // limiter still runs on every keyed request. Model-access keys get a high rpm at approval.
    const env = { ...process.env, BKG_HOME: home, BKG_PORT: String(port), BKG_RATE_LIMITS: ['admin', 'namespace', 'readonly'].map((r) => `${r}=${HIGH}/${HIGH}`).join(',') };
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
      child.stdout.removeAllListeners('data');
      child.stdout.resume(); // anything else it prints is dropped
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
    return 'did not stop within 10 s of SIGTERM: killed';
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Row 1: streamed chat through the API, and node-llama-cpp directly
// ---------------------------------------------------------------------------------------------
/** One streamed chat over `client` (TCP, keep-alive): time to the first `text` event, to the `done` event, and the text. */
async function apiChat(c, token) {
  const body = JSON.stringify({ model: MODEL_ID, messages: MESSAGES, max_tokens: MAX_TOKENS, temperature: TEMPERATURE, stream: true });
  const t0 = nowMs();
  const res = await c.client.request({
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

/** node-llama-cpp with the engine's getLlama options, the model loaded, and the engine's settings. */
async function loadDirect(modelPath, state) {
  const engine = await import('../dist/llm/engine-llama.js');
  const mod = await import('node-llama-cpp');
  // The settings the daemon's engine runs with: src/daemon/main.ts constructs `new LlamaEngine({ log })`,
  // so its defaults; read them off an instance rather than restating them here.
  const quiet = { info() {}, warn() {}, error() {}, debug() {}, trace() {}, fatal() {}, child() { return quiet; } };
  const probe = new engine.LlamaEngine({ log: quiet });
  const threads = Number.isInteger(probe.threads) ? probe.threads : 1;
  const defaultContext = Number.isInteger(probe.contextSize) ? probe.contextSize : 2048;
  const nativeLog = [];
  state.llama = await mod.getLlama({
    gpu: false,
    build: 'never',
    progressLogs: false,
    maxThreads: threads,
    logLevel: mod.LlamaLogLevel.warn,
    logger: (level, message) => nativeLog.push(`${level}: ${String(message).trim()}`),
  });
  const t0 = nowMs();
  state.model = await state.llama.loadModel({ modelPath });
  const loadMs = nowMs() - t0;
  const train = state.model.trainContextSize;
  const contextSize = train > 0 ? Math.min(defaultContext, train) : defaultContext;
  return { engine, model: state.model, threads, contextSize, loadMs, promptText: engine.formatChatPrompt(MESSAGES) };
}

// ---------------------------------------------------------------------------------------------
// Row 2: a pull through the registry, and a plain download
// ---------------------------------------------------------------------------------------------
/** Serves `file` at /<name> (Content-Length, no ranges), every request from disk. */
async function serveFile(file, name) {
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
// main
// ---------------------------------------------------------------------------------------------
async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) die('needs root (the pull verifies the model in a sandbox); try sudo');
  if (!existsSync(join(ROOT, 'dist/daemon/main.js')) || !existsSync(join(ROOT, 'dist/llm/engine-llama.js'))) die('no dist/: run `npx tsc -p tsconfig.build.json` first');
  if (!existsSync(opts.model)) die(`no model file at ${opts.model} (--model PATH)`);

  const home = realpathSync(mkdtempSync(join(tmpdir(), 'bkg-bench-llm-home-')));
  const work = realpathSync(mkdtempSync(join(tmpdir(), 'bkg-bench-llm-')));
  const state = {};
  let aborted = null;
  const onSignal = (sig) => {
    if (aborted) return;
    aborted = sig;
    console.error(`llm-bench: ${sig}: cleaning up`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const check = () => {
    if (aborted) throw new Error(`interrupted by ${aborted}`);
    if (state.daemon && !alive(state.daemon)) throw new Error('the daemon exited');
  };

  const notes = [];
  const results = {};
  let failure = null;
  const started = nowMs();
  const load0 = loadavg();
  const cgroupsBefore = new Set(bkgCgroupDirs());
  try {
    // The model, copied next to the plain downloads (both served and read from this temp dir).
    const modelFile = join(work, 'stories260K.gguf');
    copyFileSync(opts.model, modelFile);
    const { server, url, size } = await serveFile(modelFile, 'stories260K.gguf');
    state.fileServer = server;

    const port = await freePort();
    state.daemon = await startDaemonChild(home, port);
    const info = state.daemon.info;
    if (info.port !== port) throw new Error(`the daemon listens on TCP port ${info.port}, not ${port}`);
    state.unix = await makeClient({ socketPath: info.socket });
    const api = async (method, path, body, want) => {
      check();
      const r = await state.unix.call(method, path, body);
      if (want !== undefined && r.status !== want) throw new Error(`${method} ${path}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
      return r;
    };

    /** POST the pull, poll its job every POLL_MS; the times at which each status was first seen. */
    const pull = async () => {
      const t0 = nowMs();
      const r = await api('POST', '/api/v1/admin/llm/models', { source: url, name: MODEL_ID, sha256: opts.sha256 }, 202);
      const job = r.body.job_id;
      const seen = {};
      for (;;) {
        const j = (await api('GET', `/api/v1/admin/llm/jobs/${job}`, undefined, 200)).body;
        const t = nowMs() - t0;
        seen[j.status] ??= t;
        if (j.status === 'done') break;
        if (j.status === 'failed') throw new Error(`pull failed: ${JSON.stringify(j)}`);
        if (t > 60_000) throw new Error(`pull still ${j.status} after 60 s: ${JSON.stringify(j)}`);
        await sleep(POLL_MS);
      }
      return { ms: seen.done, downloadMs: seen.verifying ?? null, verifyMs: seen.verifying !== undefined ? seen.done - seen.verifying : null };
    };
    const unpull = () => api('DELETE', `/api/v1/admin/llm/models/${MODEL_ID}`, undefined, 204);

    console.log('# bkg LLM bench: the daemon\'s model paths next to the same work without it');
    console.log(`host: Linux ${release()}, ${cpus().length} CPU(s) (${cpus()[0]?.model.trim() ?? '?'}), node ${process.version}; load average at start ${load0.map((l) => l.toFixed(2)).join(' ')}`);
    console.log(`daemon: pid ${info.pid}, bkg ${info.version}, TCP 127.0.0.1:${port}; model ${opts.model} (${size} bytes), sha256 ${opts.sha256.slice(0, 12)}…`);
    console.log(`mode: ${opts.quick ? 'quick' : 'full'}: chat ${opts.nChat} rounds, pull ${opts.nPull} rounds (after ${opts.warmup} warm-up round(s) each), key check ${opts.nAuth} requests per variant`);

    // ---- 2. pull vs plain download (first: the chat model is pulled afterwards, so no id or digest clash) ----
    const pullSamples = { pull: [], download: [], verify: [], plain: [], plainHash: [] };
    for (let i = 0; i < opts.warmup + opts.nPull; i++) {
      const measured = i >= opts.warmup;
      // Alternate the order each round, so neither side always runs right after the other.
      const steps = [
        async () => {
          const p = await pull();
          await unpull();
          if (measured) {
            pullSamples.pull.push(p.ms);
            if (p.downloadMs !== null) pullSamples.download.push(p.downloadMs);
            if (p.verifyMs !== null) pullSamples.verify.push(p.verifyMs);
          }
        },
        async () => {
          check();
          const d = await plainDownload(url, join(work, 'plain.gguf'));
          if (d.bytes !== size) throw new Error(`plain download: ${d.bytes} bytes, expected ${size}`);
          check();
          const h = await plainDownload(url, join(work, 'plain.gguf'), true);
          if (h.digest !== opts.sha256) throw new Error(`plain download: sha256 ${h.digest}, expected ${opts.sha256}`);
          if (measured) {
            pullSamples.plain.push(d.ms);
            pullSamples.plainHash.push(h.ms);
          }
        },
      ];
      if (i % 2) steps.reverse();
      for (const s of steps) await s();
    }

    // ---- the chat model, a model-access key, the direct engine ----
    await pull();
    const reqId = (await api('POST', '/api/v1/llm/requests', { model_id: MODEL_ID, cave_namespace: NAMESPACE }, 201)).body.id;
    const approved = (await api('POST', `/api/v1/admin/llm/requests/${reqId}/approve`, { scopes: ['chat'], ttl_s: 3600, rpm: HIGH }, 200)).body;
    const token = approved.token;
    state.tcp = await makeClient({ origin: `http://127.0.0.1:${port}` });
    const direct = await loadDirect(modelFile, state);
    console.log(`inference: node-llama-cpp CPU only, threads ${direct.threads}, context ${direct.contextSize} (LlamaEngine's defaults, which the daemon uses), max_tokens ${MAX_TOKENS}, temperature ${TEMPERATURE}; prompt ${JSON.stringify(direct.promptText)}`);
    console.log('');

    // ---- 1. chat: API vs direct ----
    const chat = { api: [], direct: [], whole: [] };
    for (let i = 0; i < opts.warmup + opts.nChat; i++) {
      const steps = [
        async () => {
          check();
          const r = await apiChat(state.tcp, token);
          if (i >= opts.warmup) chat.api.push(r);
          else chat.apiWarm = [...(chat.apiWarm ?? []), r];
        },
        async () => {
          check();
          const r = await directChat(direct);
          if (i >= opts.warmup) chat.direct.push(r);
          else chat.directWarm = [...(chat.directWarm ?? []), r];
        },
        async () => {
          check();
          const r = await apiChatWhole(state.tcp, token);
          if (i >= opts.warmup) chat.whole.push(r);
        },
      ];
      // Rotate the order each round, so no variant always runs right after another.
      for (let k = 0; k < i % steps.length; k++) steps.push(steps.shift());
      for (const s of steps) await s();
    }
    // The same settings must give the same tokens: a mismatch means the comparison is off.
    const apiTexts = new Set([...chat.api, ...chat.whole].map((r) => r.text));
    const directTexts = new Set(chat.direct.map((r) => r.text));
    const sameText = apiTexts.size === 1 && directTexts.size === 1 && [...apiTexts][0] === [...directTexts][0];
    if (!sameText) notes.push(`the API and the direct calls did not produce the same text (API: ${apiTexts.size} distinct, direct: ${directTexts.size} distinct)`);
    const sameTokens = [...chat.api, ...chat.whole].every((r) => r.tokens === chat.direct[0].tokens) && chat.direct.every((r) => r.tokens === chat.direct[0].tokens);
    if (!sameTokens) notes.push('the API and the direct calls generated different numbers of tokens');
    const tps = (r) => r.tokens / (r.totalMs / 1000);
    const c = {
      api: { first: summarize(chat.api.map((r) => r.firstMs)), total: summarize(chat.api.map((r) => r.totalMs)), tps: summarize(chat.api.map(tps)), tokens: chat.api[0].tokens, finish: chat.api[0].finish },
      direct: { first: summarize(chat.direct.map((r) => r.firstMs)), total: summarize(chat.direct.map((r) => r.totalMs)), tps: summarize(chat.direct.map(tps)), tokens: chat.direct[0].tokens, finish: chat.direct[0].finish },
      inside: {
        first: summarize(chat.api.map((r) => r.insideFirstMs)),
        total: summarize(chat.api.map((r) => r.insideMs)),
        tps: summarize(chat.api.map((r) => r.tokens / (r.insideMs / 1000))),
      },
      whole: { total: summarize(chat.whole.map((r) => r.totalMs)), tps: summarize(chat.whole.map(tps)), inside: summarize(chat.whole.map((r) => r.insideMs)), insideTps: summarize(chat.whole.map((r) => r.tokens / (r.insideMs / 1000))) },
    };
    const tpsRatio = c.api.tps.p50 / c.direct.tps.p50;
    // Paired by round (the two ran within a second of each other): steadier on a busy host.
    const pairedRatio = summarize(chat.api.map((r, i) => tps(r) / tps(chat.direct[i]))).p50;
    const pairedFirst = summarize(chat.api.map((r, i) => r.firstMs - chat.direct[i].firstMs)).p50;
    const firstDiff = c.api.first.p50 - c.direct.first.p50;
    console.log(`## 1. Streamed chat: POST /api/v1/llm/chat vs node-llama-cpp in-process (${opts.nChat} rounds, order rotated each round, medians)`);
    console.log('');
    console.log('| variant | first text p50 ms | min–max | total p50 ms | tokens | tokens/s p50 | × direct |');
    console.log('|---|---:|---:|---:|---:|---:|---:|');
    console.log(`| API: SSE over TCP 127.0.0.1, model-access key + X-Cave-Namespace (undici, keep-alive) | ${fmt(c.api.first.p50)} | ${fmt(c.api.first.min, 1)}–${fmt(c.api.first.max, 1)} | ${fmt(c.api.total.p50)} | ${c.api.tokens} (${c.api.finish}) | ${fmt(c.api.tps.p50, 0)} | ${fmt(tpsRatio, 3)}× |`);
    console.log(`| direct: node-llama-cpp in the bench process, the engine's prompt, context and stop rules | ${fmt(c.direct.first.p50)} | ${fmt(c.direct.first.min, 1)}–${fmt(c.direct.first.max, 1)} | ${fmt(c.direct.total.p50)} | ${c.direct.tokens} (${c.direct.finish}) | ${fmt(c.direct.tps.p50, 0)} | 1.000× |`);
    console.log(`| (info) … the daemon's own \`first_token_ms\` / \`duration_ms\` (the API's done events) | ${fmt(c.inside.first.p50)} | ${fmt(c.inside.first.min, 1)}–${fmt(c.inside.first.max, 1)} | ${fmt(c.inside.total.p50)} | | ${fmt(c.inside.tps.p50, 0)} | ${fmt(c.inside.tps.p50 / c.direct.tps.p50, 3)}× |`);
    console.log(`| (info) API not streamed (\`stream: false\`): the whole answer | | | ${fmt(c.whole.total.p50)} | | ${fmt(c.whole.tps.p50, 0)} | ${fmt(c.whole.tps.p50 / c.direct.tps.p50, 3)}× |`);
    console.log(`| (info) … its own \`duration_ms\` | | | ${fmt(c.whole.inside.p50)} | | ${fmt(c.whole.insideTps.p50, 0)} | ${fmt(c.whole.insideTps.p50 / c.direct.tps.p50, 3)}× |`);
    console.log('');
    const firstApi = chat.apiWarm?.[0];
    console.log(`tokens/s ratio (API / direct, medians): ${fmt(tpsRatio, 3)}× (target ≥ 0.95×: ${verdict(tpsRatio >= 0.95)}); first text: ${signed(firstDiff)} ms over direct (target ≤ 5 ms: ${verdict(firstDiff <= 5)}); same text both ways: ${sameText ? 'yes' : 'NO'}`);
    const perToken = (c.api.total.p50 - c.direct.total.p50) / c.api.tokens;
    console.log(`paired by round (median of the per-round values): tokens/s ratio ${fmt(pairedRatio, 3)}×, first text ${signed(pairedFirst)} ms; the API adds ${signed(perToken, 3)} ms per token (total p50 difference / tokens) to direct's ${fmt(c.direct.total.p50 / c.direct.tokens, 3)} ms`);
    console.log(`not in the table: the first API call (the daemon loads the model): first text ${fmt(firstApi?.firstMs, 1)} ms, total ${fmt(firstApi?.totalMs, 1)} ms; the bench's own model load ${fmt(direct.loadMs, 1)} ms`);
    console.log('');
    results.chat = {
      api: c.api, direct: c.direct, daemon_inside: c.inside, not_streamed: c.whole, tokens_per_s_ratio: tpsRatio, tokens_per_s_target_met: tpsRatio >= 0.95, paired_tokens_per_s_ratio: pairedRatio, paired_first_text_added_ms: pairedFirst, added_ms_per_token: perToken,
      first_text_added_ms: firstDiff, first_text_target_met: firstDiff <= 5, same_text: sameText,
      first_api_call_ms: firstApi ? { first: firstApi.firstMs, total: firstApi.totalMs } : null, direct_model_load_ms: direct.loadMs,
      settings: { threads: direct.threads, context_size: direct.contextSize, max_tokens: MAX_TOKENS, temperature: TEMPERATURE, prompt: direct.promptText },
    };

    // ---- 2. (measured above) ----
    const p = Object.fromEntries(Object.entries(pullSamples).map(([k, v]) => [k, v.length ? summarize(v) : null]));
    const mbps = (ms) => size / (1024 * 1024) / (ms / 1000);
    const pullRatio = p.plain.p50 / p.pull.p50;
    console.log(`## 2. Pull with verification vs a plain download (${size} bytes from a local node:http server, ${opts.nPull} rounds, alternating, medians)`);
    console.log('');
    console.log('| variant | p50 ms | min ms | max ms | MiB/s at p50 | throughput × plain |');
    console.log('|---|---:|---:|---:|---:|---:|');
    console.log(`| pull: POST /api/v1/admin/llm/models {source: URL, sha256} until the job is \`done\` | ${fmt(p.pull.p50)} | ${fmt(p.pull.min)} | ${fmt(p.pull.max)} | ${fmt(mbps(p.pull.p50), 1)} | ${fmt(pullRatio, 3)}× |`);
    if (p.download) console.log(`| … until the job was first seen \`verifying\` (download, fsync) | ${fmt(p.download.p50)} | ${fmt(p.download.min)} | ${fmt(p.download.max)} | | |`);
    if (p.verify) console.log(`| … from \`verifying\` to \`done\` (the sandboxed verifier, then the commit) | ${fmt(p.verify.p50)} | ${fmt(p.verify.min)} | ${fmt(p.verify.max)} | | |`);
    console.log(`| plain: node http.get → file (the bench process) | ${fmt(p.plain.p50)} | ${fmt(p.plain.min)} | ${fmt(p.plain.max)} | ${fmt(mbps(p.plain.p50), 1)} | 1.000× |`);
    console.log(`| (info) plain + sha256 on the way (node crypto) | ${fmt(p.plainHash.p50)} | ${fmt(p.plainHash.min)} | ${fmt(p.plainHash.max)} | ${fmt(mbps(p.plainHash.p50), 1)} | ${fmt(p.plain.p50 / p.plainHash.p50, 3)}× |`);
    console.log('');
    console.log(`throughput ratio (plain p50 / pull p50): ${fmt(pullRatio, 3)}× (target ≥ 0.9×: ${verdict(pullRatio >= 0.9)}); the pull takes ${signed(p.pull.p50 - p.plain.p50, 1)} ms more. At ${(size / 1e6).toFixed(1)} MB this is fixed cost, not throughput: mostly the verifier (a throwaway sandbox running node). The job is polled every ${POLL_MS} ms, so the pull times are up to ~${POLL_MS} ms late and the phase split is only as fine as that.`);
    console.log('');
    results.pull = { bytes: size, ...p, throughput_ratio: pullRatio, throughput_target_met: pullRatio >= 0.9, poll_ms: POLL_MS };

    // ---- 3. the key check per request ----
    const bad = (() => {
      const [h, pl, sig] = token.split('.');
      const i = Math.floor(sig.length / 2);
      return `${h}.${pl}.${sig.slice(0, i)}${sig[i] === 'A' ? 'B' : 'A'}${sig.slice(i + 1)}`;
    })();
    state.auth = await makeClient({ origin: `http://127.0.0.1:${port}` });
    const getOk = async (path, headers, want) => {
      const r = await state.auth.client.request({ method: 'GET', path, headers });
      const text = await r.body.text();
      if (r.statusCode !== want) throw new Error(`GET ${path}: HTTP ${r.statusCode} (wanted ${want}) ${text}`);
      return text;
    };
    const authVariants = [
      { key: 'healthz', label: 'GET /healthz (public, no auth)', call: () => getOk('/healthz', {}, 200), samples: [] },
      { key: 'models_valid', label: 'GET /v1/models with a valid model-access key (Ed25519 verify + revocation check, then the registry lookup)', call: () => getOk('/v1/models', { authorization: `Bearer ${token}` }, 200), samples: [] },
      { key: 'models_bad_sig', label: '(info) GET /v1/models with the key\'s signature altered (401 at the signature check)', call: () => getOk('/v1/models', { authorization: `Bearer ${bad}` }, 401), samples: [] },
    ];
    const models = JSON.parse(await getOk('/v1/models', { authorization: `Bearer ${token}` }, 200));
    if (models.data?.[0]?.id !== MODEL_ID) throw new Error(`GET /v1/models: ${JSON.stringify(models)}`);
    for (let i = 0; i < opts.warmup * 20 + opts.nAuth; i++) {
      if (i % 50 === 0) check();
      for (const v of authVariants) {
        const t0 = nowMs();
        await v.call();
        if (i >= opts.warmup * 20) v.samples.push(nowMs() - t0);
      }
    }
    // The verification alone: jose's jwtVerify of the same key in this process, with the daemon's options.
    const { jwtVerify } = await import('jose');
    const publicKey = createPublicKey(readFileSync(join(home, 'llm-signing.key'), 'utf8'));
    const joseSamples = [];
    for (let i = 0; i < opts.warmup * 20 + opts.nAuth; i++) {
      const t0 = nowMs();
      await jwtVerify(token, publicKey, { issuer: 'bkg', algorithms: ['EdDSA'] });
      if (i >= opts.warmup * 20) joseSamples.push(nowMs() - t0);
    }
    for (const v of authVariants) v.stats = summarize(v.samples);
    const jose = summarize(joseSamples);
    const [hz, ok] = authVariants;
    console.log(`## 3. The cost of a model-access key check per request (TCP 127.0.0.1, one keep-alive connection, ${opts.nAuth} requests each, round-robin)`);
    console.log('');
    console.log('| variant | p50 ms | p90 ms | p99 ms | mean ms |');
    console.log('|---|---:|---:|---:|---:|');
    for (const v of authVariants) console.log(`| ${v.label} | ${fmt(v.stats.p50)} | ${fmt(v.stats.p90)} | ${fmt(v.stats.p99)} | ${fmt(v.stats.mean)} |`);
    console.log(`| (info) jose \`jwtVerify\` of the same key in the bench process (the signature check alone) | ${fmt(jose.p50)} | ${fmt(jose.p90)} | ${fmt(jose.p99)} | ${fmt(jose.mean)} |`);
    console.log('');
    console.log(`the check's cost (valid key − /healthz): p50 ${signed(ok.stats.p50 - hz.stats.p50, 3)} ms, p99 ${signed(ok.stats.p99 - hz.stats.p99, 3)} ms (this also holds /v1/models' registry lookup and its JSON body)`);
    console.log('');
    results.key_check = {
      ...Object.fromEntries(authVariants.map((v) => [v.key, { label: v.label, ...v.stats }])),
      jose_jwt_verify: jose,
      added_p50_ms: ok.stats.p50 - hz.stats.p50,
      added_p99_ms: ok.stats.p99 - hz.stats.p99,
    };
  } catch (err) {
    failure = state.daemon && !alive(state.daemon) && !/daemon exited/.test(err.message) ? new Error(`the daemon exited (${state.daemon.child.signalCode ?? `status ${state.daemon.child.exitCode}`}): ${err.stack ?? err}`) : err;
  } finally {
    const errors = await cleanup(home, work, state);
    for (const e of errors) console.error(`llm-bench: cleanup: ${e}`);
    results.cleanup = { ok: errors.length === 0, errors };
  }
  // The pulls' verifiers ran in throwaway sandboxes (ids not reported by the API): any cgroup dir
  // that appeared during the run and is still there 5 s on is reported (other bkg runs on the host
  // can cause this too, so it is a note, not a failure).
  let leftCgroups = [];
  for (const deadline = nowMs() + 5000; ; await sleep(100)) {
    leftCgroups = bkgCgroupDirs().filter((d) => !cgroupsBefore.has(d));
    if (!leftCgroups.length || nowMs() > deadline) break;
  }
  if (leftCgroups.length) notes.push(`sandbox cgroup dirs that appeared during the run are still there (ours, or another bkg run's): ${leftCgroups.join(', ')}`);
  results.cleanup.new_cgroup_dirs_left = leftCgroups;

  const elapsedS = (nowMs() - started) / 1000;
  if (failure) {
    console.error(`llm-bench: failed: ${failure.stack ?? failure}`);
    process.exitCode = 1;
    return;
  }
  const load1 = loadavg();
  for (const n of notes) console.log(`note: ${n}`);
  console.log(`load average at the end: ${load1.map((l) => l.toFixed(2)).join(' ')} (other work on the host shows up in every row)`);
  console.log(`cleanup: ${results.cleanup.ok ? `OK (in-process model disposed, daemon stopped, file server closed, temp home and files removed; new sandbox cgroup dirs left: ${leftCgroups.length})` : `FAILED: ${results.cleanup.errors.join('; ')}`}`);
  console.log(`(${fmt(elapsedS, 1)} s in all)`);
  const json = {
    bench: 'llm',
    mode: opts.quick ? 'quick' : 'full',
    options: opts,
    elapsed_s: elapsedS,
    host: { kernel: release(), cpus: cpus().length, node: process.version, loadavg_start: load0, loadavg_end: load1 },
    notes,
    ...results,
  };
  console.log(`JSON: ${JSON.stringify(round3(json))}`);
  if (!results.cleanup.ok) process.exitCode = 1;
}

/** Close the clients and the file server, dispose the in-process model, stop the daemon (and any stray one on the home), remove the temp dirs. */
async function cleanup(home, work, state) {
  const errors = [];
  const ourPids = state.daemon ? [state.daemon.child.pid] : [];
  await state.auth?.close();
  await state.tcp?.close();
  await state.unix?.close();
  if (state.fileServer) {
    state.fileServer.closeAllConnections();
    await new Promise((r) => state.fileServer.close(() => r()));
  }
  try {
    if (state.model && !state.model.disposed) await state.model.dispose();
    await state.llama?.dispose();
  } catch (err) {
    errors.push(`disposing the in-process model: ${err.message}`);
  }
  try {
    const why = await stopDaemonChild(state.daemon);
    if (why) errors.push(`the daemon ${why}`);
  } catch (err) {
    errors.push(`stopping the daemon: ${err.message}`);
  }
  const strays = strayDaemons(home, ourPids);
  if (strays.length) {
    console.error(`llm-bench: stopping ${strays.length} daemon(s) running on ${home}: pid ${strays.join(', ')}`);
    await stopPids(strays);
  }
  rmSync(home, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
  for (const d of [home, work]) if (existsSync(d)) errors.push(`could not remove ${d}`);
  return errors;
}

if (process.argv.includes('--daemon-child')) await daemonChild();
else await main();
