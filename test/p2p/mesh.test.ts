/**
 * The P2P plugin with three real daemons on 127.0.0.1, each with its own libp2p node (TCP, Noise,
 * Yamux, pnet): a signed model pulled on A reaches C from A, then B from A and C in parallel, in
 * verified chunks, and passes the registry's sandboxed verification; a peer not in the table is
 * refused and audited; a node with another network key cannot connect; a lying peer's bad chunk
 * is discarded, the peer penalised, and the pull still succeeds from the others; a chat on C for a
 * model only A holds is routed and streamed, and a key revoked on C stops it, at once or mid-stream.
 */
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { ChunkServer, type ModelHolder } from '../../src/p2p/chunks.js';
import { generateIdentity, generateNetworkKey } from '../../src/p2p/keys.js';
import { P2pNode } from '../../src/p2p/node.js';
import { call, removeHome, startTestDaemon, type Target, type TestDaemon } from '../helpers/daemon.js';
import { modelSkipReason, TEST_MODEL, TEST_MODEL_SHA256 } from '../helpers/model.js';
import { sandboxSkipReason } from '../helpers/sandbox.js';
import { until } from '../helpers/until.js';

const skip = sandboxSkipReason() ?? modelSkipReason();
const ENV = { BKG_P2P: '1', BKG_P2P_LISTEN: '/ip4/127.0.0.1/tcp/0', BKG_P2P_CHUNK_SIZE: '64k' };
const silent = createLogger({ level: 'silent' });

interface Status { enabled: boolean; peer_id: string; listen: string[]; network_key_fingerprint: string }
interface Peer { peer_id: string; connected: boolean; penalties: number; latency_ms: number | null; models: { id: string; sha256: string; signature_base64: string | null }[] | null }

async function job(t: Target, id: string): Promise<{ status: string; error?: string; model_id: string | null }> {
  return until(`job ${id}`, async () => {
    const j = (await call(t, 'GET', `/api/v1/admin/llm/jobs/${id}`)).body as { status: string; error?: string; model_id: string | null };
    return j.status === 'done' || j.status === 'failed' ? j : null;
  }, 60_000);
}

async function pullFromPeers(t: Target, name: string): Promise<{ status: string; error?: string; model_id: string | null }> {
  const r = await call(t, 'POST', '/api/v1/admin/peers/pull', { name });
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  return job(t, (r.body as { job_id: string }).job_id);
}

/** A streamed chat over the unix socket: its SSE events as they come; `onFirstText` runs (awaited) at the first text event. */
function streamSse(socketPath: string, path: string, body: unknown, headers: Record<string, string>, onFirstText: () => Promise<void>): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const events: Record<string, unknown>[] = [];
    let buf = '';
    let fired: Promise<void> | null = null;
    const req = httpRequest({ socketPath, method: 'POST', path, headers: { ...headers, 'content-type': 'application/json' } }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        buf += c;
        let at: number;
        while ((at = buf.indexOf('\n\n')) >= 0) {
          const line = buf.slice(0, at);
          buf = buf.slice(at + 2);
          if (!line.startsWith('data: ')) continue;
          const e = JSON.parse(line.slice(6)) as Record<string, unknown>;
          events.push(e);
          if (!fired && typeof e.text === 'string') fired = onFirstText();
        }
      });
      res.on('end', () => void (fired ?? Promise.resolve()).then(() => resolve(events), reject));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

async function audit(t: Target, action: string): Promise<{ actor: string; outcome: string; target: string | null; details: Record<string, unknown> | null }[]> {
  const r = await call(t, 'GET', '/api/v1/audit?limit=100000');
  return (r.body as { events: { actor: string; action: string; outcome: string; target: string | null; details: Record<string, unknown> | null }[] }).events.filter((e) => e.action === action);
}

