/** A model's transfer between two P2P daemons (real libp2p nodes on 127.0.0.1) is a p2p.fetch span under the pull request, exported to a real OTLP/HTTP receiver. */
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, removeHome, startTestDaemon, type Target, type TestDaemon } from '../../helpers/daemon.js';
import { modelSkipReason, TEST_MODEL, TEST_MODEL_SHA256 } from '../../helpers/model.js';
import { attr, startOtlpReceiver, type ExportedSpan, type OtlpReceiver } from '../../helpers/otlp.js';
import { sandboxSkipReason } from '../../helpers/sandbox.js';
import { until } from '../../helpers/until.js';

const skip = sandboxSkipReason() ?? modelSkipReason();

const jobDone = (t: Target, id: string) => until(`job ${id}`, async () => {
  const j = (await call(t, 'GET', `/api/v1/admin/llm/jobs/${id}`)).body as { status: string; error?: string };
  return j.status === 'done' || j.status === 'failed' ? j : null;
}, 60_000);

describe.skipIf(skip)('traces of a P2P transfer', () => {
  let a: TestDaemon;
  let b: TestDaemon;
  let otlp: OtlpReceiver;
  let dir: string;

  beforeAll(async () => {
    process.env.OTEL_BSP_SCHEDULE_DELAY = '100';
    otlp = await startOtlpReceiver();
    const env = { BKG_P2P: '1', BKG_P2P_LISTEN: '/ip4/127.0.0.1/tcp/0', BKG_P2P_CHUNK_SIZE: '64k', OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint };
    a = await startTestDaemon({ env });
    b = await startTestDaemon({ env });
    dir = mkdtempSync(join(tmpdir(), 'bkg-otel-p2p-'));
  }, 60_000);

  afterAll(async () => {
    for (const d of [a, b]) {
      if (!d) continue;
      await d.stop();
      removeHome(d.home);
    }
    rmSync(dir, { recursive: true, force: true });
    await otlp.close();
    delete process.env.OTEL_BSP_SCHEDULE_DELAY;
  });

  it('p2p.fetch: the model, its chunks and the peers used, under POST /api/v1/admin/peers/pull', async () => {
    const init = (await call(a.local, 'POST', '/api/v1/admin/peers/init', {})).body as { network_key: string };
    expect((await call(b.local, 'POST', '/api/v1/admin/peers/init', { network_key: init.network_key })).status).toBe(200);
    const listen = async (d: TestDaemon) => ((await call(d.local, 'GET', '/api/v1/admin/peers/status')).body as { listen: string[] }).listen[0] as string;
    const signer = generateKeyPairSync('ed25519');
    const sig = sign(null, createHash('sha256').update(readFileSync(TEST_MODEL)).digest(), signer.privateKey).toString('base64');
    const pem = signer.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    for (const d of [a, b]) expect((await call(d.local, 'POST', '/api/v1/admin/llm/trust', { name: 'release', public_key: pem })).status).toBeLessThan(300);
    expect((await call(a.local, 'POST', '/api/v1/admin/peers', { address: await listen(b), name: 'b' })).status).toBe(201);
    expect((await call(b.local, 'POST', '/api/v1/admin/peers', { address: await listen(a), name: 'a' })).status).toBe(201);

    copyFileSync(TEST_MODEL, join(dir, 'stories.gguf'));
    const pulled = await call(a.local, 'POST', '/api/v1/admin/llm/models', { source: join(dir, 'stories.gguf'), name: 'stories', sha256: TEST_MODEL_SHA256, sig_base64: sig });
    expect(pulled.status).toBe(202);
    expect((await jobDone(a.local, (pulled.body as { job_id: string }).job_id)).status).toBe('done');
    await until('B to see the model on A', async () => {
      const peers = ((await call(b.local, 'GET', '/api/v1/admin/peers')).body as { peers: { models: { id: string }[] | null }[] }).peers;
      return peers.some((p) => p.models?.some((m) => m.id === 'stories'));
    }, 30_000);
    const r = await call(b.local, 'POST', '/api/v1/admin/peers/pull', { name: 'stories' });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const job = await jobDone(b.local, (r.body as { job_id: string }).job_id);
    expect(job.status, job.error).toBe('done');

    const spans = await otlp.waitFor('the transfer span', (all) => all.some((s) => s.name === 'p2p.fetch'));
    const fetch = spans.find((s) => s.name === 'p2p.fetch') as ExportedSpan;
    expect(attr(fetch, 'bkg.model')).toBe('stories');
    expect(Number(attr(fetch, 'p2p.chunks'))).toBeGreaterThan(1);
    expect(Number(attr(fetch, 'p2p.peers_used'))).toBe(1);
    expect(Number(attr(fetch, 'p2p.chunks_rejected'))).toBe(0);
    expect(spans.find((s) => s.spanId === fetch.parentSpanId)?.name).toBe('POST /api/v1/admin/peers/pull');
  }, 120_000);
});
