#!/usr/bin/env node
// The P2P plugin's chunked replication (README "P2P plugin"), with real libp2p nodes on 127.0.0.1
// (TCP, Noise, Yamux, pnet; the code of dist/p2p): each holder is a child process serving the same
// file; the fetcher (this process) runs the daemon's fetch (dist/p2p/fetch.js: 8 chunks in flight
// per peer, every chunk hashed on arrival) into a partial file.
//
//   node bench/p2p.mjs [--mib N] [--rate MIB_PER_S] [--rounds N] [--chunk KIB]
//
// 1. 1, 2 and 3 holders, each holder's upload limited to --rate MiB/s (a token bucket in the
//    holder: the link is the bottleneck, as between hosts); target: 3 peers >= 2.25x one peer.
// 2. One holder without a limit vs a plain HTTP download (node:http, this host) of the same file
//    into a file; target: >= 0.8x.
// 3. Routed first-token latency: a streamed chat on B for a model only A holds vs on A (needs root
//    and the model). 4. What each byte costs here: the ciphers and the hash, one core.
// Not measured here: the registry's verification after the fetch (bench/llm.mjs measures it).
// Needs a compiled dist/ (npx tsc -p tsconfig.build.json).
import { spawn } from 'node:child_process';
import { createCipheriv, createHash, randomFillSync } from 'node:crypto';
import { createRequire } from 'node:module';
import { copyFileSync, createReadStream, createWriteStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Agent, createServer, get as httpGet, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { daemonChild, startDaemonChild, stopDaemonChild } from './lib/daemon.mjs';
import { die, parseOptions } from './lib/options.mjs';
import { fmt, printJson, section, table, times, verdict } from './lib/output.mjs';

const DIST = join(import.meta.dirname, '..', 'dist', 'p2p');
const MODEL_SHA256 = '270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d';
const silent = { info() {}, warn() {}, debug() {}, error() {}, child() { return silent; } };

/** Part 2's bare stream: the file whole, on one stream. */
const BARE_PROTOCOL = '/bkg-bench/file/1.0.0';
/** How part 2's HTTP server and bare holder read the file: in pieces of a default chunk's size. */
const PIECE_BYTES = 1 << 20;

if (process.argv[2] === '--holder') await holder(process.argv[3], process.argv[4], Number(process.argv[5]), Number(process.argv[6]));
else if (process.argv[2] === '--daemon-child') await daemonChild();
else await main();

/** A child: one node serving `file`, at most `rate` bytes/s (0: no limit); prints its address. */
async function holder(file, keyFile, chunkBytes, rate) {
  const { P2pNode } = await import(join(DIST, 'node.js'));
  const { ChunkServer } = await import(join(DIST, 'chunks.js'));
  const { generateIdentity } = await import(join(DIST, 'keys.js'));
  const id = await generateIdentity();
  const node = await P2pNode.start({ privateKey: id.privateKey, networkKey: readFileSync(keyFile, 'utf8'), listen: ['/ip4/127.0.0.1/tcp/0'], trusted: () => true, refused: () => {}, log: silent });
  let sha = null;
  let allowance = 0;
  let last = performance.now();
  class Limited extends ChunkServer {
    async read(s, offset, length) {
      if (rate > 0) {
        const now = performance.now();
        allowance = Math.min(rate, allowance + ((now - last) / 1000) * rate) - length;
        last = now;
        if (allowance < 0) await new Promise((r) => setTimeout(r, (-allowance / rate) * 1000));
      }
      return super.read(s, offset, length);
    }
  }
  const server = new Limited({ models: () => [], blobPath: (s) => (s === sha ? file : null) }, chunkBytes);
  const { manifestOf } = await import(join(DIST, 'chunks.js'));
  sha = (await manifestOf(file, chunkBytes)).sha256;
  await node.serve((req) => server.handle(req));
  // the unlimited holder also serves the file whole on one stream of a bare node with the same stack
  const bare = rate > 0 ? null : await bareNode(readFileSync(keyFile, 'utf8'));
  await bare?.handle(BARE_PROTOCOL, async (stream) => {
    // read as the HTTP server below reads: in 1 MiB pieces (a chunk's size)
    for await (const piece of createReadStream(file, { highWaterMark: PIECE_BYTES })) if (!stream.send(piece)) await stream.onDrain();
    await stream.close();
  });
  process.stdout.write(`${JSON.stringify({ addr: node.addrs()[0], peer: node.peerId, bare: bare?.getMultiaddrs()[0]?.toString() })}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => Promise.allSettled([node.stop(), bare?.stop()]).finally(() => process.exit(0)));
}

/** A libp2p node with nothing but the daemon's transport stack (dist/p2p/node.js transportOptions). */
async function bareNode(networkKey) {
  const { loadLibp2p } = await import(join(DIST, 'load.js'));
  const { transportOptions } = await import(join(DIST, 'node.js'));
  const m = await loadLibp2p();
  return m.libp2p.createLibp2p({ addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, ...transportOptions(m, networkKey) });
}

/** A holder child, and its address once it listens (the child is there at once, to be stopped whatever happens). */
function startHolder(file, keyFile, chunkBytes, rate) {
  const child = spawn(process.execPath, [process.argv[1], '--holder', file, keyFile, String(chunkBytes), String(rate)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const ready = new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', (line) => resolve({ child, ...JSON.parse(line) }));
    child.once('exit', (code) => reject(new Error(`a holder exited (${code})`)));
  });
  return { child, ready };
}

async function main() {
  const opts = parseOptions({
    prog: 'p2p-bench',
    script: 'p2p.mjs',
    options: {
      mib: { flag: '--mib', type: 'int', default: 64, min: 1, smoke: 4, env: 'BENCH_P2P_MIB', help: 'size of the file' },
      rate: { flag: '--rate', type: 'int', default: 1, min: 1, smoke: 8, help: 'each holder\'s upload limit in part 1, MiB/s' },
      rounds: { flag: '--rounds', type: 'int', default: 3, min: 1, smoke: 1, help: 'fetches per setting (the median counts)' },
      chunk: { flag: '--chunk', type: 'int', default: 1024, min: 16, smoke: 256, help: 'chunk size, KiB' },
      chats: { flag: '--chats', type: 'int', default: 20, min: 1, smoke: 2, help: 'part 3: streamed chats each way (local, routed)' },
      model: { flag: '--model', arg: 'PATH', type: 'string', env: 'BENCH_MODEL', default: join(import.meta.dirname, '..', '..', 'shared', 'models', 'stories260K.gguf'), shownDefault: '../shared/models/stories260K.gguf', help: 'part 3: the model (sha256 270cba1b…; part 3 is left out without it)' },
    },
  });
  const { P2pNode } = await import(join(DIST, 'node.js')).catch(() => die('dist/p2p is missing: run npx tsc -p tsconfig.build.json'));
  const { manifestOf } = await import(join(DIST, 'chunks.js'));
  const { fetchChunks } = await import(join(DIST, 'fetch.js'));
  const { generateIdentity, generateNetworkKey } = await import(join(DIST, 'keys.js'));
  const dir = mkdtempSync(join(tmpdir(), 'bkg-p2p-bench-'));
  const children = [];
  let node = null;
  let http = null;
  let bare = null;
  const stopAll = async () => {
    await node?.stop().catch(() => {});
    await bare?.stop().catch(() => {});
    http?.close();
    node = bare = http = null;
    const running = children.filter((c) => c.exitCode === null && c.signalCode === null);
    for (const c of running) c.stdin.end();
    await Promise.all(running.map((c) => new Promise((r) => c.once('exit', r))));
  };
  try {
    const file = join(dir, 'model.bin');
    const bytes = opts.mib * 1024 * 1024;
    const buf = Buffer.alloc(bytes);
    randomFillSync(buf);
    writeFileSync(file, buf);
    const keyFile = join(dir, 'swarm.key');
    writeFileSync(keyFile, await generateNetworkKey(), { mode: 0o600 });
    const chunkBytes = opts.chunk * 1024;
    const manifest = await manifestOf(file, chunkBytes);
    const rate = opts.rate * 1024 * 1024;
    const holders = [];
    for (const r of [rate, rate, rate, 0]) {
      const h = startHolder(file, keyFile, chunkBytes, r);
      children.push(h.child);
      holders.push(await h.ready);
    }
    const limited = holders.slice(0, 3);
    const free = holders[3];
    const id = await generateIdentity();
    node = await P2pNode.start({ privateKey: id.privateKey, networkKey: readFileSync(keyFile, 'utf8'), listen: ['/ip4/127.0.0.1/tcp/0'], trusted: () => true, refused: () => {}, log: silent });
    for (const h of [...limited, free]) await node.dial(h.addr);
    bare = await bareNode(readFileSync(keyFile, 'utf8'));
    const { multiaddr } = await import('@multiformats/multiaddr');
    // the same file on one stream of the same stack, into a file: no chunks, no hashing
    const bareFetch = async () => {
      const out = createWriteStream(join(dir, 'bare.bin'));
      const t0 = performance.now();
      let got = 0;
      try {
        const stream = await bare.dialProtocol(multiaddr(free.bare), BARE_PROTOCOL);
        for await (const piece of stream) {
          got += piece.byteLength;
          if (!out.write(piece instanceof Uint8Array ? piece : piece.subarray())) await once(out, 'drain');
        }
        await new Promise((resolve, reject) => out.end((err) => (err ? reject(err) : resolve())));
      } finally {
        out.destroy();
      }
      if (got !== bytes) throw new Error(`the bare stream brought ${got} of ${bytes} bytes`);
      return performance.now() - t0;
    };
    const dest = join(dir, 'fetched.part');
    const fetch = async (holders) => {
      rmSync(dest, { force: true });
      rmSync(`${dest}.have`, { force: true });
      const t0 = performance.now();
      const r = await fetchChunks({ manifest, holders: holders.map((h) => h.peer), dest, log: silent, ask: (p, req, s) => node.ask(p, req, s), penalise: () => { throw new Error('a holder sent a bad chunk'); } });
      const ms = performance.now() - t0;
      if (statSync(dest).size !== bytes || r.rejected.length) throw new Error('the fetch is incomplete');
      return ms;
    };
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    // part 2: one holder without a limit, and a plain HTTP download of the same file
    http = createServer((req, res) => {
      res.writeHead(200, { 'content-length': bytes });
      createReadStream(file, { highWaterMark: PIECE_BYTES }).pipe(res);
    });
    await new Promise((r) => http.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${http.address().port}/model.bin`;
    const plain = async () => {
      const out = join(dir, 'plain.bin');
      const t0 = performance.now();
      await new Promise((resolve, reject) => httpGet(url, (res) => pipeline(res, createWriteStream(out)).then(resolve, reject)).on('error', reject));
      const ms = performance.now() - t0;
      if (statSync(out).size !== bytes) throw new Error('the plain download is incomplete');
      return ms;
    };
    await fetch([free]); // warm-up (JIT, connections), not measured
    await plain();
    await bareFetch();
    const runs = { 1: [], 2: [], 3: [] };
    for (let r = 0; r < opts.rounds; r++) for (const n of [1, 2, 3]) runs[n].push(await fetch(limited.slice(0, n)));
    const peers = Object.fromEntries([1, 2, 3].map((n) => [n, median(runs[n])]));

    const one = [];
    const direct = [];
    const bareRuns = [];
    for (let r = 0; r < opts.rounds; r++) {
      one.push(await fetch([free]));
      direct.push(await plain());
      bareRuns.push(await bareFetch());
    }
    const oneMs = median(one);
    const httpMs = median(direct);
    const bareMs = median(bareRuns);
    const mibs = (ms) => opts.mib / (ms / 1000);
    const speedup = peers[1] / peers[3];
    const vsHttp = httpMs / oneMs;

    section(`Fetching ${opts.mib} MiB in ${opts.chunk} KiB chunks from 1, 2 and 3 holders (each limited to ${opts.rate} MiB/s), median of ${opts.rounds}`);
    table(['holders', 'ms', 'MiB/s', 'vs one holder', 'target', 'met?'], [1, 2, 3].map((n) => [
      n, fmt(peers[n], 0), fmt(mibs(peers[n]), 1), times(peers[1] / peers[n]), n === 3 ? '≥ 2.25×' : '', n === 3 ? verdict(speedup >= 2.25) : '',
    ]));
    section('One holder without a limit vs a plain HTTP download of the same file');
    table(['fetch', 'ms', 'MiB/s', 'ratio', 'target', 'met?'], [
      ['P2P, one holder (pnet + Noise + Yamux, per-chunk sha256)', fmt(oneMs, 0), fmt(mibs(oneMs), 1), times(vsHttp), '≥ 0.8×', verdict(vsHttp >= 0.8)],
      ['plain HTTP (node:http, to a file)', fmt(httpMs, 0), fmt(mibs(httpMs), 1), '', '', ''],
      ['the same stack bare: the file on one libp2p stream, to a file (no chunks, no hashing)', fmt(bareMs, 0), fmt(mibs(bareMs), 1), times(httpMs / bareMs), '', ''],
    ]);
    // parts 1-2 are over: their nodes and holders stop, and their files go before their writeback
    // lands in part 3's timings (about a GiB written to the disk under tmpdir at the issue's size)
    await stopAll();
    for (const f of readdirSync(dir)) rmSync(join(dir, f), { recursive: true, force: true });
    const routed = existsSync(opts.model) ? await routedChats(opts, dir) : null;
    if (!routed) console.log(`(part 3 left out: no model at ${opts.model})\n`);
    const ciphers = cipherRates(opts.mib, mibs(httpMs));
    printJson({ bench: 'p2p', mib: opts.mib, chunk_kib: opts.chunk, rate_mib_s: opts.rate, rounds: opts.rounds, peers_ms: peers, speedup_3_vs_1: speedup, one_peer_ms: oneMs, http_ms: httpMs, one_peer_vs_http: vsHttp, bare_stream_ms: bareMs, bare_stream_vs_http: httpMs / bareMs, routed, ciphers_mib_s: ciphers });
  } finally {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}


/**
 * Part 4: what each byte of a P2P fetch costs on this host, one core, in MiB/s: pnet's XSalsa20
 * (the `xsalsa20` package, which src/p2p/pnet.ts and @libp2p/pnet use), Noise's ChaCha20-Poly1305
 * as @chainsafe/libp2p-noise runs it in Node (node:crypto, one call per frame of up to 64 KiB), and
 * the sha256 of every chunk. The
 * receiving side does all three per byte (the sender the ciphers): the fetch can be no faster than
 * one core doing them in turn.
 */
function cipherRates(mib, httpMibS) {
  const xsalsa20 = createRequire(import.meta.url)('xsalsa20');
  const frame = Buffer.alloc(65535 - 16, 7);
  const frames = Math.max(1024, Math.round((mib * 1024 * 1024) / frame.length)); // at least 64 MiB a pass
  // steady state, as in a long transfer: one untimed pass first (the first 64 MiB of
  // ChaCha20-Poly1305 ran at a fifth of its later speed here: fresh output buffers, each touched
  // for the first time), then the best of three timed passes
  const rate = (fn) => {
    let best = Infinity;
    for (let pass = 0; pass < 4; pass++) {
      const t0 = performance.now();
      for (let i = 0; i < frames; i++) fn();
      if (pass > 0) best = Math.min(best, performance.now() - t0);
    }
    return (frames * frame.length) / 1048576 / (best / 1000);
  };
  const key = Buffer.alloc(32, 1);
  const stream = xsalsa20(Buffer.alloc(24, 2), key);
  const out = Buffer.alloc(frame.length);
  const nonce = Buffer.alloc(12, 3);
  const r = {
    xsalsa20: rate(() => stream.update(frame, out)),
    chacha20_poly1305: rate(() => {
      const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
      c.update(frame);
      c.final();
      c.getAuthTag();
    }),
    sha256: rate(() => createHash('sha256').update(frame).digest()),
  };
  // one core, the receiver's work per MiB in turn: the most it can take in
  const ceiling = 1 / (1 / r.xsalsa20 + 1 / r.chacha20_poly1305 + 1 / r.sha256);
  section('What each byte costs here (one core, MiB/s): the receiving side does all three');
  table(['work per byte', 'MiB/s', 'note'], [
    ['pnet XSalsa20 (xsalsa20 package)', fmt(r.xsalsa20, 0), 'both sides'],
    ['Noise ChaCha20-Poly1305 (node:crypto, 64 KiB frames)', fmt(r.chacha20_poly1305, 0), 'both sides'],
    ['sha256 of each chunk', fmt(r.sha256, 0), 'the receiver'],
    ['all three in turn: the most one receiving core can take', fmt(ceiling, 0), `${times(ceiling / httpMibS)} of part 2's plain HTTP`],
  ]);
  return { ...r, receiver_ceiling: ceiling, ceiling_vs_http: ceiling / httpMibS };
}

/** A JSON request to a daemon's unix socket. */
function api(socketPath, method, path, body) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = httpRequest({ socketPath, method, path, headers: payload ? { 'content-type': 'application/json' } : {} }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        const parsed = text ? JSON.parse(text) : undefined;
        if (res.statusCode >= 300) reject(new Error(`${method} ${path}: ${res.statusCode} ${text.slice(0, 300)}`));
        else resolve(parsed);
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** One streamed chat over TCP (keep-alive): ms to the first text event. */
function firstText(agent, port, token) {
  return new Promise((resolve, reject) => {
    const body = Buffer.from(JSON.stringify({ model: 'stories', messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 32, temperature: 0, stream: true }));
    const t0 = performance.now();
    let first = null;
    const req = httpRequest({ agent, host: '127.0.0.1', port, method: 'POST', path: '/api/v1/llm/chat', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-cave-namespace': 'default' } }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`chat: ${res.statusCode}`));
      res.on('data', (c) => {
        if (first === null && c.toString().includes('"text"')) first = performance.now() - t0;
      });
      res.on('end', () => (first === null ? reject(new Error('no text')) : resolve(first)));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Part 3: two daemons (P2P on); A holds the model; a streamed chat on A (local) vs on B (routed to A). */
async function routedChats(opts, dir) {
  const env = { BKG_P2P: '1', BKG_P2P_LISTEN: '/ip4/127.0.0.1/tcp/0' };
  const homes = [mkdtempSync(join(tmpdir(), 'bkg-p2pb-a-')), mkdtempSync(join(tmpdir(), 'bkg-p2pb-b-'))];
  const daemons = [];
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const ports = [];
    for (const home of homes) {
      const s = createServer();
      await new Promise((r) => s.listen(0, '127.0.0.1', r));
      ports.push(s.address().port);
      await new Promise((r) => s.close(r));
      daemons.push(await startDaemonChild({ home, port: ports.at(-1), env }));
    }
    const [a, b] = daemons.map((d) => d.info.socket);
    const init = await api(a, 'POST', '/api/v1/admin/peers/init', {});
    await api(b, 'POST', '/api/v1/admin/peers/init', { network_key: init.network_key });
    const [sa, sb] = [await api(a, 'GET', '/api/v1/admin/peers/status'), await api(b, 'GET', '/api/v1/admin/peers/status')];
    await api(a, 'POST', '/api/v1/admin/peers', { address: sb.listen[0] });
    await api(b, 'POST', '/api/v1/admin/peers', { address: sa.listen[0] });
    copyFileSync(opts.model, join(dir, 'stories.gguf'));
    const { job_id } = await api(a, 'POST', '/api/v1/admin/llm/models', { source: join(dir, 'stories.gguf'), name: 'stories', sha256: MODEL_SHA256 });
    for (let i = 0; ; i++) {
      const j = await api(a, 'GET', `/api/v1/admin/llm/jobs/${job_id}`);
      if (j.status === 'done') break;
      if (j.status === 'failed' || i > 600) throw new Error(`the pull on A failed: ${j.error}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    for (let i = 0; !(await api(b, 'GET', '/api/v1/admin/peers')).peers[0]?.models?.length; i++) {
      if (i > 100) throw new Error('B does not see A\'s model');
      await new Promise((r) => setTimeout(r, 200));
    }
    const token = async (sock) => {
      const req = await api(sock, 'POST', '/api/v1/llm/requests', { model_id: 'stories', cave_namespace: 'default' });
      return (await api(sock, 'POST', `/api/v1/admin/llm/requests/${req.id}/approve`, { ttl_s: 3600, rpm: 100000 })).token;
    };
    const [ta, tb] = [await token(a), await token(b)];
    for (let i = 0; i < 2; i++) {
      await firstText(agent, ports[0], ta);
      await firstText(agent, ports[1], tb);
    }
    const local = [];
    const viaPeer = [];
    for (let i = 0; i < opts.chats; i++) {
      local.push(await firstText(agent, ports[0], ta));
      viaPeer.push(await firstText(agent, ports[1], tb));
    }
    const p50 = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
    const added = p50(viaPeer) - p50(local);
    const paired = p50(viaPeer.map((v, i) => v - local[i]));
    section(`Time to the first text of a streamed chat (stories260K, SSE over TCP), local on A vs on B routed to A, ${opts.chats} each, alternating`);
    table(['chat', 'first text p50 ms', 'min–max ms', 'added', 'target', 'met?'], [
      ['local (A holds the model)', fmt(p50(local), 1), `${fmt(Math.min(...local), 1)}–${fmt(Math.max(...local), 1)}`, '', '', ''],
      ['routed (B → A over libp2p, peer token)', fmt(p50(viaPeer), 1), `${fmt(Math.min(...viaPeer), 1)}–${fmt(Math.max(...viaPeer), 1)}`, `+${fmt(added, 1)} ms (paired +${fmt(paired, 1)})`, '≤ +10 ms', verdict(added <= 10)],
    ]);
    return { local_first_ms: p50(local), routed_first_ms: p50(viaPeer), added_ms: added, paired_added_ms: paired };
  } finally {
    agent.destroy();
    for (const d of daemons) await stopDaemonChild(d).catch(() => {});
    for (const h of homes) rmSync(h, { recursive: true, force: true });
  }
}
