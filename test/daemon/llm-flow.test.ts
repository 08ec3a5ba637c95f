/**
 * The seed's second sequence diagram end to end: a sandbox asks for a model with its own key, an
 * admin approves, the sandbox chats with the signed key, a revoke stops it at once (and for good).
 * Real inference (node-llama-cpp) on stories260K, the official openai client against /v1.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerProblem } from '../../src/api/answers.js';
import { call, checkedFetch, freePort, removeHome, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { sandboxSkipReason } from '../helpers/sandbox.js';
import { modelSkipReason, TEST_MODEL } from '../helpers/model.js';

const skip = sandboxSkipReason() ?? modelSkipReason();


/** Python run inside the sandbox: calls the daemon over /run/bkg/api.sock. */
const CLIENT = `
import http.client, json, os, socket, sys
class C(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX); self.sock.connect(os.environ["BKG_API_URL"][len("unix://"):])
def call(method, path, body, headers):
    c = C("bkg"); c.request(method, path, json.dumps(body), {"content-type": "application/json", **headers}); r = c.getresponse()
    raw = r.read()
    return {"status": r.status, "type": r.getheader("content-type"), "raw": raw.decode(), "body": json.loads(raw or b"null")}
args = json.loads(sys.argv[1])
print(json.dumps(call(args["method"], args["path"], args["body"], args["headers"])))
`;

/** The `data:` payloads of a server-sent event stream as they arrive; `each` sees each one (awaited) before the next is read. */
async function ssePayloads(res: Response, each: (payload: string, before: string[]) => Promise<void>): Promise<string[]> {
  const out: string[] = [];
  let buf = '';
  const decoder = new TextDecoder();
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    const parts = buf.split('\n\n');
    buf = parts.pop() ?? '';
    for (const p of parts) {
      const payload = p.replace(/^data: /, '');
      await each(payload, out);
      out.push(payload);
    }
  }
  return out;
}

