/**
 * A fleet on this machine: a real Postgres (started by the test, as nobody) and real daemons, each
 * with its own BKG_HOME and SQLite, sharing one fleet database and one master key. Keys made on
 * one host work on the others; a revocation reaches them within 2 s; Postgres killed with SIGKILL
 * mid-traffic loses nothing (every audit event of the gap arrives once, every chain verifies); a
 * host past its staleness bound refuses keys made elsewhere while its own keys and socket work.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initFleet } from '../../src/store/pg/index.js';
import { call, freePort, removeHome, startTestDaemon, type Resp, type Target, type TestDaemon } from '../helpers/daemon.js';
import { postgresSkipReason, startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { sandboxSkipReason } from '../helpers/sandbox.js';
import { makeCa, peerEnv, type HostFiles } from './fleet/tls.js';

const skip = postgresSkipReason();
if (skip) console.warn(`skipping the fleet sync tests: ${skip}`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll `fn` until it returns true; the time it took, or a failure after `ms`. */
async function until(what: string, fn: () => Promise<boolean>, ms = 10_000, every = 25): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (await fn()) return Date.now() - t0;
    await sleep(every);
  }
  throw new Error(`${what}: not within ${ms} ms`);
}

interface Host {
  name: string;
  d: TestDaemon;
  tcp: (key: string) => Target;
}