describe.skipIf(skip)('P2P mesh: three daemons on 127.0.0.1', () => {
  const d: Record<'a' | 'b' | 'c', TestDaemon> = {} as never;
  const st: Record<'a' | 'b' | 'c', Status> = {} as never;
  const addr = (s: Status): string => s.listen[0] as string;
  let dir = '';
  let sig = '';
  const extra: P2pNode[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bkg-p2p-'));
    copyFileSync(TEST_MODEL, join(dir, 'stories260K.gguf'));
    const signer = generateKeyPairSync('ed25519');
    sig = sign(null, createHash('sha256').update(readFileSync(TEST_MODEL)).digest(), signer.privateKey).toString('base64');
    const pem = signer.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    for (const n of ['a', 'b', 'c'] as const) d[n] = await startTestDaemon({ env: ENV });
    // A makes the network key; B and C take it
    const init = (await call(d.a.local, 'POST', '/api/v1/admin/peers/init', {})).body as { network_key: string; network_key_created: boolean };
    expect(init.network_key_created).toBe(true);
    for (const n of ['b', 'c'] as const) {
      const r = await call(d[n].local, 'POST', '/api/v1/admin/peers/init', { network_key: init.network_key });
      expect(r.status).toBe(200);
    }
    for (const n of ['a', 'b', 'c'] as const) {
      st[n] = (await call(d[n].local, 'GET', '/api/v1/admin/peers/status')).body as Status;
      expect(st[n].enabled).toBe(true);
      expect(st[n].listen[0]).toMatch(new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${st[n].peer_id}$`));
    }
    for (const n of ['a', 'b', 'c'] as const) {
      await call(d[n].local, 'POST', '/api/v1/admin/llm/trust', { name: 'release', public_key: pem });
    }
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled(extra.map((n) => n.stop()));
    for (const n of ['a', 'b', 'c'] as const) {
      if (!d[n]) continue;
      await d[n].stop();
      removeHome(d[n].home);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('trusted peers connect: peers add, ls (connected, latency), status', async () => {
    const fp = st.a.network_key_fingerprint;
    expect(st.b.network_key_fingerprint).toBe(fp);
    expect(st.c.network_key_fingerprint).toBe(fp);
    // another key than the one held is refused
    const other = await call(d.b.local, 'POST', '/api/v1/admin/peers/init', { network_key: await generateNetworkKey() });
    expect(other.status).toBe(409);
    for (const [n, others] of [['a', ['b', 'c']], ['b', ['a', 'c']], ['c', ['a', 'b']]] as const) {
      for (const o of others) {
        const r = await call(d[n].local, 'POST', '/api/v1/admin/peers', { address: addr(st[o]), name: o });
        expect(r.status, JSON.stringify(r.body)).toBe(201);
      }
    }
    const again = await call(d.a.local, 'POST', '/api/v1/admin/peers', { address: addr(st.b) });
    expect(again.status).toBe(200);
    const bad = await call(d.a.local, 'POST', '/api/v1/admin/peers', { address: '/ip4/127.0.0.1/tcp/1' });
    expect(bad.status).toBe(400);
    const peers = await until('A connected to B and C', async () => {
      const list = ((await call(d.a.local, 'GET', '/api/v1/admin/peers')).body as { peers: Peer[] }).peers;
      return list.length === 2 && list.every((p) => p.connected) ? list : null;
    });
    expect(peers.map((p) => p.peer_id).sort()).toEqual([st.b.peer_id, st.c.peer_id].sort());
    expect(peers.every((p) => typeof p.latency_ms === 'number' && Array.isArray(p.models))).toBe(true);
    const status = (await call(d.a.local, 'GET', '/api/v1/admin/peers/status')).body as { trusted: number; connected: number };
    expect(status).toMatchObject({ trusted: 2, connected: 2 });
  }, 60_000);

  it('a model pulled on A reaches C from A, then B from A and C in parallel, verified in a sandbox', async () => {
    const pulled = await call(d.a.local, 'POST', '/api/v1/admin/llm/models', { source: join(dir, 'stories260K.gguf'), name: 'stories', sha256: TEST_MODEL_SHA256, sig_base64: sig });
    expect(pulled.status).toBe(202);
    expect((await job(d.a.local, (pulled.body as { job_id: string }).job_id)).status).toBe('done');
    // A announces it, with its signature
    const onA = await until('A to announce the model', async () => {
      const list = ((await call(d.c.local, 'GET', '/api/v1/admin/peers')).body as { peers: Peer[] }).peers;
      return list.find((p) => p.peer_id === st.a.peer_id)?.models?.find((m) => m.id === 'stories');
    });
    expect(onA).toMatchObject({ sha256: TEST_MODEL_SHA256, signature_base64: sig });

    const c = await pullFromPeers(d.c.local, 'stories');
    expect(c.status, c.error).toBe('done');
    const b = await pullFromPeers(d.b.local, 'stories');
    expect(b.status, b.error).toBe('done');
    const model = (await call(d.b.local, 'GET', '/api/v1/admin/llm/models/stories')).body as { sha256: string; signed_by: string | null; source: string };
    expect(model.sha256).toBe(TEST_MODEL_SHA256);
    expect(model.signed_by).not.toBeNull();
    expect(model.source).toBe(`peers:sha256:${TEST_MODEL_SHA256}`);
    const fetched = (await audit(d.b.local, 'peer.fetch')).at(-1)?.details as { chunks_from: Record<string, number>; rejected: unknown[] };
    expect(fetched.rejected).toEqual([]);
    // 19 chunks of 64 KiB: some from each holder
    expect(fetched.chunks_from[st.a.peer_id]).toBeGreaterThan(0);
    expect(fetched.chunks_from[st.c.peer_id]).toBeGreaterThan(0);
    expect(Object.values(fetched.chunks_from).reduce((x, y) => x + y, 0)).toBe(Math.ceil(readFileSync(TEST_MODEL).length / 65536));
    // nothing left behind
    expect(existsSync(join(d.b.home, 'models', 'p2p', `sha256-${TEST_MODEL_SHA256}.part`))).toBe(false);
  }, 180_000);

  it('refuses a peer that is not in the table, and audits it', async () => {
    const netKey = readFileSync(join(d.a.home, 'p2p', 'swarm.key'), 'utf8');
    const id = await generateIdentity();
    const stranger = await P2pNode.start({ privateKey: id.privateKey, networkKey: netKey, listen: ['/ip4/127.0.0.1/tcp/0'], trusted: () => true, refused: () => {}, log: silent });
    extra.push(stranger);
    await expect((async () => {
      await stranger.dial(addr(st.a), AbortSignal.timeout(5000));
      await stranger.ask(st.a.peer_id, { op: 'models' }, AbortSignal.timeout(5000));
    })()).rejects.toThrow();
    const refused = await until('the refusal in the audit log', async () => (await audit(d.a.local, 'peer.connect')).find((e) => e.actor === `peer:${id.peerId}`));
    expect(refused.outcome).toBe('denied');
  }, 30_000);

  it('a node with another network key cannot complete a handshake', async () => {
    const id = await generateIdentity();
    const outsider = await P2pNode.start({ privateKey: id.privateKey, networkKey: await generateNetworkKey(), listen: ['/ip4/127.0.0.1/tcp/0'], trusted: () => true, refused: () => {}, log: silent });
    extra.push(outsider);
    // even a trusted peer id gets nowhere without the key
    await call(d.a.local, 'POST', '/api/v1/admin/peers', { address: id.peerId });
    await expect(outsider.dial(addr(st.a), AbortSignal.timeout(3000))).rejects.toThrow();
    expect(outsider.connected(st.a.peer_id)).toBe(false);
    await call(d.a.local, 'DELETE', `/api/v1/admin/peers/${id.peerId}`);
  }, 30_000);

  it('a lying peer\'s bad chunk is discarded, the peer penalised, the chunk fetched elsewhere', async () => {
    const netKey = readFileSync(join(d.a.home, 'p2p', 'swarm.key'), 'utf8');
    const id = await generateIdentity();
    // a real node that announces what A holds, serves A's blob, and corrupts every chunk it sends
    const blob = join(d.a.home, 'models', 'blobs', `sha256-${TEST_MODEL_SHA256}`);
    expect(existsSync(blob)).toBe(true);
    const announced = (((await call(d.c.local, 'GET', '/api/v1/admin/peers')).body as { peers: Peer[] }).peers.find((p) => p.peer_id === st.a.peer_id)?.models ?? []);
    const holder: ModelHolder = { models: () => announced as never, blobPath: (sha) => (sha === TEST_MODEL_SHA256 ? blob : null) };
    class Liar extends ChunkServer {
      protected override async read(sha: string, offset: number, length: number): Promise<Uint8Array> {
        const data = Buffer.from(await super.read(sha, offset, length));
        data[0] = (data[0] as number) ^ 0xff;
        return data;
      }
    }
    const liar = await P2pNode.start({ privateKey: id.privateKey, networkKey: netKey, listen: ['/ip4/127.0.0.1/tcp/0'], trusted: () => true, refused: () => {}, log: silent });
    extra.push(liar);
    const server = new Liar(holder, 64 * 1024);
    await liar.serve((req) => server.handle(req));
    expect((await call(d.b.local, 'POST', '/api/v1/admin/peers', { address: liar.addrs()[0], name: 'liar' })).status).toBe(201);
    await until('B connected to the liar', async () => ((await call(d.b.local, 'GET', '/api/v1/admin/peers')).body as { peers: Peer[] }).peers.find((p) => p.peer_id === liar.peerId)?.connected);
    expect((await call(d.b.local, 'DELETE', '/api/v1/admin/llm/models/stories')).status).toBe(204);
    await call(d.b.local, 'POST', '/api/v1/admin/llm/gc', {});

    const b = await pullFromPeers(d.b.local, 'stories');
    expect(b.status, b.error).toBe('done');
    const fetched = (await audit(d.b.local, 'peer.fetch')).at(-1)?.details as { chunks_from: Record<string, number>; rejected: { peer: string; index: number }[] };
    expect(fetched.rejected.length).toBeGreaterThan(0);
    expect(fetched.rejected.every((r) => r.peer === liar.peerId)).toBe(true);
    expect(fetched.chunks_from[liar.peerId]).toBe(0);
    const penalised = ((await call(d.b.local, 'GET', '/api/v1/admin/peers')).body as { peers: Peer[] }).peers.find((p) => p.peer_id === liar.peerId);
    expect(penalised?.penalties).toBe(fetched.rejected.length);
    expect((await audit(d.b.local, 'peer.penalty')).filter((e) => e.actor === `peer:${liar.peerId}`).length).toBe(fetched.rejected.length);
  }, 120_000);

  it('a chat on C for a model only a peer holds is routed and streamed (SSE and OpenAI); a key revoked on C is refused there without A being asked', async () => {
    expect((await call(d.c.local, 'DELETE', '/api/v1/admin/llm/models/stories')).status).toBe(204);
    const req = await call(d.c.local, 'POST', '/api/v1/llm/requests', { model_id: 'stories', cave_namespace: 'team' });
    expect(req.status, JSON.stringify(req.body)).toBe(201);
    const ok = (await call(d.c.local, 'POST', `/api/v1/admin/llm/requests/${(req.body as { id: string }).id}/approve`, { ttl_s: 600 })).body as { token: string; token_id: string };
    const key = { ...d.c.local };
    const headers = { authorization: `Bearer ${ok.token}`, 'x-cave-namespace': 'team' };
    const body = { model: 'stories', messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 24, temperature: 0 };
    // streamed, native SSE
    const sse = await call(key, 'POST', '/api/v1/llm/chat', { ...body, stream: true }, { headers });
    expect(sse.status).toBe(200);
    expect(String(sse.headers['content-type'])).toMatch(/^text\/event-stream/);
    const events = sse.raw.toString().split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)) as { text?: string; done?: boolean; usage?: { completion_tokens: number } });
    const text = events.map((e) => e.text ?? '').join('');
    expect(text.length).toBeGreaterThan(0);
    expect(events.at(-1)).toMatchObject({ done: true });
    expect(events.at(-1)?.usage?.completion_tokens).toBeGreaterThan(0);
    // the OpenAI-compatible route, not streamed: the same text at temperature 0
    const oa = await call(key, 'POST', '/v1/chat/completions', body, { headers });
    expect(oa.status, JSON.stringify(oa.body)).toBe(200);
    expect((oa.body as { choices: { message: { content: string } }[] }).choices[0]?.message.content).toBe(text);
    // and the key's model is listed on C though only A holds it
    expect(((await call(key, 'GET', '/v1/models', undefined, { headers })).body as { data: { id: string }[] }).data.map((x) => x.id)).toEqual(['stories']);
    // both hosts audit it: C the key's use (routed to A), A the routed call from C with the key's id
    const used = (await audit(d.c.local, 'llm.chat')).filter((e) => e.outcome === 'ok');
    expect(used.length).toBe(2);
    expect(used.every((e) => e.actor === ok.token_id && e.details?.routed_to === st.a.peer_id)).toBe(true);
    const routed = (await audit(d.a.local, 'llm.chat.routed')).filter((e) => e.outcome === 'ok');
    expect(routed.length).toBe(2);
    expect(routed.every((e) => e.actor === `peer:${st.c.peer_id}` && e.details?.key === ok.token_id)).toBe(true);
    // revoked on the calling host: refused there, and A is never asked
    expect((await call(d.c.local, 'POST', '/api/v1/admin/llm/models/stories/revoke_key', { token_id: ok.token_id })).status).toBe(200);
    const refused = await call(key, 'POST', '/api/v1/llm/chat', { ...body, stream: true }, { headers });
    expect(refused.status).toBe(403);
    expect((await audit(d.a.local, 'llm.chat.routed')).filter((e) => e.outcome === 'ok').length).toBe(2);
  }, 120_000);

  it('a key revoked on C while its routed answer streams stops it there, and A stops generating', async () => {
    const req = await call(d.c.local, 'POST', '/api/v1/llm/requests', { model_id: 'stories', cave_namespace: 'team' });
    const ok = (await call(d.c.local, 'POST', `/api/v1/admin/llm/requests/${(req.body as { id: string }).id}/approve`, { ttl_s: 600 })).body as { token: string; token_id: string };
    const routedBefore = (await audit(d.a.local, 'llm.chat.routed')).length;
    // temperature 0: the same long answer every time (stories260K: about 700 tokens, some hundreds of ms)
    const body = { model: 'stories', messages: [{ role: 'user', content: 'Tell a long story' }], max_tokens: 2000, temperature: 0, stream: true };
    const events = await streamSse(d.c.local.socketPath as string, '/api/v1/llm/chat', body, { authorization: `Bearer ${ok.token}`, 'x-cave-namespace': 'team' }, async () => {
      expect((await call(d.c.local, 'POST', '/api/v1/admin/llm/models/stories/revoke_key', { token_id: ok.token_id })).status).toBe(200);
    });
    const texts = events.filter((e) => typeof e.text === 'string');
    expect(texts.length).toBeGreaterThan(0);
    expect(events.some((e) => e.done === true)).toBe(false);
    // the stream's last event is the error, with its stable code (never a cut connection)
    expect(events.at(-1)).toMatchObject({ error: { code: 'FORBIDDEN', message: expect.stringMatching(/revoked/) } });
    // A stopped making the answer: its audit row says cancelled, well short of the whole answer
    const row = await until('A\'s audit row of the cut call', async () => (await audit(d.a.local, 'llm.chat.routed')).slice(routedBefore).find((e) => e.details?.key === ok.token_id) ?? null);
    expect(row).toMatchObject({ outcome: 'ok', details: { finish: 'cancelled' } });
    expect(Number(row.details?.completion_tokens)).toBeLessThan(600);
    // C audits the cut use as denied
    expect((await audit(d.c.local, 'llm.chat')).filter((e) => e.actor === ok.token_id)).toEqual([expect.objectContaining({ outcome: 'denied', details: expect.objectContaining({ code: 'FORBIDDEN', routed_to: st.a.peer_id }) })]);
  }, 60_000);

  it('answers P2P_DISABLED where the node is off, and peers rm forgets a peer', async () => {
    const off = await startTestDaemon();
    try {
      const r = await call(off.local, 'POST', '/api/v1/admin/peers/pull', { name: 'stories' });
      expect(r.status).toBe(409);
      expect((r.body as { error: { code: string } }).error.code).toBe('P2P_DISABLED');
      expect(((await call(off.local, 'GET', '/api/v1/admin/peers/status')).body as Status).enabled).toBe(false);
    } finally {
      await off.stop();
      removeHome(off.home);
    }
    // only admins manage peers: a namespace key is refused (and audited) at every peer route
    const key = ((await call(d.c.local, 'POST', '/api/v1/keys', { name: 'ns', role: 'namespace', namespace: 'team' })).body as { secret: string }).secret;
    for (const [method, path, body] of [['GET', '/api/v1/admin/peers', undefined], ['POST', '/api/v1/admin/peers', { address: st.b.peer_id }], ['POST', '/api/v1/admin/peers/pull', { name: 'stories' }], ['DELETE', `/api/v1/admin/peers/${st.b.peer_id}`, undefined]] as const) {
      const r = await call({ ...d.c.local, key }, method, path, body);
      expect((r.body as { error: { code: string } }).error.code, `${method} ${path}`).toBe('FORBIDDEN');
    }
    expect((await call(d.c.local, 'DELETE', `/api/v1/admin/peers/${st.b.peer_id}`)).status).toBe(204);
    expect((await call(d.c.local, 'DELETE', `/api/v1/admin/peers/${st.b.peer_id}`)).status).toBe(404);
  }, 30_000);
});