describe.skipIf(skip)('model-access flow', () => {
  let d: TestDaemon;
  let dir: string;
  let port: number;
  let token = '';
  let tokenId = '';
  /** POST from inside the sandbox; ownKey: authenticate with the sandbox's own API key (BKG_API_KEY). */
  const inside = async (path: string, body: unknown, headers: Record<string, string>, ownKey = false): Promise<{ status: number; body: Record<string, unknown> }> => {
    const script = ownKey ? CLIENT.replace('args = json.loads(sys.argv[1])', 'args = json.loads(sys.argv[1]); args["headers"]["authorization"] = "Bearer " + os.environ["BKG_API_KEY"]') : CLIENT;
    const r = await call(d.local, 'POST', '/api/v1/sandboxes/asker/exec', { cmd: ['python3', '-c', script, JSON.stringify({ method: 'POST', path, body, headers })] });
    const out = r.body as { stdout: string; stderr: string };
    expect(out.stderr).toBe('');
    const answer = JSON.parse(out.stdout) as { status: number; type: string | null; raw: string; body: Record<string, unknown> };
    // what the sandbox got is what the contract declares, as for every answer call() receives
    expect(answerProblem({ method: 'POST', url: path, status: answer.status, contentType: answer.type ?? undefined, body: Buffer.from(answer.raw) })).toBeNull();
    return { status: answer.status, body: answer.body };
  };

  beforeAll(async () => {
    port = await freePort();
    d = await startTestDaemon({ port });
    dir = mkdtempSync(join(tmpdir(), 'bkg-llm-'));
    copyFileSync(TEST_MODEL, join(dir, 'stories260K.gguf'));
    const pulled = await call(d.local, 'POST', '/api/v1/admin/llm/models', { source: join(dir, 'stories260K.gguf'), name: 'stories', sha256: '270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d' });
    expect(pulled.status).toBe(202);
    const job = (pulled.body as { job_id: string }).job_id;
    for (let i = 0; i < 300; i++) {
      const j = (await call(d.local, 'GET', `/api/v1/admin/llm/jobs/${job}`)).body as { status: string; error?: unknown };
      if (j.status === 'done') break;
      if (j.status === 'failed') throw new Error(`pull failed: ${JSON.stringify(j)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await call(d.local, 'GET', '/api/v1/admin/llm/models/stories')).status).toBe(200);
    expect((await call(d.local, 'POST', '/api/v1/sandboxes', { name: 'asker', runtime: 'python' })).status).toBe(201);
    expect((await call(d.local, 'POST', '/api/v1/sandboxes/asker/start')).status).toBe(200);
  }, 120_000);
  afterAll(async () => {
    await call(d.local, 'DELETE', '/api/v1/sandboxes/asker');
    await d.stop();
    removeHome(d.home);
    rmSync(dir, { recursive: true, force: true });
  });

  it('request from inside the sandbox → approve → chat from inside', async () => {
    const created = (await inside('/api/v1/llm/requests', { model_id: 'stories', cave_namespace: 'default' }, {}, true)) as { status: number; body: { id: string; status: string } };
    expect(created.status).toBe(201);
    expect(created.body.status).toBe('pending');
    expect(await inside('/api/v1/llm/requests', { model_id: 'stories', cave_namespace: 'someone-else' }, {}, true)).toMatchObject({ status: 403 });

    const approved = (await call(d.local, 'POST', `/api/v1/admin/llm/requests/${created.body.id}/approve`, { scopes: ['chat'], ttl_s: 600, rpm: 120 })).body as { token: string; token_id: string };
    token = approved.token;
    tokenId = approved.token_id;
    expect(token.split('.')).toHaveLength(3);

    const chat = await inside('/api/v1/llm/chat', { model: 'stories', messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 24, temperature: 0 }, { authorization: `Bearer ${token}`, 'x-cave-namespace': 'default' });
    expect(chat.status).toBe(200);
    expect(JSON.stringify(chat.body)).toMatch(/[A-Za-z]{3,}/);
    expect(chat.body).toMatchObject({ model: 'stories', usage: { completion_tokens: expect.any(Number) } });
    const wrongNs = await inside('/api/v1/llm/chat', { model: 'stories', messages: [{ role: 'user', content: 'hi' }] }, { authorization: `Bearer ${token}`, 'x-cave-namespace': 'team-x' });
    expect(wrongNs.status).toBe(403);
    const noKey = await inside('/api/v1/llm/chat', { model: 'stories', messages: [{ role: 'user', content: 'hi' }] }, { 'x-cave-namespace': 'default' });
    expect(noKey.status).toBe(401);
  });

  it('streams through /api/v1/llm/chat (SSE)', async () => {
    const r = await checkedFetch(`http://127.0.0.1:${port}/api/v1/llm/chat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'x-cave-namespace': 'default', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'stories', messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 20, temperature: 0, stream: true }),
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('text/event-stream');
    const events = (await r.text()).split('\n\n').filter(Boolean).map((e) => JSON.parse(e.replace(/^data: /, '')) as { text?: string; done?: boolean });
    expect(events.filter((e) => e.text).length).toBeGreaterThan(3);
    expect(events.at(-1)).toMatchObject({ done: true, finish_reason: 'length' });
  });

  it('works with the official openai client against /v1, streamed and not', async () => {
    const openai = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: token, defaultHeaders: { 'X-Cave-Namespace': 'default' }, fetch: checkedFetch });
    const models = await openai.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['stories']);
    const done = await openai.chat.completions.create({ model: 'stories', messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 16, temperature: 0 });
    expect(done.choices[0]?.message.content?.length).toBeGreaterThan(5);
    expect(done.usage?.completion_tokens).toBeGreaterThan(0);
    const stream = await openai.chat.completions.create({ model: 'stories', messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 16, temperature: 0, stream: true });
    let text = '';
    let chunks = 0;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      chunks++;
    }
    expect(chunks).toBeGreaterThan(3);
    expect(text).toBe(done.choices[0]?.message.content);
  });

  it('a key revoked while its answer streams stops it at the next piece: the last event is the error', async () => {
    const req = (await call(d.local, 'POST', '/api/v1/llm/requests', { model_id: 'stories', cave_namespace: 'default' })).body as { id: string };
    const key = (await call(d.local, 'POST', `/api/v1/admin/llm/requests/${req.id}/approve`, { ttl_s: 600 })).body as { token: string; token_id: string };
    // temperature 0: the same long answer every time (about 700 tokens, some hundreds of ms)
    const r = await fetch(`http://127.0.0.1:${port}/api/v1/llm/chat`, {
      method: 'POST', headers: { authorization: `Bearer ${key.token}`, 'x-cave-namespace': 'default', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'stories', messages: [{ role: 'user', content: 'Tell a long story' }], max_tokens: 2000, temperature: 0, stream: true }),
    });
    expect(r.status).toBe(200);
    const isText = (p: string): boolean => typeof (JSON.parse(p) as { text?: unknown }).text === 'string';
    const payloads = await ssePayloads(r, async (p, before) => {
      if (isText(p) && !before.some(isText)) expect((await call(d.local, 'POST', '/api/v1/admin/llm/models/stories/revoke_key', { token_id: key.token_id })).status).toBe(200);
    });
    const events = payloads.map((p) => JSON.parse(p) as { text?: string; done?: boolean; error?: { code: string; message: string } });
    expect(events.some((e) => e.done)).toBe(false);
    expect(events.at(-1)).toMatchObject({ error: { code: 'FORBIDDEN', message: expect.stringMatching(/revoked/) } });
    expect(events.filter((e) => typeof e.text === 'string').length).toBeLessThan(600);
    const audit = (await call(d.local, 'GET', '/api/v1/audit?limit=100000')).body as { events: { action: string; actor: string; outcome: string; details: Record<string, unknown> | null }[] };
    expect(audit.events.filter((e) => e.action === 'llm.chat' && e.actor === key.token_id)).toEqual([expect.objectContaining({ outcome: 'denied', details: { code: 'FORBIDDEN' } })]);
  });

  it('a key revoked while a whole answer is made gets 403, and an OpenAI stream ends with the error, without [DONE]', async () => {
    const newKey = async (): Promise<{ token: string; token_id: string }> => {
      const req = (await call(d.local, 'POST', '/api/v1/llm/requests', { model_id: 'stories', cave_namespace: 'default' })).body as { id: string };
      return (await call(d.local, 'POST', `/api/v1/admin/llm/requests/${req.id}/approve`, { ttl_s: 600 })).body as { token: string; token_id: string };
    };
    const revoke = async (tokenId: string): Promise<void> => {
      expect((await call(d.local, 'POST', '/api/v1/admin/llm/models/stories/revoke_key', { token_id: tokenId })).status).toBe(200);
    };
    const long = { model: 'stories', messages: [{ role: 'user', content: 'Tell a long story' }], max_tokens: 2000, temperature: 0 };
    // not streamed: the answer takes some hundreds of ms; the revoke lands well within it
    const whole = await newKey();
    const pending = fetch(`http://127.0.0.1:${port}/api/v1/llm/chat`, { method: 'POST', headers: { authorization: `Bearer ${whole.token}`, 'x-cave-namespace': 'default', 'content-type': 'application/json' }, body: JSON.stringify(long) });
    await new Promise((r) => setTimeout(r, 50));
    await revoke(whole.token_id);
    const r = await pending;
    expect(r.status).toBe(403);
    expect(await r.json()).toMatchObject({ error: { code: 'FORBIDDEN', message: expect.stringMatching(/revoked/) } });
    // the OpenAI-compatible stream: its last event is the error body, and no [DONE] follows
    const oa = await newKey();
    const res = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${oa.token}`, 'x-cave-namespace': 'default', 'content-type': 'application/json' }, body: JSON.stringify({ ...long, stream: true }) });
    expect(res.status).toBe(200);
    const data = await ssePayloads(res, async (p, before) => {
      if (p.includes('"content"') && !before.some((x) => x.includes('"content"'))) await revoke(oa.token_id);
    });
    expect(data).not.toContain('[DONE]');
    expect(JSON.parse(data.at(-1) as string)).toMatchObject({ error: { code: 'FORBIDDEN' } });
    const audit = (await call(d.local, 'GET', '/api/v1/audit?limit=100000')).body as { events: { action: string; actor: string; outcome: string }[] };
    for (const k of [whole, oa]) expect(audit.events.filter((e) => e.action === 'llm.chat' && e.actor === k.token_id).map((e) => e.outcome)).toEqual(['denied']);
  });

  it('revoke: the next request gets 403 at once, from inside the sandbox, and after a daemon restart', async () => {
    expect((await call(d.local, 'POST', '/api/v1/admin/llm/models/stories/revoke_key', { token_id: tokenId })).status).toBe(200);
    const after = await inside('/api/v1/llm/chat', { model: 'stories', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 }, { authorization: `Bearer ${token}`, 'x-cave-namespace': 'default' });
    expect(after.status).toBe(403);
    await d.stop();
    d = await startTestDaemon({ port, home: d.home });
    const restarted = await checkedFetch(`http://127.0.0.1:${port}/api/v1/llm/chat`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'x-cave-namespace': 'default', 'content-type': 'application/json' }, body: JSON.stringify({ model: 'stories', messages: [{ role: 'user', content: 'hi' }] }) });
    expect(restarted.status).toBe(403);
    const audit = (await call(d.local, 'GET', '/api/v1/audit?limit=100000')).body as { events: { action: string; outcome: string; details: Record<string, unknown> | null }[] };
    const uses = audit.events.filter((e) => e.action === 'llm.chat');
    expect(uses.some((e) => e.outcome === 'ok' && typeof e.details?.completion_tokens === 'number')).toBe(true);
    expect(uses.some((e) => e.outcome === 'denied')).toBe(true);
    expect(audit.events.map((e) => e.action)).toEqual(expect.arrayContaining(['llm.request', 'llm.approve', 'llm.revoke']));
  });
});
