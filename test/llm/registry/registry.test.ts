/**
 * The model registry end to end on real things: a real HTTP server that drops connections, the
 * real 1.2 MB stories260K GGUF model, and verification in real bkg sandboxes.
 */
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, rm, truncate, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BkgError } from '../../../src/api/errors.js';
import { ModelRegistry, type VerifyReport } from '../../../src/llm/registry/index.js';
import { createLogger } from '../../../src/log.js';
import { sandboxSkipReason } from '../../helpers/sandbox.js';
import { copyModel, makeRegistry, MODEL_SHA256, MODEL_SIZE, sharedModelPath, startModelServer, until, type ModelServer, type TestRegistry } from './helpers.js';
import { rejection } from '../../helpers/errors.js';

const skip = sandboxSkipReason() ?? (sharedModelPath() ? null : 'shared/models/stories260K.gguf is missing');
if (skip) console.warn(`skipping model registry tests: ${skip}`);

const sha256File = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');


function expectCacheClean(t: TestRegistry): void {
  expect(readdirSync(t.blobsDir)).toEqual([]);
  expect(readdirSync(t.partialDir)).toEqual([]);
  // nothing in the verifiers' directories but, at most, the spare's empty file
  const slots = readdirSync(t.verifierDir);
  expect(slots.length).toBeLessThanOrEqual(1);
  for (const d of slots) expect(readdirSync(join(t.verifierDir, d)).map((f) => [f, statSync(join(t.verifierDir, d, f)).size])).toEqual([['model.gguf', 0]]);
  expect(t.registry.list()).toEqual([]);
}

