/**
 * The web UI end to end: a real daemon (real sandboxes, the shared tiny model) serving dist/web at
 * /ui/, driven in Debian's headless chromium through playwright-core. Sign-in, the live sandboxes
 * table, a terminal over the WebSocket exec, keys, audit, a read-only key's narrower view, chat,
 * the workflow canvas; the CSP header and no CSP violations; screenshots of each page.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { call, freePort, removeHome, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { browserSkipReason, ensureWebBuilt, launchChromium, SCREENSHOTS } from '../helpers/browser.js';
import { modelSkipReason, TEST_MODEL, TEST_MODEL_SHA256 } from '../helpers/model.js';
import { sandboxSkipReason } from '../helpers/sandbox.js';

const daemonSkip = sandboxSkipReason();
const skip = daemonSkip ?? browserSkipReason() ?? modelSkipReason();

/** What needs no browser: the files at /ui/ and their headers, and the WebSocket's key (the terminal's door). */
describe.skipIf(daemonSkip)('web UI: the files and the WebSocket key', () => {
  let d: TestDaemon;
  let port: number;
  let base: string;
  let admin = '';

  beforeAll(async () => {
    ensureWebBuilt();
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    d = await startTestDaemon({ port });
    admin = ((await call(d.local, 'POST', '/api/v1/keys', { name: 'ui-admin', role: 'admin' })).body as { secret: string }).secret;
  }, 120_000);
  afterAll(async () => {
    if (!d) return;
    await d.stop();
    removeHome(d.home);
  });

  it('serves the built UI at /ui/ with a strict CSP, index uncached and hashed assets cached; no key needed for the files', async () => {
    const index = await fetch(`${base}/ui/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toMatch(/^text\/html/);
    expect(index.headers.get('cache-control')).toBe('no-cache');
    const csp = index.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
    expect(csp).toContain("frame-ancestors 'none'");
    const html = await index.text();
    expect(html).not.toMatch(/<script>(?!<)/); // no inline script
    const asset = /src="(\/ui\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(asset).toBeTruthy();
    const js = await fetch(`${base}${asset}`);
    expect(js.status).toBe(200);
    // the bundle budget: the first load's JavaScript at most 300 KiB gzip (the terminal and canvas load later)
    const gz = gzipSync(Buffer.from(await js.clone().arrayBuffer())).length;
    console.log(`initial JavaScript: ${Math.round(gz / 1024)} KiB gzip`);
    expect(gz).toBeLessThanOrEqual(300 * 1024);
    expect(html.match(/<script/g)).toHaveLength(1);
    expect(js.headers.get('cache-control')).toContain('immutable');
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    const redirect = await fetch(`${base}/ui`, { redirect: 'manual' });
    expect(redirect.status).toBe(301);
    expect(redirect.headers.get('location')).toBe('/ui/');
    // paths that would reach files that exist (the UI's own index, the repository's package.json) if a name were resolved as a path
    for (const p of ['/ui/assets/..%2findex.html', '/ui/..%2f..%2f..%2fpackage.json']) expect((await fetch(`${base}${p}`)).status, p).toBe(404);
    expect((await fetch(`${base}/ui/assets/nope.js`)).status).toBe(404);
    expect((await fetch(`${base}/ui/`, { method: 'POST' })).status).toBe(405);
    // the API beside it still wants a key
    expect((await fetch(`${base}/api/v1/sandboxes`)).status).toBe(401);
  });

  it('authenticates a WebSocket by the bkg.bearer subprotocol only with a valid key, and never echoes the key', async () => {
    const open = (protocols: string[]) =>
      new Promise<{ ok: boolean; protocol?: string; status?: number }>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/sandboxes/shell/exec/ws`, protocols);
        ws.on('open', () => {
          resolve({ ok: true, protocol: ws.protocol });
          ws.close();
        });
        ws.on('unexpected-response', (_req, res) => resolve({ ok: false, status: res.statusCode }));
        ws.on('error', () => resolve({ ok: false }));
      });
    expect(await open(['bkg', `bkg.bearer.${admin}`])).toEqual({ ok: true, protocol: 'bkg' });
    expect(await open(['bkg', 'bkg.bearer.bkg_notARealKey0000000000000000000000000000000'])).toEqual({ ok: false, status: 401 });
    expect(await open(['bkg'])).toEqual({ ok: false, status: 401 });
    // the key is only read from it: what the key may do is decided as for a header (a read-only key may not exec)
    const ro = ((await call(d.local, 'POST', '/api/v1/keys', { name: 'ws-ro', role: 'readonly' })).body as { secret: string }).secret;
    expect(await open(['bkg', `bkg.bearer.${ro}`])).toEqual({ ok: false, status: 403 });
    expect(await open(['bkg', `bkg.bearer.${admin}`, `bkg.bearer.${ro}`])).toEqual({ ok: false, status: 401 });
    // offered alone, or first, the key is still never what either WebSocket door answers with
    for (const path of ['/api/v1/sandboxes/shell/exec/ws', '/api/v1/events']) {
      for (const protocols of [[`bkg.bearer.${admin}`], [`bkg.bearer.${admin}`, 'bkg']]) {
        const answered = await new Promise<string | undefined>((resolve) => {
          const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, protocols);
          ws.on('upgrade', (res) => resolve(String(res.headers['sec-websocket-protocol'] ?? '')));
          ws.on('unexpected-response', () => resolve(undefined));
          ws.on('error', () => {});
          ws.on('open', () => ws.close());
        });
        expect(answered, `${path} ${protocols.join(',')}`).toBe(protocols.length === 1 ? '' : 'bkg');
      }
    }
  });
});


