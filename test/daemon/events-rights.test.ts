/**
 * The event stream filtered by the reader's rights, exactly like REST, against a real daemon: a
 * namespace key sees only its namespace's sandboxes (usage samples too) and no audit or model
 * events; a read-only key no admin events; a sandbox's own key only its sandbox; a revoked key's
 * stream ends. Over the unix socket and TCP alike.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DaemonEvent, UsageEvent } from '../../src/api/schema/events.js';
import { call, freePort, removeHome, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { readEvents, socketEndpoint, tcpEndpoint, type Reader } from '../helpers/events.js';
import { sandboxSkipReason } from '../helpers/sandbox.js';

const skip = sandboxSkipReason();

describe.skipIf(skip)('event stream rights', () => {
  let d: TestDaemon;
  let port: number;
  let before = 0;
  let run = '';
  const keys: Record<string, string> = {};
  const ids: Record<string, string> = {};
  const readers: Reader[] = [];
  const makeKey = async (name: string, role: string, namespace?: string): Promise<{ id: string; secret: string }> => {
    const r = await call(d.local, 'POST', '/api/v1/keys', { name, role, ...(namespace ? { namespace } : {}) });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const b = r.body as { key: { id: string }; secret: string };
    return { id: b.key.id, secret: b.secret };
  };
  /** Everything the key was told since the test's actions began: the replay, in full. */
  const replay = async (key: string | undefined, tcp = false): Promise<DaemonEvent[]> => {
    const ep = tcp && key ? tcpEndpoint(port, key) : socketEndpoint(d.config.socketPath, key);
    const r = readEvents(ep, { since: before, run, types: ['sandbox.*', 'exec.*', 'audit', 'model.*'] });
    readers.push(r);
    const ready = await r.ready;
    const events = await r.count(ready.replayed);
    r.close();
    return events;
  };

  beforeAll(async () => {
    port = await freePort();
    d = await startTestDaemon({ port, env: { BKG_EVENTS_INTERVAL_MS: '200' } });
    const probe = readEvents(socketEndpoint(d.config.socketPath));
    const ready = await probe.ready;
    probe.close();
    run = ready.run;
    before = ready.last_id;
    for (const [name, ns] of [['a1', 'team-a'], ['b1', 'team-b']] as const) {
      const r = await call(d.local, 'POST', '/api/v1/sandboxes', { name, namespace: ns, limits: { memory_mb: 64 } });
      expect(r.status).toBe(201);
      ids[name] = (r.body as { id: string }).id;
      if (name === 'a1') keys.sandbox = (r.body as { api_key_secret: string }).api_key_secret;
      expect((await call(d.local, 'POST', `/api/v1/sandboxes/${name}/start`)).status).toBe(200);
      expect((await call(d.local, 'POST', `/api/v1/sandboxes/${name}/exec`, { cmd: ['true'] })).status).toBe(200);
    }
    keys.teamA = (await makeKey('team-a', 'namespace', 'team-a')).secret;
    keys.readonly = (await makeKey('looker', 'readonly')).secret;
    keys.admin = (await makeKey('boss', 'admin')).secret;
  });
  afterAll(async () => {
    for (const r of readers) r.close();
    for (const n of ['a1', 'b1']) await call(d.local, 'DELETE', `/api/v1/sandboxes/${n}`);
    await d.stop();
    removeHome(d.home);
  });

  const names = (events: DaemonEvent[]): Set<string> => new Set(events.flatMap((e) => ('sandbox' in e ? [e.sandbox.name] : [])));
  const kinds = (events: DaemonEvent[]): Set<string> => new Set(events.map((e) => e.type));

  it('gives an admin key everything: both namespaces, audit rows', async () => {
    const events = await replay(keys.admin, true);
    expect(names(events)).toEqual(new Set(['a1', 'b1']));
    expect(kinds(events)).toEqual(new Set(['sandbox.created', 'sandbox.started', 'exec.started', 'exec.finished', 'audit']));
  });

  it('gives a namespace key only its namespace, and no audit events', async () => {
    const events = await replay(keys.teamA, true);
    expect(names(events)).toEqual(new Set(['a1']));
    expect(kinds(events)).toEqual(new Set(['sandbox.created', 'sandbox.started', 'exec.started', 'exec.finished']));
  });

  it('gives a read-only key every sandbox but no admin events', async () => {
    const events = await replay(keys.readonly);
    expect(names(events)).toEqual(new Set(['a1', 'b1']));
    expect(kinds(events).has('audit')).toBe(false);
  });

  it('gives a sandbox\'s own key only that sandbox', async () => {
    const events = await replay(keys.sandbox);
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => 'sandbox' in e && e.sandbox.id === ids.a1)).toBe(true);
  });

  it('filters usage samples down to what each key sees', async () => {
    const usage = async (key: string): Promise<string[]> => {
      const r = readEvents(tcpEndpoint(port, key), { types: ['usage'] });
      readers.push(r);
      const e = await r.find<UsageEvent>((x) => x.type === 'usage', 'a usage event', 5000);
      r.close();
      return e.samples.map((s) => s.sandbox.name).sort();
    };
    expect(await usage(keys.admin as string)).toEqual(['a1', 'b1']);
    expect(await usage(keys.teamA as string)).toEqual(['a1']);
    expect(await usage(keys.readonly as string)).toEqual(['a1', 'b1']);
    expect(await usage(keys.sandbox as string)).toEqual(['a1']);
  });

  it('ends the stream of a key revoked while it reads', async () => {
    const k = await makeKey('short-lived', 'namespace', 'team-b');
    const r = readEvents(tcpEndpoint(port, k.secret));
    readers.push(r);
    await r.ready;
    expect((await call(d.local, 'POST', `/api/v1/keys/${k.id}/revoke`)).status).toBe(200);
    expect(await r.closed).toMatchObject({ code: 'UNAUTHENTICATED', message: expect.stringMatching(/revoked/) });
    const again = readEvents(tcpEndpoint(port, k.secret));
    expect(await again.closed).toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});