describe.skipIf(skip !== null)('fleet sync through Postgres', () => {
  let pgServer: TestPostgres;
  let url: string;
  const hosts: Host[] = [];
  const homes: string[] = [];
  const masterKey = randomBytes(32).toString('hex');

  let certs: Record<string, HostFiles>;

  async function startHost(name: string, env: Record<string, string> = {}): Promise<Host> {
    const home = mkdtempSync(join(tmpdir(), `bkg-fleet-${name}-`));
    homes.push(home);
    writeFileSync(join(home, 'master.key'), masterKey, { mode: 0o600 }); // the fleet's one master key, through the usual secret channel
    const peer = certs[name] ? peerEnv(certs[name], await freePort()) : {};
    const d = await startTestDaemon({ home, port: await freePort(), env: { BKG_DATABASE_URL: url, BKG_HOST_NAME: name, ...peer, ...env } });
    const h: Host = { name, d, tcp: (key) => ({ port: d.daemon.info.port ?? 0, key }) };
    hosts.push(h);
    return h;
  }

  const info = async (h: Host) => (await call(h.d.local, 'GET', '/api/v1/daemon')).body as { host: { id: string }; sync: { connected: boolean; outbox: number; stale: boolean } };
  const synced = (h: Host) => until(`${h.name} connected and drained`, async () => {
    const s = (await info(h)).sync;
    return s.connected && s.outbox === 0 && !s.stale;
  });
  const newKey = async (h: Host, name: string, namespace = 'team'): Promise<string> => {
    const r = await call(h.d.local, 'POST', '/api/v1/keys', { name, role: 'namespace', namespace });
    expect(r.status).toBe(201);
    return (r.body as { secret: string; key: { id: string } }).secret;
  };
  const keyId = async (h: Host, name: string): Promise<string> =>
    ((await call(h.d.local, 'GET', '/api/v1/keys')).body as { keys: { id: string; name: string }[] }).keys.find((k) => k.name === name)?.id ?? '';
  const asKey = (h: Host, key: string): Promise<Resp> => call(h.tcp(key), 'GET', '/api/v1/sandboxes');

  let a: Host;
  let b: Host;

  beforeAll(async () => {
    pgServer = await startPostgres();
    const superUrl = await pgServer.createDatabase('fleet');
    await initFleet(superUrl);
    url = pgServer.urlOf('fleet', 'bkg_daemon');
    const ca = await makeCa(['alpha', 'beta']);
    homes.push(ca.dir);
    certs = ca.hosts;
    a = await startHost('alpha');
    b = await startHost('beta', { BKG_SYNC_MAX_STALENESS: '3s' });
    await Promise.all([synced(a), synced(b)]);
  });

  afterAll(async () => {
    for (const h of hosts.reverse()) await h.d.stop().catch(() => {});
    await pgServer?.stop();
    for (const home of homes) removeHome(home);
  });

  it('reports the sync in /api/v1/daemon, never the password', async () => {
    const i = await info(a);
    expect(i.sync).toMatchObject({ enabled: true, connected: true, stale: false, conflicts: 0 });
    expect(JSON.stringify(i)).not.toContain(':secret@');
    expect(i.host.id).not.toBe((await info(b)).host.id);
  });

  it('a key made on one host works on the other; revoked there, it is refused here within 2 s', async () => {
    const key = await newKey(a, 'ci');
    const arrived = await until('the key works on beta', async () => (await asKey(b, key)).status === 200, 5000);
    expect(arrived).toBeLessThan(2000);
    expect((await asKey(a, key)).status).toBe(200);

    const revokedAt = Date.now();
    expect((await call(a.d.local, 'POST', `/api/v1/keys/${await keyId(a, 'ci')}/revoke`)).status).toBe(200);
    const refusedAfter = await until('beta refuses the revoked key', async () => (await asKey(b, key)).status === 401, 5000, 10);
    expect(Date.now() - revokedAt).toBeLessThan(2000);
    expect(refusedAfter).toBeLessThan(2000);
  });

  it('a rotation on one host: the old secret is refused on the other, the new one works there', async () => {
    const old = await newKey(b, 'rotating');
    await until('alpha knows it', async () => (await asKey(a, old)).status === 200);
    const r = await call(b.d.local, 'POST', `/api/v1/keys/${await keyId(b, 'rotating')}/rotate`);
    const fresh = (r.body as { secret: string }).secret;
    await until('alpha refuses the old secret', async () => (await asKey(a, old)).status === 401, 2000, 10);
    await until('alpha takes the new one', async () => (await asKey(a, fresh)).status === 200, 2000, 10);
  });

  it('replicates namespaces, policies and sandbox records with their host; ls --all-hosts lists them, a namespace key sees its own (row-level security)', async () => {
    expect((await call(a.d.local, 'PATCH', '/api/v1/policies/team', { max_sandboxes: 7 })).status).toBe(200);
    expect((await call(a.d.local, 'POST', '/api/v1/sandboxes', { name: 'on-alpha', namespace: 'team' })).status).toBe(201);
    expect((await call(a.d.local, 'POST', '/api/v1/sandboxes', { name: 'other-ns', namespace: 'elsewhere' })).status).toBe(201);
    const alphaId = (await info(a)).host.id;
    await until('beta has the policy', async () => ((await call(b.d.local, 'GET', '/api/v1/policies/team')).body as { policy: { max_sandboxes: number | null } }).policy.max_sandboxes === 7);
    await until('beta lists alpha\'s sandbox', async () => {
      const r = (await call(b.d.local, 'GET', '/api/v1/sandboxes?all_hosts=1')).body as { sandboxes: { name: string; host: string }[] };
      return r.sandboxes.some((s) => s.name === 'on-alpha' && s.host === alphaId);
    });
    // beta's own list holds only what beta runs
    expect(((await call(b.d.local, 'GET', '/api/v1/sandboxes')).body as { sandboxes: unknown[] }).sandboxes).toEqual([]);
    // a namespace key: its namespace only, whichever host made the rows
    const key = await newKey(b, 'team-reader');
    const seen = (await call(b.tcp(key), 'GET', '/api/v1/sandboxes?all_hosts=1')).body as { sandboxes: { name: string; namespace: string }[]; hosts: { name: string }[] };
    expect(seen.sandboxes.map((s) => s.name)).toEqual(['on-alpha']);
    expect(seen.hosts.map((h) => h.name).sort()).toEqual(['alpha', 'beta']);
    // a name is unique in its namespace across the fleet
    const dup = await call(b.d.local, 'POST', '/api/v1/sandboxes', { name: 'on-alpha', namespace: 'team' });
    expect(dup.status).toBe(409);
  });

  it('Postgres killed with SIGKILL mid-traffic: hosts keep serving, and every audit event of the gap arrives once; every chain verifies', async () => {
    await Promise.all([synced(a), synced(b)]);
    const traffic = (async () => {
      for (let i = 0; i < 30; i++) {
        const r = await call(a.d.local, 'POST', '/api/v1/keys', { name: `gap-${i}`, role: 'readonly' });
        expect(r.status).toBe(201); // the local copy serves while the fleet database is gone
        await sleep(20);
      }
    })();
    await sleep(150);
    await pgServer.kill('SIGKILL');
    await sleep(1000);
    await pgServer.restart();
    await traffic;
    await Promise.all([synced(a), synced(b)]);
    const alphaId = (await info(a)).host.id;
    const local = ((await call(a.d.local, 'GET', '/api/v1/audit?limit=100000')).body as { events: { seq: number }[] }).events;
    await until('every audit event of alpha is in the fleet database', async () => {
      const fleet = ((await call(b.d.local, 'GET', '/api/v1/audit?fleet=1&limit=100000')).body as { events: { host: string; seq: number }[] }).events.filter((e) => e.host === alphaId);
      return fleet.length === local.length;
    }, 15_000, 100);
    const fleet = ((await call(b.d.local, 'GET', '/api/v1/audit?fleet=1&limit=100000')).body as { events: { host: string; seq: number }[] }).events.filter((e) => e.host === alphaId);
    expect(new Set(fleet.map((e) => e.seq)).size).toBe(fleet.length); // once each
    expect(fleet.map((e) => e.seq).sort((x, y) => x - y)).toEqual(local.map((e) => e.seq).sort((x, y) => x - y));
    // every key of the gap reached beta too
    const betaKeys = ((await call(b.d.local, 'GET', '/api/v1/keys')).body as { keys: { name: string }[] }).keys.map((k) => k.name);
    for (let i = 0; i < 30; i++) expect(betaKeys).toContain(`gap-${i}`);
    const verify = (await call(b.d.local, 'GET', '/api/v1/audit/verify?fleet=1')).body as { ok: boolean; hosts: { host: string; ok: boolean; count: number }[] };
    expect(verify.ok).toBe(true);
    expect(verify.hosts.map((h) => h.host).sort()).toEqual([alphaId, (await info(b)).host.id].sort());
  });

  it.skipIf(sandboxSkipReason() !== null)('any host serves any sandbox: exec on alpha of beta\'s sandbox runs on beta (mutual TLS), and placement auto picks the least-loaded host', async () => {
    expect((await call(b.d.local, 'POST', '/api/v1/sandboxes', { name: 'runs-on-beta', limits: { memory_mb: 64 } })).status).toBe(201);
    expect((await call(b.d.local, 'POST', '/api/v1/sandboxes/runs-on-beta/start')).status).toBe(200);
    await until('alpha knows it', async () => (await call(a.d.local, 'GET', '/api/v1/sandboxes/runs-on-beta')).status === 200);
    const r = await call(a.d.local, 'POST', '/api/v1/sandboxes/runs-on-beta/exec', { cmd: ['hostname'] });
    expect(r.status).toBe(200);
    expect((r.body as { stdout: string }).stdout.trim()).toBe('runs-on-beta');
    const forwardedOnAlpha = ((await call(a.d.local, 'GET', '/api/v1/audit?limit=100000')).body as { events: { action: string; details: { host?: string } | null }[] }).events;
    const betaHost = (await info(b)).host.id;
    expect(forwardedOnAlpha.some((e) => e.action === 'sandbox.forward' && e.details?.host === betaHost)).toBe(true);
    // beta's stops (through alpha), alpha starts one: alpha now runs the most, so auto goes to beta
    expect((await call(a.d.local, 'POST', '/api/v1/sandboxes/runs-on-beta/stop')).status).toBe(200);
    expect((await call(a.d.local, 'POST', '/api/v1/sandboxes', { name: 'runs-on-alpha', limits: { memory_mb: 64 } })).status).toBe(201);
    expect((await call(a.d.local, 'POST', '/api/v1/sandboxes/runs-on-alpha/start')).status).toBe(200);
    await sleep(2500); // a heartbeat of each host with its new load
    const placed = await call(a.d.local, 'POST', '/api/v1/sandboxes', { name: 'placed', placement: 'auto', limits: { memory_mb: 64 } });
    expect(placed.status).toBe(201);
    expect((placed.body as { host: string }).host).toBe(betaHost);
    for (const [h, n] of [[a, 'runs-on-alpha'], [b, 'runs-on-beta'], [b, 'placed']] as const) expect((await call(h.d.local, 'DELETE', `/api/v1/sandboxes/${n}`)).status).toBe(204);
  });

  it('a host past its staleness bound refuses keys made on other hosts (401 SYNC_STALE), keeps its own keys and socket, and recovers', async () => {
    const remote = await newKey(a, 'remote-key');
    const own = await newKey(b, 'own-key');
    await until('beta knows alpha\'s key', async () => (await asKey(b, remote)).status === 200);
    await pgServer.kill('SIGKILL');
    try {
      await until('beta goes stale', async () => (await info(b)).sync.stale, 10_000, 100);
      const refused = await asKey(b, remote);
      expect(refused.status).toBe(401);
      expect((refused.body as { error: { code: string } }).error.code).toBe('SYNC_STALE');
      expect((await asKey(b, own)).status).toBe(200);
      expect((await call(b.d.local, 'GET', '/api/v1/sandboxes')).status).toBe(200);
      const health = await call({ port: b.d.daemon.info.port ?? 0 }, 'GET', '/healthz');
      expect(health.status).toBe(503);
      expect(JSON.stringify(health.body)).toContain('stale');
    } finally {
      await pgServer.restart();
    }
    await until('beta syncs again', async () => !(await info(b)).sync.stale, 15_000, 100);
    expect((await asKey(b, remote)).status).toBe(200);
  });

  it('a host that is gone: its sandboxes answer 503 HOST_UNAVAILABLE naming it', async () => {
    expect((await call(b.d.local, 'POST', '/api/v1/sandboxes', { name: 'left-behind' })).status).toBe(201);
    await until('alpha knows it', async () => (await call(a.d.local, 'GET', '/api/v1/sandboxes/left-behind')).status === 200);
    await b.d.stop();
    const r = await call(a.d.local, 'GET', '/api/v1/sandboxes/left-behind');
    expect(r.status).toBe(503);
    const e = (r.body as { error: { code: string; message: string; details: { host: string } } }).error;
    expect(e.code).toBe('HOST_UNAVAILABLE');
    expect(e.message).toContain('"beta"');
  });
});