describe.skipIf(skip)('web UI', () => {
  let d: TestDaemon;
  let port: number;
  let base: string;
  let admin = '';
  let browser: Browser;
  let ctx: BrowserContext;
  let page: Page;
  let modelDir: string;
  const cspViolations: string[] = [];
  const pageErrors: string[] = [];

  const shot = (name: string, p: Page = page) => p.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: false });
  const api = (method: string, path: string, body?: unknown) => call(d.local, method, path, body);

  async function newPage(c: BrowserContext): Promise<Page> {
    const p = await c.newPage();
    p.on('console', (m) => {
      if (/Content.Security.Policy/i.test(m.text())) cspViolations.push(m.text());
    });
    p.on('pageerror', (e) => pageErrors.push(String(e)));
    p.on('dialog', (dlg) => void dlg.accept());
    return p;
  }

  async function signIn(p: Page, key: string): Promise<void> {
    await p.goto(`${base}/ui/`);
    await p.fill('#key', key);
    await p.click('button[type=submit]');
  }

  beforeAll(async () => {
    ensureWebBuilt();
    mkdirSync(SCREENSHOTS, { recursive: true });
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    d = await startTestDaemon({ port });
    admin = ((await api('POST', '/api/v1/keys', { name: 'ui-admin', role: 'admin' })).body as { secret: string }).secret;
    modelDir = mkdtempSync(join(tmpdir(), 'bkg-web-model-'));
    copyFileSync(TEST_MODEL, join(modelDir, 'stories260K.gguf'));
    const pulled = await api('POST', '/api/v1/admin/llm/models', { source: join(modelDir, 'stories260K.gguf'), name: 'stories', sha256: TEST_MODEL_SHA256 });
    expect(pulled.status).toBe(202);
    browser = await launchChromium();
    ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await newPage(ctx);
    const job = (pulled.body as { job_id: string }).job_id;
    for (let i = 0; i < 600; i++) {
      const j = (await api('GET', `/api/v1/admin/llm/jobs/${job}`)).body as { status: string };
      if (j.status === 'done') break;
      if (j.status === 'failed') throw new Error(`pull failed: ${JSON.stringify(j)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    if (d) {
      for (const name of ['web', 'shell', 'flow']) await api('DELETE', `/api/v1/sandboxes/${name}`).catch(() => {});
      await d.stop();
      removeHome(d.home);
    }
    if (modelDir) rmSync(modelDir, { recursive: true, force: true });
  });

  it('the sign-in page is usable within 1 s of a first load; a wrong key is refused with a clear message (keyboard only)', async () => {
    // the first load (an empty cache each time), from the start of the navigation to a usable sign-in
    // form, as the page's own clock counts it; the best of three, as this machine is shared
    const loads: number[] = [];
    for (let i = 0; i < 3; i++) {
      const c = await browser.newContext();
      const p = await c.newPage();
      await p.goto(`${base}/ui/`);
      await p.waitForSelector('#key');
      loads.push(await p.evaluate<number>(`performance.getEntriesByName('bkg:signin-ready')[0].startTime`));
      await c.close();
    }
    console.log(`sign-in page interactive after ${loads.map((t) => Math.round(t)).join(', ')} ms (first loads)`);
    expect(Math.min(...loads)).toBeLessThanOrEqual(1000);
    await page.goto(`${base}/ui/`);
    await page.waitForSelector('#key');
    // by keyboard only: Tab reaches the key field, Enter sends the form
    await page.keyboard.press('Tab');
    expect(await page.evaluate<string>('document.activeElement.id')).toBe('key');
    await page.keyboard.type('bkg_notARealKey0000000000000000000000000000000');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.textContent('[role=alert]')).toContain('unknown or revoked API key');
    await shot('signin-refused');
  });

  it('signs in; a sandbox created through the API appears live, runs, shows usage, and stops from the UI', async () => {
    await signIn(page, admin);
    await page.waitForSelector('h1#sb-title');
    expect(await page.evaluate('sessionStorage.getItem("bkg.key")')).toBe(admin);
    expect(page.url()).not.toContain(admin);
    await page.waitForSelector('.dot.live');
    expect((await api('POST', '/api/v1/sandboxes', { name: 'web' })).status).toBe(201);
    const row = page.locator('tr[data-sandbox="web"]');
    await row.waitFor();
    expect((await api('POST', '/api/v1/sandboxes/web/start')).status).toBe(200);
    await expect.poll(() => row.locator('[data-testid=status]').textContent(), { timeout: 15_000 }).toBe('running');
    await row.locator('meter').first().waitFor({ timeout: 10_000 }); // a usage sample arrived
    await shot('sandboxes');
    await row.getByRole('button', { name: 'Stop web' }).click();
    await expect.poll(() => row.locator('[data-testid=status]').textContent(), { timeout: 30_000 }).toBe('stopped');
    expect(((await api('GET', '/api/v1/sandboxes/web')).body as { status: string }).status).toBe('stopped');
  });

  it('creates and starts a sandbox from the UI and runs `echo hi` in its terminal (WebSocket exec, key as a subprotocol)', async () => {
    await page.goto(`${base}/ui/#/sandboxes`);
    await page.fill('input[name=sandbox-name]', 'shell');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    const row = page.locator('tr[data-sandbox="shell"]');
    await expect.poll(() => row.locator('[data-testid=status]').textContent(), { timeout: 30_000 }).toBe('running');
    await row.getByRole('button', { name: 'Terminal of shell' }).click();
    await expect.poll(() => page.textContent('[data-testid=term-state]'), { timeout: 15_000 }).toBe('connected');
    await page.locator('.xterm').click();
    await page.keyboard.type('echo hi\n');
    await expect.poll(async () => (await page.locator('.xterm-rows > div').allTextContents()).map((l) => l.trim()), { timeout: 15_000 }).toContain('hi');
    await shot('terminal');
    // what the shell wrote shows on the Changes page, with its new content
    await page.keyboard.type('echo made in a browser > /workspace/note.txt\n');
    await page.getByRole('button', { name: 'Changes' }).click();
    await page.getByRole('button', { name: 'note.txt' }).click();
    await expect.poll(() => page.textContent('figure.file pre')).toBe('made in a browser\n');
    await shot('changes');
  });

  it('creates a key (its secret shown once, and it works), revokes it (refused at once), rotates another (the old secret refused)', async () => {
    await page.goto(`${base}/ui/#/keys`);
    await page.fill('input[name=key-name]', 'made-in-ui');
    await page.selectOption('select[name=key-role]', 'readonly');
    await page.getByRole('button', { name: 'Create key' }).click();
    const secret = (await page.locator('[data-testid=secret]').textContent()) ?? '';
    expect(secret).toMatch(/^bkg_[A-Za-z0-9]{43}$/);
    expect((await call({ port, key: secret }, 'GET', '/api/v1/whoami')).status).toBe(200);
    await shot('keys');
    await page.getByRole('button', { name: 'Revoke made-in-ui' }).click();
    await expect.poll(() => page.locator('tr[data-key="made-in-ui"] [data-testid=key-state]').textContent()).toBe('revoked');
    expect((await call({ port, key: secret }, 'GET', '/api/v1/whoami')).status).toBe(401);
    // rotate: a new secret shown once; the old one is refused from then on
    await page.fill('input[name=key-name]', 'rotated-in-ui');
    await page.getByRole('button', { name: 'Create key' }).click();
    const before = (await page.locator('[data-testid=secret]').textContent()) ?? '';
    await page.getByRole('button', { name: 'Rotate rotated-in-ui' }).click();
    await expect.poll(() => page.locator('[data-testid=secret]').textContent()).not.toBe(before);
    const after = (await page.locator('[data-testid=secret]').textContent()) ?? '';
    expect((await call({ port, key: before }, 'GET', '/api/v1/whoami')).status).toBe(401);
    expect((await call({ port, key: after }, 'GET', '/api/v1/whoami')).status).toBe(200);
  });

  it('shows the audit log, filters it, and verifies the chain', async () => {
    await page.goto(`${base}/ui/#/audit`);
    await page.locator('table.audit tbody tr').first().waitFor();
    await page.fill('input[name=audit-filter]', 'key.revoke');
    await expect.poll(async () => (await page.locator('table.audit tbody tr td:nth-child(4)').allTextContents()).every((t) => t === 'key.revoke')).toBe(true);
    expect(await page.locator('table.audit tbody tr').count()).toBeGreaterThan(0);
    await page.getByRole('button', { name: 'Verify chain' }).click();
    await expect.poll(() => page.textContent('[data-testid=verify]')).toMatch(/chain intact: \d+ rows verified/);
    await shot('audit');
  });

  it('a read-only key sees the sandboxes but no admin pages and no actions; revoked, it is signed out', async () => {
    const ro = ((await api('POST', '/api/v1/keys', { name: 'ui-ro', role: 'readonly' })).body as { secret: string }).secret;
    const c = await browser.newContext({ viewport: { width: 390, height: 844 }, colorScheme: 'dark' });
    const p = await newPage(c);
    await signIn(p, ro);
    await p.locator('tr[data-sandbox="shell"]').waitFor();
    const nav = await p.locator('nav[aria-label=Pages] a').allTextContents();
    expect(nav).toContain('Sandboxes');
    for (const admin of ['Keys', 'Audit', 'Models', 'Workflow', 'Peers']) expect(nav).not.toContain(admin);
    expect(await p.locator('tr[data-sandbox="shell"] button').allTextContents()).toEqual(['Changes']);
    expect(await p.locator('form[aria-label="Create a sandbox"]').count()).toBe(0);
    // the phone layout: the page itself never scrolls sideways (tables scroll in their own box)
    expect(await p.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    // prefers-color-scheme: dark gives the dark palette
    expect(await p.evaluate<string>('getComputedStyle(document.body).backgroundColor')).toBe('rgb(17, 20, 24)');
    await shot('sandboxes-phone-readonly-dark', p);
    // its key revoked while it is signed in: the stream is cut, the page signs out and says why
    const roId = ((await api('GET', '/api/v1/keys')).body as { keys: { id: string; name: string }[] }).keys.find((k) => k.name === 'ui-ro')?.id;
    expect((await api('POST', `/api/v1/keys/${roId}/revoke`)).status).toBe(200);
    await expect.poll(() => p.textContent('[role=alert]'), { timeout: 15_000 }).toContain('revoked');
    expect(await p.evaluate<string | null>(`sessionStorage.getItem('bkg.key')`)).toBeNull();
    await c.close();
  });

  it('chats with the tiny model: words stream in, with tokens/s', async () => {
    await page.goto(`${base}/ui/#/chat`);
    await expect.poll(() => page.locator('select[name=model] option').allTextContents()).toContain('stories');
    await page.fill('#prompt', 'Once upon a time');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.textContent('[data-testid=rate]'), { timeout: 60_000 }).toMatch(/tokens in .* tokens\/s/);
    const reply = (await page.locator('.msg.assistant p').last().textContent()) ?? '';
    expect(reply.trim().split(/\s+/).length).toBeGreaterThan(2);
    const pieces = Number(/^(\d+) tokens/.exec((await page.textContent('[data-testid=rate]')) ?? '')?.[1]);
    expect(pieces).toBeGreaterThan(2); // streamed: many pieces, not one answer
    // kept in the browser: a reload shows the conversation again
    await page.reload();
    await expect.poll(() => page.locator('.msg.assistant p').last().textContent()).toBe(reply);
    await shot('chat');
    // Stop ends a reply while it streams
    await page.fill('#prompt', 'Tell me a long story');
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Stop' }).click();
    await expect.poll(() => page.textContent('[data-testid=rate]'), { timeout: 30_000 }).toContain('(stopped)');
    console.log(`stopped reply: ${await page.textContent('[data-testid=rate]')}`);
  });

  it('chats as a namespace key with a model-access key, over the OpenAI-compatible routes', async () => {
    const ns = ((await api('POST', '/api/v1/keys', { name: 'ui-ns', role: 'namespace', namespace: 'default' })).body as { secret: string }).secret;
    const req = (await api('POST', '/api/v1/llm/requests', { model_id: 'stories', cave_namespace: 'default' })).body as { id: string };
    const token = ((await api('POST', `/api/v1/admin/llm/requests/${req.id}/approve`, {})).body as { token: string }).token;
    const c = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const p = await newPage(c);
    await signIn(p, ns);
    await p.goto(`${base}/ui/#/chat`);
    await p.fill('input[name=token]', token);
    await p.fill('input[name=namespace]', 'default');
    await p.getByRole('button', { name: 'Use' }).click();
    await expect.poll(() => p.locator('select[name=model] option').allTextContents()).toEqual(['stories']);
    await p.fill('#prompt', 'Once upon a time');
    await p.keyboard.press('Enter');
    await expect.poll(() => p.textContent('[data-testid=rate]'), { timeout: 60_000 }).toMatch(/tokens in .* tokens\/s/);
    expect(((await p.locator('.msg.assistant p').last().textContent()) ?? '').trim().length).toBeGreaterThan(0);
    expect(await p.evaluate<string | null>(`sessionStorage.getItem('bkg.chat.model-key')`)).toContain(token);
    await c.close();
  });

  it('runs a two-node workflow: a sandbox\'s output into a prompt', async () => {
    expect((await api('POST', '/api/v1/sandboxes', { name: 'flow' })).status).toBe(201);
    expect((await api('POST', '/api/v1/sandboxes/flow/start')).status).toBe(200);
    await page.goto(`${base}/ui/#/workflow`);
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.getByRole('button', { name: '+ Run code in a sandbox' }).click();
    await page.fill('input[name=wf-sandbox]', 'flow');
    await page.fill('textarea[name=wf-script]', 'echo Once upon a time there was a sandbox');
    const first = await page.locator('select[name=wf-node]').inputValue();
    await page.getByRole('button', { name: '+ Prompt a model' }).click();
    await expect.poll(() => page.locator('select[name=wf-model]').inputValue()).toBe('stories');
    const second = await page.locator('select[name=wf-node]').inputValue();
    await page.selectOption('select[name=wf-node]', first);
    await page.selectOption('select[name=wf-connect]', second);
    await expect.poll(() => page.locator('.react-flow__edge').count()).toBe(1);
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await expect.poll(() => page.locator('[data-testid=wf-message]').textContent(), { timeout: 60_000 }).toBe('finished');
    expect(await page.locator('[data-testid=node-status]').allTextContents()).toEqual(['done', 'done']);
    const outputs = await page.locator('[data-testid=node-output]').allTextContents();
    expect(outputs[0]?.trim()).toBe('Once upon a time there was a sandbox');
    expect(outputs[1]?.trim().length).toBeGreaterThan(0);
    await shot('workflow');
    // saved as JSON, cleared, loaded back
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Save JSON' }).click()]);
    const saved = JSON.parse(readFileSync((await download.path()) as string, 'utf8')) as { nodes: { data: { kind: string } }[]; edges: unknown[] };
    expect(saved.nodes.map((n) => n.data.kind)).toEqual(['sandbox', 'prompt']);
    expect(saved.edges).toHaveLength(1);
    await page.getByRole('button', { name: 'Clear' }).click();
    await expect.poll(() => page.locator('.react-flow__node').count()).toBe(0);
    await page.setInputFiles('input[type=file]', { name: 'workflow.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(saved)) });
    await expect.poll(() => page.locator('.react-flow__node').count()).toBe(2);
    await expect.poll(() => page.locator('.react-flow__edge').count()).toBe(1);
  });

  it('models: the pulled model, an access request approved (its key works) and the key revoked (refused); peers: this host\'s P2P status', async () => {
    await page.goto(`${base}/ui/#/models`);
    await page.getByRole('rowheader', { name: 'stories' }).waitFor();
    // an access request arrives live; Approve shows the model-access key once; Revoke refuses it at once
    const req = (await api('POST', '/api/v1/llm/requests', { model_id: 'stories', cave_namespace: 'default' })).body as { id: string };
    const item = page.locator(`li[data-request="${req.id}"]`);
    await item.getByRole('button', { name: 'Approve' }).click();
    const token = (await page.locator('[data-testid=secret]').textContent()) ?? '';
    expect(token.split('.')).toHaveLength(3); // a JWT
    const models = () => fetch(`${base}/v1/models`, { headers: { authorization: `Bearer ${token}`, 'x-cave-namespace': 'default' } });
    expect((await models()).status).toBe(200);
    await shot('models');
    const jti = (JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()) as { jti: string }).jti;
    await page.locator(`li[data-token="${jti}"]`).getByRole('button', { name: 'Revoke' }).click();
    await expect.poll(async () => (await models()).status).toBe(403);
    await page.goto(`${base}/ui/#/peers`);
    await expect.poll(() => page.textContent('[data-testid=p2p-status]')).toMatch(/^P2P (is off|on)/);
    await shot('peers');
    // sign out forgets the key
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForSelector('#key');
    expect(await page.evaluate<string | null>(`sessionStorage.getItem('bkg.key')`)).toBeNull();
  });

  it('every page fits a 390×844 phone screen: nothing scrolls sideways but a table in its own box', async () => {
    const c = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const p = await newPage(c);
    await signIn(p, admin);
    await p.locator('#sb-title').waitFor();
    for (const [hash, title] of [['sandboxes', '#sb-title'], ['chat', '#chat-title'], ['workflow', '#wf-title'], ['models', '#models-title'], ['peers', '#peers-title'], ['keys', '#keys-title'], ['audit', '#audit-title'], ['changes/shell', '#ch-title']] as const) {
      await p.goto(`${base}/ui/#/${hash}`);
      await p.locator(title).first().waitFor();
      expect(await p.evaluate<number>('document.documentElement.scrollWidth'), hash).toBeLessThanOrEqual(390);
      await shot(`${hash.replace('/', '-')}-phone`, p);
    }
    await c.close();
  });

  it('had no CSP violations and no uncaught errors on any page', () => {
    expect(cspViolations).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
