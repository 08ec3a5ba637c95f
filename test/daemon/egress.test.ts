/**
 * A persistent sandbox with an egress allowlist, through a real daemon and real sandboxes: created
 * over REST (object and string forms; stored and shown as one canonical string), its allowed host
 * answers through the daemon's proxy, and every refused connection shows up where the issue asks:
 * the exec result (`network_denied`), the audit log (`network.denied`, identical ones rate-limited),
 * the event stream (`network.denied`, and `exec.finished` carrying the list) and /metrics
 * (bkg_egress_connections_total{outcome}). A restarted daemon serves the running sandbox's egress
 * again. Rights: an allowlist is a privilege a namespace policy grants (`allow`, `allow:ENTRY`, or
 * `host`), checked entry by entry; a bad allowlist is a 400 naming the field.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecFinishedEvent, NetworkDeniedEvent } from '../../src/api/schema/events.js';
import { call, freePort, removeHome, startTestDaemon, type Resp, type TestDaemon } from '../helpers/daemon.js';
import { FETCH_PY, HOST_LOOPBACK as LO, startHostServers, TUNNEL_PY, type HostServers } from '../helpers/egress.js';
import { readEvents, socketEndpoint, type Reader } from '../helpers/events.js';
import { sandboxSkipReason } from '../helpers/sandbox.js';

const skip = sandboxSkipReason();

interface ErrorBody {
  error: { code: string; message: string; hint: string; details?: Record<string, unknown> };
}
interface Denial {
  code: string;
  host: string;
  port: number;
  reason: string;
  count: number;
}
interface AuditRow {
  action: string;
  outcome: string;
  target: string | null;
  details: Record<string, unknown> | null;
}

describe.skipIf(skip)('egress allowlists through the daemon', () => {
  let d: TestDaemon;
  let servers: HostServers;
  let reader: Reader;
  let port: number;

  const exec = async (name: string, script: string, ...args: string[]): Promise<Resp & { body: { stdout: string; exit_code: number; network_denied?: Denial[] } }> => {
    const r = await call(d.local, 'POST', `/api/v1/sandboxes/${name}/exec`, { cmd: ['python3', '-c', script, ...args] });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r as Resp & { body: { stdout: string; exit_code: number; network_denied?: Denial[] } };
  };
  const audit = async (): Promise<AuditRow[]> => ((await call(d.local, 'GET', '/api/v1/audit?limit=100000')).body as { events: AuditRow[] }).events;

  beforeAll(async () => {
    servers = await startHostServers();
    port = await freePort();
    d = await startTestDaemon({ port });
    reader = readEvents(socketEndpoint(d.config.socketPath));
    await reader.ready;
  });
  afterAll(async () => {
    reader?.close();
    const list = ((await call(d.local, 'GET', '/api/v1/sandboxes')).body as { sandboxes: { id: string }[] }).sandboxes;
    for (const s of list) await call(d.local, 'DELETE', `/api/v1/sandboxes/${s.id}`);
    await d.stop();
    removeHome(d.home);
    await servers?.close();
  });

  it('lets the allowed host through and reports every refusal in the exec result, the audit log, the event stream and /metrics', async () => {
    const created = await call(d.local, 'POST', '/api/v1/sandboxes', { name: 'web', network: { allow: [`${LO}:${servers.web}`, '*.Example.COM.'] } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect((created.body as { network: string }).network).toBe(`allow:${LO}:${servers.web},*.example.com`);
    expect((await call(d.local, 'POST', '/api/v1/sandboxes/web/start')).status).toBe(200);

    const ok = await exec('web', FETCH_PY, `http://${LO}:${servers.web}/through`);
    expect(ok.body.stdout.trim()).toBe(`hello from ${servers.web} host=${LO}:${servers.web} path=/through`);
    expect(ok.body.network_denied).toBeUndefined();

    // five refusals of the same host:port in one command, one of another host through CONNECT, one DNS trick
    const refused = await exec('web', `
import subprocess, sys
for _ in range(5):
    subprocess.run([sys.executable, '-c', ${JSON.stringify(FETCH_PY)}, 'http://${LO}:${servers.other}/'])
subprocess.run([sys.executable, '-c', ${JSON.stringify(TUNNEL_PY)}, 'example.com', '8443'])
subprocess.run([sys.executable, '-c', ${JSON.stringify(TUNNEL_PY)}, 'localhost', '${servers.web}'])
`);
    expect(refused.body.stdout.match(/HTTP 403 bkg: NETWORK_DENIED/g)).toHaveLength(5);
    expect(refused.body.stdout.match(/Tunnel connection failed: 403/g)).toHaveLength(2);
    expect(refused.body.network_denied).toEqual([
      expect.objectContaining({ code: 'NETWORK_DENIED', host: LO, port: servers.other, reason: 'port', count: 5 }),
      expect.objectContaining({ code: 'NETWORK_DENIED', host: 'example.com', port: 8443, reason: 'not_allowed', count: 1 }),
      expect.objectContaining({ code: 'NETWORK_DENIED', host: 'localhost', port: servers.web, reason: 'not_allowed', count: 1 }),
    ]);
    expect(servers.hits.other).toBe(0);

    // the audit log: one row per distinct refusal (identical ones within a minute are not repeated)
    const rows = (await audit()).filter((e) => e.action === 'network.denied');
    expect(rows.map((e) => [e.outcome, e.details?.host, e.details?.port, e.details?.reason, e.details?.code])).toEqual([
      ['denied', LO, servers.other, 'port', 'NETWORK_DENIED'],
      ['denied', 'example.com', 8443, 'not_allowed', 'NETWORK_DENIED'],
      ['denied', 'localhost', servers.web, 'not_allowed', 'NETWORK_DENIED'],
    ]);
    // the event stream: the same three, and the exec's end with its list
    const told = await reader.find<NetworkDeniedEvent>((e) => e.type === 'network.denied' && e.denial.host === 'localhost', 'the last network.denied');
    expect(told.sandbox.name).toBe('web');
    const denials = reader.events.filter((e): e is NetworkDeniedEvent => e.type === 'network.denied');
    expect(denials.map((e) => `${e.denial.host}:${e.denial.port} ${e.denial.reason}`)).toEqual([`${LO}:${servers.other} port`, 'example.com:8443 not_allowed', `localhost:${servers.web} not_allowed`]);
    const finished = await reader.find<ExecFinishedEvent>((e) => e.type === 'exec.finished' && (e.exec.network_denied?.length ?? 0) > 0, 'exec.finished with its refusals');
    expect(finished.exec.network_denied?.[0]).toMatchObject({ host: LO, count: 5 });

    const metrics = (await call(d.local, 'GET', '/metrics')).raw.toString();
    expect(Number(/^bkg_egress_connections_total\{outcome="allowed"\} (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    expect(Number(/^bkg_egress_connections_total\{outcome="denied"\} (\d+)$/m.exec(metrics)?.[1])).toBe(7);
  });

  it('serves a running sandbox\'s egress again after the daemon restarts', async () => {
    await d.stop();
    d = await startTestDaemon({ home: d.home, port });
    reader.close();
    reader = readEvents(socketEndpoint(d.config.socketPath));
    await reader.ready;
    await new Promise((resolve) => setTimeout(resolve, 300)); // the adopted sandbox's socket is taken over in the background
    const ok = await exec('web', FETCH_PY, `http://${LO}:${servers.web}/after-restart`);
    expect(ok.body.stdout.trim()).toBe(`hello from ${servers.web} host=${LO}:${servers.web} path=/after-restart`);
    const refused = await exec('web', FETCH_PY, 'http://example.org/');
    expect(refused.body.network_denied).toEqual([expect.objectContaining({ host: 'example.org', port: 80, reason: 'not_allowed' })]);
  });

  it('refuses a bad allowlist with a 400 naming it', async () => {
    for (const network of ['allow:*', 'allow:exa mple.com', { allow: ['pypi.org:99999'] }, { allow: [] }, 'wide-open']) {
      const r = await call(d.local, 'POST', '/api/v1/sandboxes', { name: 'bad', network });
      expect(r.status, JSON.stringify(network)).toBe(400);
      expect((r.body as ErrorBody).error).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: expect.stringMatching(/^network/) } });
    }
  });

  it('is a privilege: a namespace policy grants allowlists (any, or within its allow: entries), checked entry by entry', async () => {
    const key = ((await call(d.local, 'POST', '/api/v1/keys', { name: 'ns', role: 'namespace', namespace: 'team' })).body as { secret: string }).secret;
    const team = { port, key };
    const create = (name: string, network: unknown) => call(team, 'POST', '/api/v1/sandboxes', { name, network });
    const refusal = (r: Resp) => (r.body as ErrorBody).error;

    const none = await create('a1', { allow: ['pypi.org'] });
    expect(none.status).toBe(403);
    expect(refusal(none)).toMatchObject({ code: 'FORBIDDEN', details: { privilege: 'network.allow' } });
    expect(refusal(none).hint).toContain('--networks none,allow');

    expect((await call(d.local, 'PATCH', '/api/v1/policies/team', { networks: ['none', 'allow:*.pypi.org', 'allow:github.com:443'] })).status).toBe(200);
    expect((await create('a2', { allow: ['files.pypi.org', '*.cdn.pypi.org:443', 'github.com:443'] })).status).toBe(201);
    const outside = await create('a3', 'allow:files.pypi.org,github.com');
    expect(outside.status).toBe(403); // github.com alone means ports 80 and 443; the policy grants 443 only
    expect(refusal(outside)).toMatchObject({ code: 'FORBIDDEN', details: { privilege: 'network.allow' } });
    expect(refusal(outside).message).toContain('"github.com"');
    expect((await create('a4', { allow: ['pypi.org'] })).status).toBe(403); // *.pypi.org does not cover pypi.org itself
    expect((await create('a5', 'host')).status).toBe(403); // an allowlist grant is not host networking

    expect((await call(d.local, 'PATCH', '/api/v1/policies/team', { networks: ['none', 'allow'] })).status).toBe(200);
    expect((await create('a6', { allow: ['10.0.0.0/8:*', 'example.org'] })).status).toBe(201);
    expect((await call(d.local, 'PATCH', '/api/v1/policies/team', { networks: ['none', 'host'] })).status).toBe(200);
    expect((await create('a7', { allow: ['example.org'] })).status).toBe(201); // host grants the narrower allowlists too

    const badPolicy = await call(d.local, 'PATCH', '/api/v1/policies/team', { networks: ['none', 'allow:exa mple.com'] });
    expect(badPolicy.status).toBe(400);
    expect((badPolicy.body as ErrorBody).error.details).toMatchObject({ field: 'networks[1]' });
    const denied = (await audit()).filter((e) => e.outcome === 'denied' && e.details?.privilege === 'network.allow');
    expect(denied.length).toBeGreaterThanOrEqual(3);
  });
});
