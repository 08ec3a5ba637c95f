/**
 * The event stream's bounded buffer: the bus on its own (ids, the ring, usage kept out of it, where
 * a reader starts, the ?types= grammar), then a real daemon with a small BKG_EVENTS_BUFFER: a
 * reader coming back after the buffer overflowed is told of the gap, and a reader that stops reading
 * is cut off (SLOW_CONSUMER) instead of being buffered for without bound.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BkgError } from '../../src/api/errors.js';
import { EVENT_TYPES, type NewEvent } from '../../src/api/schema/events.js';
import type { EventScope } from '../../src/daemon/auth/authorize.js';
import { EventBus } from '../../src/daemon/events/bus.js';
import { parseSince, parseTypes } from '../../src/daemon/events/filter.js';
import { call, removeHome, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { openSse, readEvents, socketEndpoint } from '../helpers/events.js';
import { sandboxSkipReason } from '../helpers/sandbox.js';

const ADMIN_ONLY: EventScope = { action: 'audit.read', namespaceId: null, sandboxId: null };
const job = (n: number): NewEvent => ({
  type: 'model.pull',
  job: { id: `dl_${n}`, model_id: null, source: '/m.gguf', status: 'queued', bytes_done: n, bytes_total: null, error: null, created_at: '2026-01-01T00:00:00.000Z', updated_at: '2026-01-01T00:00:00.000Z' },
});
const usage: NewEvent = { type: 'usage', interval_ms: 1000, samples: [] };

describe('the event bus', () => {
  it('numbers events from 1 under a run id, stamps them, and hands each to its listeners', () => {
    const bus = new EventBus(10, () => new Date('2026-02-03T04:05:06.000Z'));
    const seen: number[] = [];
    const stop = bus.listen((p) => seen.push(p.event.id));
    expect(bus.lastId).toBe(0);
    expect(bus.oldestId).toBe(0);
    const a = bus.publish(job(1), ADMIN_ONLY);
    const b = bus.publish(job(2), ADMIN_ONLY);
    stop();
    bus.publish(job(3), ADMIN_ONLY);
    expect(a.event).toMatchObject({ id: 1, at: '2026-02-03T04:05:06.000Z', type: 'model.pull' });
    expect(JSON.parse(b.json())).toEqual(b.event);
    expect(seen).toEqual([1, 2]);
    expect(bus.run).toMatch(/^[0-9a-f]{16}$/);
    expect(new EventBus(1).run).not.toBe(bus.run);
  });

  it('keeps the newest events up to its size; usage samples take ids but are never kept', () => {
    const bus = new EventBus(3);
    for (let i = 1; i <= 5; i++) bus.publish(job(i), ADMIN_ONLY);
    const u = bus.publish(usage, ADMIN_ONLY);
    expect(u.seq).toBeNull();
    expect(u.event.id).toBe(6);
    expect(bus.lastId).toBe(6);
    expect(bus.oldestId).toBe(3);
    expect([bus.firstSeq, bus.endSeq]).toEqual([2, 5]);
    expect(bus.at(1)).toBeUndefined();
    expect(bus.at(4)?.event.id).toBe(5);
    expect(bus.at(5)).toBeUndefined();
  });

  it('starts a reader live, or after since, or reports a gap and goes live', () => {
    const bus = new EventBus(3);
    for (let i = 1; i <= 3; i++) bus.publish(job(i), ADMIN_ONLY);
    bus.publish(usage, ADMIN_ONLY); // id 4
    bus.publish(job(5), ADMIN_ONLY); // evicts id 1
    expect(bus.open()).toMatchObject({ ready: { type: 'stream.ready', run: bus.run, last_id: 5, oldest_id: 2 }, gap: null, seq: bus.endSeq });
    expect(bus.at(bus.open({ since: 1 }).seq)?.event.id).toBe(2); // nothing after 1 was lost
    expect(bus.at(bus.open({ since: 3 }).seq)?.event.id).toBe(5); // the usage event 4 is not replayed
    expect(bus.open({ since: 5, run: bus.run }).seq).toBe(bus.endSeq);
    expect(bus.open({ since: 0 }).gap).toMatchObject({ type: 'stream.gap', since: 0, oldest_id: 2, message: expect.stringMatching(/left the replay buffer/) });
    expect(bus.open({ since: 2, run: 'other' }).gap?.message).toMatch(/another run/);
    expect(bus.open({ since: 6 }).gap?.message).toMatch(/no event 6/);
    expect(bus.open({ since: 0 }).seq).toBe(bus.endSeq);
  });

  it('reads ?types= as exact types and prefixes, and refuses unknown ones', () => {
    expect([...parseTypes('sandbox.*, usage')].sort()).toEqual(['sandbox.created', 'sandbox.deleted', 'sandbox.expired', 'sandbox.failed', 'sandbox.oom_killed', 'sandbox.started', 'sandbox.stopped', 'usage']);
    expect([...parseTypes(undefined)].sort()).toEqual([...EVENT_TYPES].sort()); // none named: every type
    expect([...parseTypes('model.*')]).toEqual(['model.pull', 'model.access_request']);
    expect(() => parseTypes('sandbox.created,nope.*')).toThrowError(BkgError);
    expect(parseSince(undefined, '12')).toBe(12);
    expect(parseSince('7', '12')).toBe(7);
    expect(() => parseSince('-1', undefined)).toThrowError(/since/);
  });
});

const skip = sandboxSkipReason();

describe.skipIf(skip)('a small replay buffer (BKG_EVENTS_BUFFER=5)', () => {
  let d: TestDaemon;
  const makeKeys = async (n: number, prefix: string): Promise<void> => {
    for (let i = 0; i < n; i++) expect((await call(d.local, 'POST', '/api/v1/keys', { name: `${prefix}-${i}`, role: 'readonly' })).status).toBe(201);
  };

  beforeAll(async () => {
    d = await startTestDaemon({ env: { BKG_EVENTS_BUFFER: '5' } });
  });
  afterAll(async () => {
    await call(d.local, 'DELETE', '/api/v1/sandboxes/chatty');
    await d.stop();
    removeHome(d.home);
  });

  it('tells a reader that comes back too late about the gap, then goes on live', async () => {
    const first = readEvents(socketEndpoint(d.config.socketPath));
    const { run } = await first.ready;
    await makeKeys(1, 'early');
    const last = await first.find((e) => e.type === 'audit', 'the first audit row');
    first.close();
    await makeKeys(8, 'missed'); // 8 audit rows: more than the buffer keeps
    const back = readEvents(socketEndpoint(d.config.socketPath), { since: last.id, run });
    const ready = await back.ready;
    expect(ready).toMatchObject({ replayed: 0, last_id: last.id + 8, oldest_id: last.id + 4 });
    await expect.poll(() => back.gaps.length).toBe(1);
    expect(back.gaps[0]).toEqual({ type: 'stream.gap', since: last.id, oldest_id: last.id + 4, message: expect.stringMatching(/left the replay buffer.*keeps 5/) });
    await makeKeys(1, 'late');
    const live = await back.find((e) => e.type === 'audit', 'a live event');
    expect(live.id).toBe(last.id + 9);
    back.close();
  });

  it('cuts off a reader that stopped reading, with stream.end SLOW_CONSUMER last', async () => {
    expect((await call(d.local, 'POST', '/api/v1/sandboxes', { name: 'chatty' })).status).toBe(201);
    expect((await call(d.local, 'POST', '/api/v1/sandboxes/chatty/start')).status).toBe(200);
    const sse = await openSse(d.local, '?types=exec.*');
    await sse.until((f) => f.some((x) => x.event === 'stream.ready'));
    sse.res.pause(); // reads nothing more: the socket's buffers fill, then the daemon's
    const big = 'x'.repeat(100_000); // each exec: two events of 8 KiB (events carry 8192 characters of a command)
    for (let i = 0; i < 80; i++) expect((await call(d.local, 'POST', '/api/v1/sandboxes/chatty/exec', { cmd: ['true', big] })).status).toBe(200);
    sse.res.resume();
    const frames = await sse.until((f) => f.some((x) => x.event === 'stream.end'), 20_000);
    const end = frames.at(-1);
    expect(end?.event).toBe('stream.end');
    expect(JSON.parse(end?.data ?? '{}')).toMatchObject({ type: 'stream.end', code: 'SLOW_CONSUMER' });
    const got = frames.filter((x) => x.event === 'exec.started' || x.event === 'exec.finished');
    expect(got.length).toBeGreaterThan(0);
    expect(got.length).toBeLessThan(160); // cut off before it had them all
    expect(JSON.parse(got[0]?.data ?? '{}').exec.cmd).toEqual(['true', `${'x'.repeat(8188)}…`]);
    await new Promise<void>((r) => (sse.res.complete ? r() : sse.res.once('end', () => r())));
  });
});