describe.skipIf(skip)('model registry', () => {
  let dir: string;
  let model: string;
  let server: ModelServer;
  let t: TestRegistry;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bkg-model-src-'));
    model = await copyModel(dir);
    server = await startModelServer({ '/models/stories260K.gguf': model });
  });
  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await t?.close();
    server.behaviour = {};
    server.requests.length = 0;
  });

  it('pulls over HTTP, resuming with Range after the connection drops, and verifies in a sandbox', async () => {
    t = await makeRegistry();
    server.behaviour = { dropAfterBytes: 300_000, drops: 2 };
    const phases = new Set<string>();
    let report: VerifyReport | undefined;
    const m = await t.registry.pull({ source: server.url('/models/stories260K.gguf'), onProgress: (p) => phases.add(p.phase), onVerified: (r) => (report = r) });

    expect(m).toMatchObject({ id: 'stories260k', name: 'stories260K.gguf', sha256: MODEL_SHA256, size_bytes: MODEL_SIZE, signed_by: null, last_used_at: null });
    expect(server.requests.length).toBe(3);
    expect(server.requests[0]).toMatchObject({ range: undefined, status: 200 });
    expect(server.requests[1]?.range).toMatch(/^bytes=\d+-$/);
    expect(Number(/\d+/.exec(server.requests[1]?.range ?? '')?.[0])).toBeGreaterThan(0);
    expect(server.requests[1]?.status).toBe(206);
    expect(server.requests[2]?.status).toBe(206);

    const blob = t.registry.blobPath(m);
    expect(blob).toBe(join(t.blobsDir, `sha256-${MODEL_SHA256}`));
    expect(sha256File(blob)).toBe(MODEL_SHA256);
    expect(statSync(blob).size).toBe(MODEL_SIZE);
    expect(statSync(t.blobsDir).mode & 0o777).toBe(0o700);
    expect(statSync(t.partialDir).mode & 0o777).toBe(0o700);
    expect(readdirSync(t.partialDir)).toEqual([]);
    expect([...phases]).toEqual(['downloading', 'verifying', 'done']);
    expect(t.registry.get('stories260k')).toEqual(m);
    expect(t.registry.list()).toEqual([m]);

    // The verdict came from a sandbox: its hostname, root inside its user namespace, no network.
    expect(report?.sandbox.hostname.startsWith('bkg-')).toBe(true);
    expect(report?.sandbox.uid).toBe(0);
    expect(report?.sandbox.interfaces.filter((i) => i !== 'lo')).toEqual([]);
    expect(report?.gguf).toMatchObject({ version: 3, tensor_count: 48, architecture: 'llama', data_end: MODEL_SIZE });
  });

  it('starts over when the server ignores Range', async () => {
    t = await makeRegistry();
    server.behaviour = { dropAfterBytes: 200_000, drops: 1, ignoreRange: true };
    const m = await t.registry.pull({ source: server.url('/models/stories260K.gguf'), name: 'Tiny Stories', sha256: MODEL_SHA256 });
    expect(m.id).toBe('tiny-stories');
    expect(server.requests.map((r) => r.status)).toEqual([200, 200]);
    expect(server.requests[1]?.range).toMatch(/^bytes=\d+-$/);
    expect(sha256File(t.registry.blobPath(m))).toBe(MODEL_SHA256);
  });

  it('drops a connection that goes silent and resumes', async () => {
    t = await makeRegistry({ download: { retries: 3, retryDelayMs: 10, idleTimeoutMs: 300 } });
    server.behaviour = { stallAfterBytes: 400_000, stalls: 1 };
    const m = await t.registry.pull({ source: server.url('/models/stories260K.gguf') });
    expect(m.sha256).toBe(MODEL_SHA256);
    expect(server.requests.map((r) => r.status)).toEqual([200, 206]);
    expect(server.requests[1]?.range).toBe('bytes=400000-');
  });

  it('close() cancels a running download job and cleans up', async () => {
    t = await makeRegistry({ download: { retries: 3, retryDelayMs: 10, idleTimeoutMs: 60_000 } });
    server.behaviour = { stallAfterBytes: 100_000, stalls: 1 };
    const started = t.registry.startDownload({ source: server.url('/models/stories260K.gguf') });
    await until(() => (t.registry.job(started.job_id)?.status === 'downloading' && readdirSync(t.verifierDir).length > 0) || null);
    await t.registry.close();
    expect(readdirSync(t.verifierDir)).toEqual([]);
    const job = t.registry.job(started.job_id);
    expect(job?.status).toBe('failed');
    expect(job?.error).toMatch(/^DOWNLOAD_FAILED: .*cancelled/);
    expectCacheClean(t);
    expect(() => t.registry.startDownload({ source: model })).toThrow(/shutting down/);
  });

  it('gives up with DOWNLOAD_FAILED after its retries, leaving nothing behind', async () => {
    t = await makeRegistry();
    server.behaviour = { status: 503 };
    const err = await rejection(t.registry.pull({ source: server.url('/models/stories260K.gguf') }));
    expect(err.code).toBe('DOWNLOAD_FAILED');
    expect(err.message).toMatch(/HTTP 503/);
    expect(server.requests.length).toBe(4); // 1 + 3 retries
    expectCacheClean(t);

    server.behaviour = {};
    const nf = await rejection(t.registry.pull({ source: server.url('/models/missing.gguf') }));
    expect(nf.code).toBe('DOWNLOAD_FAILED');
    expect(nf.message).toMatch(/HTTP 404/);
    expectCacheClean(t);
  });

  it('pulls from a local path; the same digest again is idempotent; another digest under the same id conflicts', async () => {
    t = await makeRegistry();
    const m = await t.registry.pull({ source: model });
    expect(m).toMatchObject({ id: 'stories260k', source: model, sha256: MODEL_SHA256 });
    expect(readFileSync(model).length).toBe(MODEL_SIZE); // the source is left alone

    const again = await t.registry.pull({ source: model });
    expect(again).toEqual(m);
    const pinned = await t.registry.pull({ source: model, sha256: MODEL_SHA256.toUpperCase() });
    expect(pinned).toEqual(m);

    const other = join(dir, 'other', 'stories260K.gguf');
    await mkdir(join(dir, 'other'), { recursive: true });
    await writeFile(other, readFileSync(model));
    await appendFile(other, Buffer.alloc(7));
    const err = await rejection(t.registry.pull({ source: other }));
    expect(err.code).toBe('CONFLICT');
    expect(err.message).toMatch(/stories260k is taken by a different file/);
    expect(t.registry.list()).toEqual([m]);
    expect(readdirSync(t.blobsDir)).toEqual([`sha256-${MODEL_SHA256}`]);
    expect(readdirSync(t.partialDir)).toEqual([]);

    // Under an explicit name of its own it is fine; the same file under a second explicit name is refused.
    const second = await t.registry.pull({ source: other, name: 'stories-padded' });
    expect(second.id).toBe('stories-padded');
    expect((await rejection(t.registry.pull({ source: model, name: 'again' }))).code).toBe('CONFLICT');
  });

  it('rejects a wrong sha256, a bad signature, an untrusted signer, a truncated file and a non-GGUF file, leaving the cache clean', async () => {
    t = await makeRegistry();
    const cases: { name: string; pull: () => Promise<unknown>; reason: RegExp }[] = [];

    cases.push({ name: 'wrong sha256', pull: () => t.registry.pull({ source: model, sha256: 'ab'.repeat(32) }), reason: /sha256 mismatch/ });

    const trusted = generateKeyPairSync('ed25519');
    const stranger = generateKeyPairSync('ed25519');
    t.registry.trust.add('release key', trusted.publicKey.export({ type: 'spki', format: 'pem' }).toString());
    const digest = createHash('sha256').update(readFileSync(model)).digest();
    const badSig = sign(null, createHash('sha256').update('something else').digest(), trusted.privateKey);
    cases.push({ name: 'bad signature', pull: () => t.registry.pull({ source: model, sig: badSig }), reason: /signature does not verify/ });
    const strangerSig = sign(null, digest, stranger.privateKey);
    const sigFile = join(dir, 'stranger.sig');
    await writeFile(sigFile, strangerSig.toString('base64') + '\n');
    cases.push({ name: 'untrusted signer', pull: () => t.registry.pull({ source: model, sig: sigFile }), reason: /untrusted signer/ });

    const truncated = join(dir, 'truncated.gguf');
    await writeFile(truncated, readFileSync(model));
    await truncate(truncated, 700_000);
    cases.push({ name: 'truncated', pull: () => t.registry.pull({ source: truncated }), reason: /truncated/ });

    const text = join(dir, 'not-a-model.gguf');
    await writeFile(text, 'hello, I am not a model\n'.repeat(100));
    cases.push({ name: 'not GGUF', pull: () => t.registry.pull({ source: text }), reason: /not a GGUF file/ });

    for (const c of cases) {
      const err = await rejection(c.pull());
      expect(err.code, c.name).toBe('MODEL_VERIFICATION_FAILED');
      expect(err.status).toBe(422);
      expect(err.message, c.name).toMatch(c.reason);
      expectCacheClean(t);
    }
  });

  it('starts a spare verifier after a pull; the next pull downloads into it; each file gets a sandbox of its own; an idle spare ends', async () => {
    t = await makeRegistry({ spareVerifierIdleMs: 60_000 });
    const reports: VerifyReport[] = [];
    const first = await t.registry.pull({ source: model, name: 'one', onVerified: (r) => reports.push(r) });
    // the spare: a directory with an empty file, its sandbox waiting
    await until(() => readdirSync(t.verifierDir).length === 1 || null);
    const [spare] = readdirSync(t.verifierDir);
    expect(readdirSync(join(t.verifierDir, spare as string))).toEqual(['model.gguf']);
    await new Promise((r) => setTimeout(r, 300));

    t.registry.remove(first.id);
    const t0 = performance.now();
    await t.registry.pull({ source: server.url('/models/stories260K.gguf'), name: 'two', sha256: MODEL_SHA256, onVerified: (r) => reports.push(r) });
    const elapsed = performance.now() - t0;
    expect(reports).toHaveLength(2);
    expect(reports[1]?.sandbox.id).not.toBe(reports[0]?.sandbox.id);
    // the second verifier was up before its pull began: it was the spare (it waited longer than the pull took)
    expect(reports[1]?.sandbox.waitedMs).toBeGreaterThan(elapsed);
    expect(reports[1]?.sandbox.durationMs).toBeLessThan(elapsed);
    expect(reports[1]?.sandbox.hostname.startsWith('bkg-')).toBe(true);
    // the spare's directory went with its pull, and a new spare waits
    await until(() => (readdirSync(t.verifierDir).length === 1 && readdirSync(t.verifierDir)[0] !== spare) || null);
    expect(readdirSync(t.partialDir)).toEqual([]);
    await t.registry.close();
    expect(readdirSync(t.verifierDir)).toEqual([]); // close() stopped the spare and removed its directory
    await t.close();

    // a spare nobody takes ends after its idle time
    t = await makeRegistry({ spareVerifierIdleMs: 200 });
    await t.registry.pull({ source: model });
    await until(() => readdirSync(t.verifierDir).length === 1 || null);
    await until(() => readdirSync(t.verifierDir).length === 0 || null);
  });

  it('two pulls at once: one takes the spare, the other starts a sandbox of its own; one spare waits after them', async () => {
    t = await makeRegistry();
    await t.registry.pull({ source: model });
    await until(() => readdirSync(t.verifierDir).length === 1 || null);
    t.registry.remove('stories260k');
    await new Promise((r) => setTimeout(r, 1500)); // the spare waits: longer than the pulls' tails will take
    const reports: VerifyReport[] = [];
    const t0 = performance.now();
    const both = await Promise.all([1, 2].map(() => t.registry.pull({ source: model, onVerified: (r) => reports.push(r) })));
    const elapsed = performance.now() - t0;
    expect(both.map((m) => m.sha256)).toEqual([MODEL_SHA256, MODEL_SHA256]);
    expect(new Set(reports.map((r) => r.sandbox.id)).size).toBe(2);
    // exactly one verifier was up before the pulls began: the spare
    expect(reports.filter((r) => r.sandbox.waitedMs > elapsed)).toHaveLength(1);
    await until(() => readdirSync(t.verifierDir).length === 1 || null);
    expect(readdirSync(t.partialDir)).toEqual([]);
    const [slot] = readdirSync(t.verifierDir);
    expect(statSync(join(t.verifierDir, slot as string, 'model.gguf')).size).toBe(0); // the new spare's, empty: nothing of the pulls is left
    expect(t.registry.list().map((m) => m.id)).toEqual(['stories260k']);
  });

  it('gc sweeps a cut-short download\'s slot after a day, never a live one; a restart removes only empty spares', async () => {
    t = await makeRegistry();
    await t.registry.pull({ source: model });
    await until(() => readdirSync(t.verifierDir).length === 1 || null);
    const [spare] = readdirSync(t.verifierDir) as [string];
    // what a daemon stopped mid-pull leaves: a slot with part of a file
    await mkdir(join(t.verifierDir, 'cutshort'));
    await writeFile(join(t.verifierDir, 'cutshort', 'model.gguf'), 'partial bytes');
    const old = new Date(Date.now() - 2 * 24 * 3600 * 1000);
    for (const d of [spare, 'cutshort']) {
      await utimes(join(t.verifierDir, d, 'model.gguf'), old, old);
      await utimes(join(t.verifierDir, d), old, old);
    }
    expect(t.registry.gc().removed).toEqual([{ kind: 'partial', name: 'verifier/cutshort', bytes: 13 }]);
    expect(readdirSync(t.verifierDir)).toEqual([spare]); // the live spare stays, however old

    // a restart: a dead daemon's empty spare goes, a cut-short download stays (for gc)
    await mkdir(join(t.verifierDir, 'deadspare'));
    await writeFile(join(t.verifierDir, 'deadspare', 'model.gguf'), '');
    await mkdir(join(t.verifierDir, 'cutshort2'));
    await writeFile(join(t.verifierDir, 'cutshort2', 'model.gguf'), 'partial');
    await t.registry.close(); // stops its spare
    const reopened = new ModelRegistry({ store: t.store, home: t.home, runtime: { run: () => Promise.reject(new Error('not used')) } as never, log: createLogger({ level: 'silent' }) });
    expect(readdirSync(t.verifierDir)).toEqual(['cutshort2']);
    expect(reopened.gc().removed).toEqual([]); // less than a day old
    await reopened.close();
  });

  it('accepts a good signature from a trusted key and records the signer', async () => {
    t = await makeRegistry();
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url');
    const key = t.registry.trust.add('release key', raw.toString('base64'));
    expect(key.fingerprint).toBe(createHash('sha256').update(raw).digest('hex').slice(0, 16));
    expect(t.registry.trust.list()).toEqual([key]);

    const digest = createHash('sha256').update(readFileSync(model)).digest();
    const sig = sign(null, digest, privateKey);
    let report: VerifyReport | undefined;
    const m = await t.registry.pull({ source: model, sig, onVerified: (r) => (report = r) });
    expect(m.signed_by).toBe(key.fingerprint);
    expect(report?.signedBy).toBe(key.fingerprint);
    expect(t.registry.get(m.id)?.signed_by).toBe(key.fingerprint);
  });

  it('runs download jobs in the background and records their progress', async () => {
    t = await makeRegistry();
    server.behaviour = { dropAfterBytes: 500_000, drops: 1 };
    const started = t.registry.startDownload({ source: server.url('/models/stories260K.gguf'), sha256: MODEL_SHA256 });
    expect(started.model_id).toBe('stories260k');
    expect(started.job_id).toMatch(/^dl_/);
    const job = await until(() => {
      const j = t.registry.job(started.job_id);
      return j && (j.status === 'done' || j.status === 'failed') ? j : null;
    });
    expect(job).toMatchObject({ status: 'done', model_id: 'stories260k', bytes_done: MODEL_SIZE, bytes_total: MODEL_SIZE, error: null });
    expect(t.registry.get('stories260k')?.sha256).toBe(MODEL_SHA256);

    // Re-pulling a model pinned to its digest restores a missing blob.
    await rm(t.registry.blobPath(t.registry.get('stories260k')!));
    const again = t.registry.redownload('stories260k');
    const done = await until(() => {
      const j = t.registry.job(again.job_id);
      return j && (j.status === 'done' || j.status === 'failed') ? j : null;
    });
    expect(done.status).toBe('done');
    expect(existsSync(join(t.blobsDir, `sha256-${MODEL_SHA256}`))).toBe(true);

    // A failing job records why.
    const bad = t.registry.startDownload({ source: model, name: 'wrong', sha256: '00'.repeat(32) });
    const failed = await until(() => {
      const j = t.registry.job(bad.job_id);
      return j && j.status === 'failed' ? j : null;
    });
    expect(failed.error).toMatch(/^MODEL_VERIFICATION_FAILED: .*sha256 mismatch/);
    expect(t.registry.get('wrong')).toBeNull();
  });

  it('gc removes orphan blobs and stale partials, and evicts the least recently used models over the cap', async () => {
    let clock = Date.now();
    const tick = () => new Date((clock += 1000));
    t = await makeRegistry({ now: tick });
    const variants: string[] = [];
    for (const n of [1, 2, 3]) {
      const p = join(dir, `v${n}.gguf`);
      await writeFile(p, readFileSync(model));
      await appendFile(p, Buffer.alloc(n));
      variants.push(p);
    }
    const a = await t.registry.pull({ source: variants[0]! });
    const b = await t.registry.pull({ source: variants[1]! });
    const c = await t.registry.pull({ source: variants[2]! });
    t.registry.touch(a.id);

    const orphan = join(t.blobsDir, `sha256-${'0'.repeat(64)}`);
    await writeFile(orphan, 'orphan');
    const stale = join(t.partialDir, 'dl_old.part');
    await writeFile(stale, 'stale partial');
    const old = new Date(clock - 2 * 24 * 3600 * 1000);
    await utimes(stale, old, old);
    const fresh = join(t.partialDir, 'dl_new.part');
    await writeFile(fresh, 'fresh partial');

    const result = t.registry.gc({ capBytes: a.size_bytes + c.size_bytes });
    expect(result.removed).toEqual([
      { kind: 'blob', name: `sha256-${'0'.repeat(64)}`, bytes: 6 },
      { kind: 'partial', name: 'dl_old.part', bytes: 13 },
      { kind: 'model', name: b.id, bytes: b.size_bytes },
    ]);
    expect(result.freed_bytes).toBe(6 + 13 + b.size_bytes);
    expect(t.registry.list().map((m) => m.id).sort()).toEqual([a.id, c.id].sort());
    expect(existsSync(t.registry.blobPath(b))).toBe(false);
    expect(existsSync(t.registry.blobPath(a))).toBe(true);
    expect(existsSync(fresh)).toBe(true);

    // Next in line is c (never used), then a.
    expect(t.registry.gc({ capBytes: a.size_bytes }).removed.map((r) => r.name)).toEqual([c.id]);
    expect(t.registry.list().map((m) => m.id)).toEqual([a.id]);

    t.registry.remove(a.id);
    expect(t.registry.get(a.id)).toBeNull();
    expect(readdirSync(t.blobsDir)).toEqual([]);
    expect((() => {
      try {
        t.registry.remove(a.id);
      } catch (err) {
        return (err as BkgError).code;
      }
      return null;
    })()).toBe('NOT_FOUND');
  });
});
