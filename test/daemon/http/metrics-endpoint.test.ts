import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authed, request, startHarness, type Harness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.stop();
});

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (-?[0-9.e+-]+|\+Inf|-Inf|NaN)$/;

describe('/metrics', () => {
  it('is valid exposition text that counts requests by route pattern', async () => {
    for (let i = 0; i < 3; i++) await request(h, 'unix', { path: `/api/v1/sandboxes/sb${i}` });
    await request(h, 'tcp', { path: '/api/v1/sandboxes/x' }); // 401
    await request(h, 'tcp', authed({ path: '/api/v1/nope' }));
    const res = await request(h, 'tcp', { path: '/metrics' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const lines = res.text.split('\n');
    expect(lines.pop()).toBe('');
    for (const line of lines) {
      if (line.startsWith('#')) expect(line).toMatch(/^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$/);
      else expect(line).toMatch(SAMPLE);
    }
    expect(lines).toContain('# TYPE bkg_api_requests_total counter');
    expect(lines).toContain('# TYPE bkg_api_request_duration_seconds histogram');
    expect(lines).toContain('bkg_api_requests_total{route="/api/v1/sandboxes/:id",method="GET",status="200"} 3');
    expect(lines).toContain('bkg_api_requests_total{route="/api/v1/sandboxes/:id",method="GET",status="401"} 1');
    expect(lines).toContain('bkg_api_requests_total{route="unmatched",method="GET",status="404"} 1');
    expect(lines).toContain('bkg_api_request_duration_seconds_bucket{route="/api/v1/sandboxes/:id",method="GET",le="+Inf"} 4');
    expect(lines).toContain('bkg_api_request_duration_seconds_count{route="/api/v1/sandboxes/:id",method="GET"} 4');
    expect(lines.some((l) => l.startsWith('bkg_api_request_duration_seconds_sum{route="/api/v1/sandboxes/:id",method="GET"} '))).toBe(true);
  });
});
