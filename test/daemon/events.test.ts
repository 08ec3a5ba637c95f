/**
 * The live event stream against a real daemon with real sandboxes: every kind of event arrives
 * (sandbox lifecycle including expiry, failure and OOM kills, execs, usage samples from the cgroups,
 * audit rows, model pulls and access requests), replay after a reconnect, a restarted run reported
 * as a gap, server-sent events over raw HTTP with Last-Event-ID, and readers told when the daemon stops.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessRequestEvent, AuditStreamEvent, ExecFinishedEvent, ExecStartedEvent, ModelPullEvent, SandboxEvent, UsageEvent } from '../../src/api/schema/events.js';
import { call, removeHome, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { openSse, readEvents, socketEndpoint, type Reader } from '../helpers/events.js';
import { modelSkipReason, TEST_MODEL, TEST_MODEL_SHA256 } from '../helpers/model.js';
import { sandboxSkipReason } from '../helpers/sandbox.js';

const skip = sandboxSkipReason();
const MiB = 1024 * 1024;

const isSandbox = (type: SandboxEvent['type'], name: string) => (e: { type: string; sandbox?: { name: string } }) => e.type === type && e.sandbox?.name === name;

describe.skipIf(skip)('the event stream', () => {
  let d: TestDaemon;
  let reader: Reader;
  const readers: Reader[] = [];
  const open = (opts: Parameters<typeof readEvents>[1] = {}): Reader => {
    const r = readEvents(socketEndpoint(d.config.socketPath), opts);
    readers.push(r);
    return r;
  };
  const create = async (name: string, body: Record<string, unknown> = {}): Promise<{ id: string }> => {
    const r = await call(d.local, 'POST', '/api/v1/sandboxes', { name, ...body });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body as { id: string };
  };
  const start = async (name: string): Promise<void> => {
    const r = await call(d.local, 'POST', `/api/v1/sandboxes/${name}/start`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
  };

  beforeAll(async () => {
    d = await startTestDaemon({ env: { BKG_EVENTS_INTERVAL_MS: '200' } });
    reader = open();
    const ready = await reader.ready;
    expect(ready).toMatchObject({ type: 'stream.ready', replayed: 0 });
    expect(ready.run).toMatch(/^[0-9a-f]{16}$/);
  });
  afterAll(async () => {
    for (const r of readers) r.close();
    const list = ((await call(d.local, 'GET', '/api/v1/sandboxes')).body as { sandboxes: { id: string }[] }).sandboxes;
    for (const s of list) await call(d.local, 'DELETE', `/api/v1/sandboxes/${s.id}`);
    await d.stop();
    removeHome(d.home);
  });

  it('tells a sandbox\'s life, its commands (exit code, duration) and the audit rows, in id order', async () => {
    const { id } = await create('life');
    await start('life');
    const ran = await call(d.local, 'POST', '/api/v1/sandboxes/life/exec', { cmd: ['sh', '-c', 'sleep 0.2; exit 3'] });
    expect(ran.body).toMatchObject({ exit_code: 3 });
    await call(d.local, 'POST', '/api/v1/sandboxes/life/stop');
    await call(d.local, 'DELETE', '/api/v1/sandboxes/life');

    const created = await reader.find<SandboxEvent>(isSandbox('sandbox.created', 'life'), 'sandbox.created');
    expect(created).toMatchObject({ sandbox: { id, name: 'life', namespace: 'default', status: 'created' }, actor: 'host' });
    expect(await reader.find(isSandbox('sandbox.started', 'life'), 'sandbox.started')).toMatchObject({ sandbox: { status: 'running' }, actor: 'host' });
    const started = await reader.find<ExecStartedEvent>((e) => e.type === 'exec.started' && e.sandbox.id === id, 'exec.started');
    expect(started.exec).toEqual({ id: expect.stringMatching(/^exec_/), cmd: ['sh', '-c', 'sleep 0.2; exit 3'], actor: 'host' });
    const finished = await reader.find<ExecFinishedEvent>((e) => e.type === 'exec.finished' && e.sandbox.id === id, 'exec.finished');
    expect(finished.exec).toMatchObject({ id: started.exec.id, cmd: started.exec.cmd, exit_code: 3, signal: null, timed_out: false, oom_killed: false, limits_hit: [] });
    expect(finished.exec.duration_ms).toBeGreaterThanOrEqual(200);
    expect(await reader.find(isSandbox('sandbox.stopped', 'life'), 'sandbox.stopped')).toMatchObject({ sandbox: { status: 'stopped' }, actor: 'host' });
    const deleted = await reader.find(isSandbox('sandbox.deleted', 'life'), 'sandbox.deleted');
    expect(deleted).toMatchObject({ sandbox: { id, status: 'deleted' } });

    // every audit row is an event too, as GET /api/v1/audit shows it
    const audit = await reader.find<AuditStreamEvent>((e) => e.type === 'audit' && e.event.action === 'sandbox.delete' && e.event.target === id, 'the audit row of the delete');
    const rows = ((await call(d.local, 'GET', '/api/v1/audit')).body as { events: { seq: number }[] }).events;
    expect(rows.find((r) => r.seq === audit.event.seq)).toEqual(audit.event);
    for (const action of ['sandbox.create', 'sandbox.start', 'sandbox.exec', 'sandbox.stop']) {
      await reader.find<AuditStreamEvent>((e) => e.type === 'audit' && e.event.action === action && e.event.target === id, `the audit row of ${action}`);
    }
    const ids = reader.events.map((e) => e.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);
    expect(reader.events.indexOf(created)).toBeLessThan(reader.events.indexOf(deleted));
  });

  it('samples a running sandbox\'s usage from its cgroups: CPU %, memory, pids and disk against their limits', async () => {
    await create('busy', { limits: { memory_mb: 64, pids: 32, disk_mb: 16 } });
    await start('busy');
    await call(d.local, 'POST', '/api/v1/sandboxes/busy/exec', { cmd: ['sh', '-c', 'head -c 5000000 /dev/zero > /tmp/blob'] });
    const hog = call(d.local, 'POST', '/api/v1/sandboxes/busy/exec', { cmd: ['python3', '-c', 'import time\nt = time.time()\nwhile time.time() - t < 3: pass'] });
    const busy = (e: UsageEvent) => e.samples.find((s) => s.sandbox.name === 'busy');
    const hot = await reader.find<UsageEvent>((e) => e.type === 'usage' && (busy(e)?.cpu_percent ?? 0) > 30, 'a usage sample with the CPU busy', 5000);
    const s = busy(hot);
    expect(hot.interval_ms).toBe(200);
    expect(s).toMatchObject({ sandbox: { name: 'busy', namespace: 'default', status: 'running' }, memory_limit_bytes: 64 * MiB, pids_limit: 32, disk_limit_bytes: 16 * MiB, expires_at: null });
    expect(s?.cpu_percent).toBeLessThan(250);
    expect(s?.memory_bytes).toBeGreaterThan(0);
    expect(s?.memory_bytes).toBeLessThanOrEqual(64 * MiB);
    expect(s?.pids).toBeGreaterThanOrEqual(2); // init and the hog
    expect(s?.disk_bytes).toBeGreaterThanOrEqual(5_000_000);
    expect(s?.disk_bytes).toBeLessThan(16 * MiB);
    expect(Date.parse(s?.started_at ?? '')).toBeGreaterThan(Date.now() - 60_000);
    expect(s?.idle_expires_at).toBeNull();
    expect((await hog).status).toBe(200);
    // idle again: CPU falls back
    await reader.find<UsageEvent>((e) => e.type === 'usage' && e.id > hot.id && busy(e)?.cpu_percent !== null && (busy(e)?.cpu_percent ?? 100) < 10, 'an idle sample', 5000);
  });

  it('reports an OOM kill seen in the samples, and the exec that was killed', async () => {
    await create('hog', { limits: { memory_mb: 32 } });
    await start('hog');
    const r = await call(d.local, 'POST', '/api/v1/sandboxes/hog/exec', { cmd: ['python3', '-c', 'x = bytearray(256 * 1024 * 1024)'] });
    expect(r.body).toMatchObject({ oom_killed: true });
    const fin = await reader.find<ExecFinishedEvent>((e) => e.type === 'exec.finished' && e.sandbox.name === 'hog', 'the exec.finished of the hog');
    expect(fin.exec).toMatchObject({ oom_killed: true, limits_hit: ['memory'] });
    const oom = await reader.find<SandboxEvent>(isSandbox('sandbox.oom_killed', 'hog'), 'sandbox.oom_killed', 5000);
    expect(oom).toMatchObject({ actor: 'daemon', sandbox: { status: 'running' }, reason: expect.stringMatching(/killed at the memory limit/) });
  });

  it('tells a sandbox that expired (the daemon as actor) and one whose start failed', async () => {
    await create('brief', { limits: { timeout_s: 1 } });
    await start('brief');
    const expired = await reader.find<SandboxEvent>(isSandbox('sandbox.expired', 'brief'), 'sandbox.expired', 8000);
    expect(expired).toMatchObject({ actor: 'daemon', reason: 'its lifetime ended', sandbox: { status: 'stopped' } });

    const ws = mkdtempSync(join(tmpdir(), 'bkg-events-ws-'));
    mkdirSync(join(ws, 'sub'));
    await create('doomed', { workspace: join(ws, 'sub') });
    rmSync(ws, { recursive: true, force: true });
    expect((await call(d.local, 'POST', '/api/v1/sandboxes/doomed/start')).status).toBeGreaterThanOrEqual(400);
    const failed = await reader.find<SandboxEvent>(isSandbox('sandbox.failed', 'doomed'), 'sandbox.failed');
    expect(failed).toMatchObject({ actor: 'host', sandbox: { status: 'failed' }, reason: expect.any(String) });
  });

  it('replays what a reader missed when it comes back with since and run', async () => {
    const first = open({ types: ['sandbox.*'] });
    const { run } = await first.ready;
    await create('again-1');
    const seen = await first.find(isSandbox('sandbox.created', 'again-1'), 'again-1');
    first.close();
    expect(await first.closed).toBeNull();
    await create('again-2');
    await call(d.local, 'DELETE', '/api/v1/sandboxes/again-1');
    const back = open({ since: seen.id, run, types: ['sandbox.*'] });
    const ready = await back.ready;
    expect(ready).toMatchObject({ run, replayed: 2 });
    expect(ready.last_id).toBeGreaterThan(seen.id);
    const [a, b] = await back.count(2);
    expect(a).toMatchObject({ type: 'sandbox.created', sandbox: { name: 'again-2' } });
    expect(b).toMatchObject({ type: 'sandbox.deleted', sandbox: { name: 'again-1' } });
    expect(a?.id).toBeGreaterThan(seen.id);
    expect(back.gaps).toEqual([]);
    // live after the replay
    await call(d.local, 'DELETE', '/api/v1/sandboxes/again-2');
    await back.find(isSandbox('sandbox.deleted', 'again-2'), 'the live delete');
  });

  it('says when it cannot replay: since from another run of the daemon', async () => {
    const r = open({ since: 3, run: '0000000000000000' });
    await r.ready;
    await expect.poll(() => r.gaps.length).toBe(1);
    expect(r.gaps[0]).toMatchObject({ type: 'stream.gap', since: 3, message: expect.stringMatching(/another run/) });
    const future = open({ since: 1e9 });
    await future.ready;
    await expect.poll(() => future.gaps[0]?.message ?? '').toMatch(/restarted/);
  });

  it('refuses an unknown event type before upgrading', async () => {
    const r = open({ types: ['sandbox.*', 'weather'] });
    const err = await r.closed;
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/"weather" is not an event type/) });
  });

  it('streams server-sent events to a plain HTTP client, honouring Last-Event-ID', async () => {
    const sse = await openSse(d.local, '?types=sandbox.created,sandbox.deleted');
    expect(sse.res.statusCode).toBe(200);
    expect(sse.res.headers['content-type']).toMatch(/^text\/event-stream/);
    await sse.until((f) => f.some((x) => x.event === 'stream.ready'));
    await create('sse-1');
    await create('sse-2');
    const frames = await sse.until((f) => f.filter((x) => x.event === 'sandbox.created').length === 2);
    sse.close();
    const [one, two] = frames.filter((x) => x.event === 'sandbox.created');
    expect(frames[0]).toMatchObject({ event: 'stream.ready' });
    expect(frames[0]?.id).toBeUndefined();
    expect(JSON.parse(one?.data ?? '{}')).toMatchObject({ id: Number(one?.id), type: 'sandbox.created', sandbox: { name: 'sse-1' } });
    // an EventSource comes back with the id of the last event it read
    await call(d.local, 'DELETE', '/api/v1/sandboxes/sse-1');
    const back = await openSse(d.local, '?types=sandbox.created,sandbox.deleted', { 'last-event-id': String(one?.id) });
    const replayed = await back.until((f) => f.filter((x) => x.id).length >= 2);
    back.close();
    expect(JSON.parse(replayed[0]?.data ?? '{}')).toMatchObject({ type: 'stream.ready', replayed: 2 });
    expect(replayed.filter((x) => x.id).map((x) => [x.id, x.event])).toEqual([[two?.id, 'sandbox.created'], [expect.any(String), 'sandbox.deleted']]);
    // a bad Last-Event-ID is refused like a bad ?since=
    const bad = await call(d.local, 'GET', '/api/v1/events', undefined, { headers: { 'last-event-id': 'yesterday' } });
    expect(bad.body).toMatchObject({ error: { code: 'INVALID_ARGUMENT' } });
  });

  describe.skipIf(modelSkipReason())('models', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'bkg-events-model-'));
      copyFileSync(TEST_MODEL, join(dir, 'stories260K.gguf'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('follows a model pull from queued to done, with its bytes', async () => {
      const pulled = await call(d.local, 'POST', '/api/v1/admin/llm/models', { source: join(dir, 'stories260K.gguf'), name: 'stories', sha256: TEST_MODEL_SHA256 });
      expect(pulled.status).toBe(202);
      const job = (pulled.body as { job_id: string }).job_id;
      const done = await reader.find<ModelPullEvent>((e) => e.type === 'model.pull' && e.job.id === job && ['done', 'failed'].includes(e.job.status), 'the end of the pull', 30_000);
      expect(done.job).toMatchObject({ status: 'done', model_id: 'stories', error: null });
      expect(done.job.bytes_done).toBe(done.job.bytes_total);
      const steps = reader.events.filter((e): e is ModelPullEvent => e.type === 'model.pull' && e.job.id === job);
      expect(steps.map((e) => e.job.status).filter((s, i, all) => all[i - 1] !== s)).toEqual(['queued', 'downloading', 'verifying', 'done']);
      expect(steps.some((e) => e.job.status === 'verifying' && e.job.bytes_done === done.job.bytes_done)).toBe(true);
    });

    it('tells an access request made and decided', async () => {
      const asked = await call(d.local, 'POST', '/api/v1/llm/requests', { model_id: 'stories', cave_namespace: 'default' });
      expect(asked.status, JSON.stringify(asked.body)).toBe(201);
      const id = (asked.body as { id: string }).id;
      const pending = await reader.find<AccessRequestEvent>((e) => e.type === 'model.access_request' && e.request.id === id, 'the request');
      expect(pending.request).toMatchObject({ status: 'pending', model_id: 'stories', cave_namespace: 'default', requested_by: 'host' });
      expect((await call(d.local, 'POST', `/api/v1/admin/llm/requests/${id}/deny`)).status).toBe(200);
      const denied = await reader.find<AccessRequestEvent>((e) => e.type === 'model.access_request' && e.request.id === id && e.request.status === 'denied', 'the denial');
      expect(denied.request).toMatchObject({ decided_by: 'host' });
    });
  });
});

describe.skipIf(skip)('the event stream when the daemon stops', () => {
  it('ends every reader with stream.end, fast', async () => {
    const d = await startTestDaemon();
    try {
      const ws = readEvents(socketEndpoint(d.config.socketPath));
      await ws.ready;
      const sse = await openSse(d.local);
      await sse.until((f) => f.some((x) => x.event === 'stream.ready'));
      const t0 = Date.now();
      await d.stop();
      expect(Date.now() - t0).toBeLessThan(2000);
      expect(await ws.closed).toMatchObject({ code: 'DAEMON_UNAVAILABLE', message: 'the daemon is stopping' });
      const frames = await sse.until((f) => f.some((x) => x.event === 'stream.end'));
      expect(JSON.parse(frames.find((x) => x.event === 'stream.end')?.data ?? '{}')).toEqual({ type: 'stream.end', code: 'DAEMON_UNAVAILABLE', message: 'the daemon is stopping' });
    } finally {
      removeHome(d.home);
    }
  });
});
