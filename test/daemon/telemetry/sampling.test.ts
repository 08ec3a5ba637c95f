/**
 * The sampling rate: CAVE_OTEL_SAMPLING_RATE read at start (an invalid one is INVALID_CONFIG), and
 * changed while the daemon runs through PATCH /api/v1/daemon/config (admin only, audited). Counted
 * at a real OTLP/HTTP receiver: a rate of 0.25 keeps about a quarter of the traces.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BkgError } from '../../../src/api/errors.js';
import { loadDaemonConfig } from '../../../src/daemon/config.js';
import { call, freePort, removeHome, startTestDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { startOtlpReceiver, type OtlpReceiver } from '../../helpers/otlp.js';

const N = 400;
const PROBE = 'GET /healthz';

describe('CAVE_OTEL_SAMPLING_RATE and OTEL_EXPORTER_OTLP_ENDPOINT at start', () => {
  const load = (env: Record<string, string>) => loadDaemonConfig({ BKG_HOME: '/tmp/bkg-cfg', ...env });
  it('reads a rate from 0.0 to 1.0 (default 1.0) and refuses anything else as INVALID_CONFIG', () => {
    expect(load({}).otel).toEqual({ endpoint: null, samplingRate: 1 });
    for (const [raw, n] of [['0', 0], ['0.25', 0.25], ['.5', 0.5], ['1.0', 1], ['1', 1]] as const) expect(load({ CAVE_OTEL_SAMPLING_RATE: raw }).otel.samplingRate).toBe(n);
    for (const raw of ['1.5', '-0.1', 'half', '', '25%', '0x1', '1e-1', 'NaN']) {
      let err: unknown;
      try {
        load({ CAVE_OTEL_SAMPLING_RATE: raw });
      } catch (e) {
        err = e;
      }
      expect(err, raw).toBeInstanceOf(BkgError);
      expect((err as BkgError).code).toBe('INVALID_CONFIG');
      expect((err as BkgError).details).toEqual({ setting: 'CAVE_OTEL_SAMPLING_RATE' });
    }
  });

  it('takes an http(s) endpoint and refuses others', () => {
    expect(load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }).otel.endpoint).toBe('http://127.0.0.1:4318');
    for (const raw of ['127.0.0.1:4318', 'grpc://collector:4317', 'not a url']) {
      expect(() => load({ OTEL_EXPORTER_OTLP_ENDPOINT: raw }), raw).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT/);
    }
  });
});

describe('the sampling rate of a running daemon', () => {
  let d: TestDaemon;
  let otlp: OtlpReceiver;
  let port: number;

  beforeAll(async () => {
    process.env.OTEL_BSP_SCHEDULE_DELAY = '100';
    process.env.OTEL_BSP_MAX_QUEUE_SIZE = '10000'; // every kept span of a burst reaches the receiver
    otlp = await startOtlpReceiver();
    port = await freePort();
    d = await startTestDaemon({ port, env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint, CAVE_OTEL_SAMPLING_RATE: '0.25' } });
  }, 60_000);

  afterAll(async () => {
    await d.stop();
    removeHome(d.home);
    await otlp.close();
    delete process.env.OTEL_BSP_SCHEDULE_DELAY;
    delete process.env.OTEL_BSP_MAX_QUEUE_SIZE;
  });

  /** N requests, then the number of their traces the receiver got once the exporter is idle. */
  async function tracesOf(n: number): Promise<number> {
    otlp.clear();
    for (let i = 0; i < n; i += 50) await Promise.all(Array.from({ length: Math.min(50, n - i) }, () => call({ port }, 'GET', '/healthz')));
    await new Promise((r) => setTimeout(r, 800)); // a few export intervals
    return new Set(otlp.spans().filter((s) => s.name === PROBE).map((s) => s.traceId)).size;
  }

  it('keeps about a quarter of the traces at 0.25 (from CAVE_OTEL_SAMPLING_RATE)', async () => {
    expect((await call(d.local, 'GET', '/api/v1/daemon/config')).body).toEqual({ otel_sampling_rate: 0.25, otel_exporting: true });
    const kept = await tracesOf(N);
    // binomial(400, 0.25): mean 100, sd 8.7; [55, 145] is more than 5 sd either side
    expect(kept).toBeGreaterThanOrEqual(55);
    expect(kept).toBeLessThanOrEqual(145);
  }, 60_000);

  it('changes at run time with `daemon config`: 0 keeps none, 1 keeps all; admin only, audited', async () => {
    const set = async (rate: unknown) => call(d.local, 'PATCH', '/api/v1/daemon/config', { otel_sampling_rate: rate });
    expect((await set(0)).body).toEqual({ otel_sampling_rate: 0, otel_exporting: true });
    expect(await tracesOf(100)).toBe(0);
    expect((await set(1)).status).toBe(200);
    expect(await tracesOf(60)).toBe(60);

    // bad values are refused, naming the field; the rate stays
    for (const bad of [1.5, -1, '0.5']) {
      const r = await set(bad);
      expect(r.status).toBe(400);
      expect((r.body as { error: { code: string; details?: { field?: string } } }).error).toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    expect(((await call(d.local, 'GET', '/api/v1/daemon/config')).body as { otel_sampling_rate: number }).otel_sampling_rate).toBe(1);

    // only admins: a read-only or namespace key is refused (and the refusal audited)
    for (const role of ['readonly', 'namespace']) {
      const key = ((await call(d.local, 'POST', '/api/v1/keys', { name: `k-${role}`, role, ...(role === 'namespace' ? { namespace: 'team' } : {}) })).body as { secret: string }).secret;
      expect((await call({ port, key }, 'PATCH', '/api/v1/daemon/config', { otel_sampling_rate: 0.5 })).status).toBe(403);
      expect((await call({ port, key }, 'GET', '/api/v1/daemon/config')).status).toBe(403);
    }

    const audit = ((await call(d.local, 'GET', '/api/v1/audit?limit=1000')).body as { events: { action: string; outcome: string; details: Record<string, unknown> | null }[] }).events;
    const changes = audit.filter((e) => e.action === 'daemon.configure' && e.outcome === 'ok').map((e) => e.details?.otel_sampling_rate);
    expect(changes).toEqual([{ from: 0.25, to: 0 }, { from: 0, to: 1 }]);
    expect(audit.filter((e) => e.action === 'daemon.configure' && e.outcome === 'denied').length).toBeGreaterThanOrEqual(2);
  }, 60_000);
});
