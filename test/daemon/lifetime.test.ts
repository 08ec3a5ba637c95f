/** Lifetime and idle timeouts stop sandboxes on their own. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, removeHome, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { sandboxSkipReason } from '../helpers/sandbox.js';

const skip = sandboxSkipReason();

async function statusAfter(d: TestDaemon, name: string, want: string, ms: number): Promise<string> {
  const until = Date.now() + ms;
  let status = '';
  while (Date.now() < until) {
    status = ((await call(d.local, 'GET', `/api/v1/sandboxes/${name}`)).body as { status: string }).status;
    if (status === want) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return status;
}

describe.skipIf(skip)('sandbox lifetimes', () => {
  let d: TestDaemon;
  beforeAll(async () => {
    d = await startTestDaemon();
  });
  afterAll(async () => {
    for (const n of ['short', 'idle']) await call(d.local, 'DELETE', `/api/v1/sandboxes/${n}`);
    await d.stop();
    removeHome(d.home);
  });

  it('stops a sandbox when its lifetime ends, and shows when it will', async () => {
    await call(d.local, 'POST', '/api/v1/sandboxes', { name: 'short', limits: { timeout_s: 1 } });
    const started = (await call(d.local, 'POST', '/api/v1/sandboxes/short/start')).body as { expires_at: string; started_at: string };
    expect(Date.parse(started.expires_at) - Date.parse(started.started_at)).toBe(1000);
    expect(await statusAfter(d, 'short', 'stopped', 5000)).toBe('stopped');
    const events = (await call(d.local, 'GET', '/api/v1/audit')).body as { events: { action: string; target: string }[] };
    expect(events.events.some((e) => e.action === 'sandbox.expire')).toBe(true);
  });

  it('stops an idle sandbox, and each exec moves the idle deadline', async () => {
    await call(d.local, 'POST', '/api/v1/sandboxes', { name: 'idle', limits: { idle_timeout_s: 2 } });
    await call(d.local, 'POST', '/api/v1/sandboxes/idle/start');
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      expect((await call(d.local, 'POST', '/api/v1/sandboxes/idle/exec', { cmd: ['true'] })).status).toBe(200);
    }
    expect(await statusAfter(d, 'idle', 'stopped', 6000)).toBe('stopped');
  });
});
