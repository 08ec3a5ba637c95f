/**
 * Traces of a real daemon, exported over OTLP/HTTP to a real receiver on 127.0.0.1: the spans of a
 * sandbox's start and of an exec (names, parent links, attributes), no key or secret in anything
 * exported, the trace id in error answers and in log lines; and without an endpoint, none of it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, freePort, removeHome, startTestDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { attr, startOtlpReceiver, type ExportedSpan, type OtlpReceiver } from '../../helpers/otlp.js';
import { sandboxSkipReason } from '../../helpers/sandbox.js';

const skip = sandboxSkipReason();
const SECRET_VALUE = 'hunter2-s3cret-value-in-env';

function childrenOf(spans: ExportedSpan[], parent: ExportedSpan): ExportedSpan[] {
  return spans.filter((s) => s.traceId === parent.traceId && s.parentSpanId === parent.spanId);
}

describe.skipIf(skip)('traces over OTLP/HTTP', () => {
  let d: TestDaemon;
  let otlp: OtlpReceiver;
  let port: number;
  let adminKey: string;
  let sandboxKey: string;

  beforeAll(async () => {
    process.env.OTEL_BSP_SCHEDULE_DELAY = '100'; // the batch processor exports every 100 ms (default 5 s)
    otlp = await startOtlpReceiver();
    port = await freePort();
    d = await startTestDaemon({ port, env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint, CAVE_OTEL_SAMPLING_RATE: '1.0' } });
    adminKey = ((await call(d.local, 'POST', '/api/v1/keys', { name: 'ops', role: 'admin' })).body as { secret: string }).secret;
  }, 60_000);

  afterAll(async () => {
    await call(d.local, 'DELETE', '/api/v1/sandboxes/traced');
    await d.stop();
    removeHome(d.home);
    await otlp.close();
    delete process.env.OTEL_BSP_SCHEDULE_DELAY;
  });

  it('exports a span per phase of a start and of an exec, linked to the request that caused them, with no secret in them', async () => {
    const tcp = { port, key: adminKey };
    const created = await call(tcp, 'POST', '/api/v1/sandboxes', { name: 'traced', limits: { memory_mb: 128 } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    sandboxKey = (created.body as { api_key_secret: string }).api_key_secret;
    expect((await call(tcp, 'POST', '/api/v1/sandboxes/traced/start')).status).toBe(200);
    const exec = await call(tcp, 'POST', '/api/v1/sandboxes/traced/exec', { cmd: ['sh', '-c', 'echo "$TOKEN" | wc -c'], env: { TOKEN: SECRET_VALUE } });
    expect(exec.status, JSON.stringify(exec.body)).toBe(200);

    const spans = await otlp.waitFor('the exec and its phases', (all) => all.some((s) => s.name === 'sandbox.exec.run') && all.some((s) => s.name === 'POST /api/v1/sandboxes/:id/exec'));
    // the request (a server span) → the audited operation → the runtime's phases
    const req = spans.find((s) => s.name === 'POST /api/v1/sandboxes/:id/exec') as ExportedSpan;
    expect(req.kind).toBe(2); // SERVER
    expect(req.parentSpanId ?? '').toBe('');
    expect(attr(req, 'http.route')).toBe('/api/v1/sandboxes/:id/exec');
    expect(attr(req, 'http.request.method')).toBe('POST');
    expect(attr(req, 'http.response.status_code')).toBe(200);
    expect(attr(req, 'bkg.transport')).toBe('tcp');
    const op = childrenOf(spans, req).find((s) => s.name === 'sandbox.exec') as ExportedSpan;
    expect(op, 'sandbox.exec under the request').toBeDefined();
    expect(attr(op, 'bkg.target')).toBe('traced');
    const phases = childrenOf(spans, op).map((s) => s.name);
    expect(phases).toEqual(expect.arrayContaining(['sandbox.exec.prepare', 'sandbox.exec.dispatch', 'sandbox.exec.run']));
    const dispatch = childrenOf(spans, op).find((s) => s.name === 'sandbox.exec.dispatch') as ExportedSpan;
    expect(attr(dispatch, 'bkg.exec.transport')).toBe('exec_server');
    const run = childrenOf(spans, op).find((s) => s.name === 'sandbox.exec.run') as ExportedSpan;
    expect(Number(attr(run, 'bkg.exec.helper_duration_ms'))).toBeGreaterThanOrEqual(0);
    // phases lie within their parent
    for (const s of childrenOf(spans, op)) {
      expect(BigInt(s.startTimeUnixNano) >= BigInt(op.startTimeUnixNano) - 1_000_000n).toBe(true);
      expect(BigInt(s.endTimeUnixNano) <= BigInt(op.endTimeUnixNano) + 1_000_000n).toBe(true);
    }

    // the start: the helper's steps under sandbox.start, under POST .../start
    const startReq = spans.find((s) => s.name === 'POST /api/v1/sandboxes/:id/start') as ExportedSpan;
    const start = childrenOf(spans, startReq).find((s) => s.name === 'sandbox.start') as ExportedSpan;
    expect(childrenOf(spans, start).map((s) => s.name)).toEqual(expect.arrayContaining(['sandbox.start.prepare', 'sandbox.start.helper_spawn', 'sandbox.start.cgroups_namespaces', 'sandbox.start.mounts']));

    // nothing exported carries a key, the sandbox's key or a value the command was given
    const exported = otlp.bodies.join('\n');
    for (const secret of [adminKey, sandboxKey, SECRET_VALUE]) expect(exported.includes(secret), 'a secret in the exported traces').toBe(false);
    expect(exported).not.toMatch(/bkg_[A-Za-z0-9]{43}/);
    expect(exported).not.toMatch(/authorization/i);
  }, 60_000);

  it('continues a caller\'s trace (W3C traceparent) and ignores a malformed one', async () => {
    const traceId = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
    const parent = '0123456789abcdef';
    expect((await call({ port }, 'GET', '/healthz', undefined, { headers: { traceparent: `00-${traceId}-${parent}-01` } })).status).toBe(200);
    expect((await call({ port }, 'GET', '/healthz', undefined, { headers: { traceparent: `00-${'0'.repeat(32)}-${parent}-01` } })).status).toBe(200);
    const spans = await otlp.waitFor('the continued trace', (all) => all.some((s) => s.traceId === traceId));
    expect(spans.find((s) => s.traceId === traceId)).toMatchObject({ name: 'GET /healthz', parentSpanId: parent });
    expect(spans.some((s) => s.traceId === '0'.repeat(32))).toBe(false);
  });

  it('names the trace in an error answer and in the daemon\'s log lines', async () => {
    const r = await call({ port, key: adminKey }, 'GET', '/api/v1/sandboxes/no-such-sandbox');
    expect(r.status).toBe(404);
    const traceId = (r.body as { error: { trace_id?: string } }).error.trace_id as string;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    const spans = await otlp.waitFor('the failed request', (all) => all.some((s) => s.traceId === traceId));
    expect(spans.find((s) => s.traceId === traceId)?.name).toBe('GET /api/v1/sandboxes/:id');
    // pino's mixin: the request's log line carries its trace (the log is written asynchronously)
    const deadline = Date.now() + 5000;
    let line: Record<string, unknown> | undefined;
    while (!line && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 100));
      line = readFileSync(join(d.home, 'logs', 'daemon.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.trace_id === traceId && l.msg === 'request');
    }
    expect(line?.status).toBe(404);
    expect(line?.span_id).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe('without OTEL_EXPORTER_OTLP_ENDPOINT', () => {
  it('traces nothing: no trace id in error answers or log lines', async () => {
    const d = await startTestDaemon();
    try {
      const r = await call(d.local, 'GET', '/api/v1/sandboxes/no-such-sandbox');
      expect(r.status).toBe(404);
      expect((r.body as { error: Record<string, unknown> }).error).not.toHaveProperty('trace_id');
      const cfg = await call(d.local, 'GET', '/api/v1/daemon/config');
      expect(cfg.body).toEqual({ otel_sampling_rate: 1, otel_exporting: false });
    } finally {
      await d.stop();
      expect(readFileSync(join(d.home, 'logs', 'daemon.log'), 'utf8')).not.toContain('trace_id');
      removeHome(d.home);
    }
  });
});
