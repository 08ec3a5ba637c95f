/** Spans of MCP tool calls and of LLM requests (queue, first token, generation), exported to a real OTLP/HTTP receiver. */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, freePort, removeHome, startTestDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { mcpClient, mcpTool } from '../../helpers/doors.js';
import { modelSkipReason, TEST_MODEL, TEST_MODEL_SHA256 } from '../../helpers/model.js';
import { attr, startOtlpReceiver, type ExportedSpan, type OtlpReceiver } from '../../helpers/otlp.js';
import { sandboxSkipReason } from '../../helpers/sandbox.js';

const skip = sandboxSkipReason() ?? modelSkipReason();

describe.skipIf(skip)('traces of MCP tools and LLM requests', () => {
  let d: TestDaemon;
  let otlp: OtlpReceiver;
  let port: number;
  let key: string;
  let dir: string;
  let mcp: Client | undefined;

  beforeAll(async () => {
    process.env.OTEL_BSP_SCHEDULE_DELAY = '100';
    otlp = await startOtlpReceiver();
    port = await freePort();
    d = await startTestDaemon({ port, env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint } });
    key = ((await call(d.local, 'POST', '/api/v1/keys', { name: 'ops', role: 'admin' })).body as { secret: string }).secret;
    dir = mkdtempSync(join(tmpdir(), 'bkg-otel-llm-'));
  }, 60_000);

  afterAll(async () => {
    await mcp?.close();
    await d.stop();
    removeHome(d.home);
    rmSync(dir, { recursive: true, force: true });
    await otlp.close();
    delete process.env.OTEL_BSP_SCHEDULE_DELAY;
  });

  it('an MCP tool call is a span under the POST /mcp request that carried it', async () => {
    mcp = await mcpClient(port, key);
    const r = await mcpTool(mcp, 'sandbox_list');
    expect(r.isError ?? false).toBe(false);
    const spans = await otlp.waitFor('the tool span', (all) => all.some((s) => s.name === 'mcp.tool sandbox_list'));
    const tool = spans.find((s) => s.name === 'mcp.tool sandbox_list') as ExportedSpan;
    expect(attr(tool, 'mcp.tool.name')).toBe('sandbox_list');
    expect(spans.find((s) => s.spanId === tool.parentSpanId)?.name).toBe('POST /mcp');
  });

  it('a chat is llm.chat with its queue, first token and generation', async () => {
    copyFileSync(TEST_MODEL, join(dir, 'stories.gguf'));
    const pulled = await call(d.local, 'POST', '/api/v1/admin/llm/models', { source: join(dir, 'stories.gguf'), name: 'stories', sha256: TEST_MODEL_SHA256 });
    expect(pulled.status).toBe(202);
    const job = (pulled.body as { job_id: string }).job_id;
    for (let i = 0; i < 300; i++) {
      const j = (await call(d.local, 'GET', `/api/v1/admin/llm/jobs/${job}`)).body as { status: string };
      if (j.status === 'done') break;
      if (j.status === 'failed') throw new Error(`pull failed: ${JSON.stringify(j)}`);
      await new Promise((res) => setTimeout(res, 100));
    }
    const chat = await call({ port, key }, 'POST', '/api/v1/admin/llm/chat', { model: 'stories', messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 8, temperature: 0 });
    expect(chat.status, JSON.stringify(chat.body)).toBe(200);

    const spans = await otlp.waitFor('the chat spans', (all) => all.some((s) => s.name === 'llm.generate'));
    const llm = spans.find((s) => s.name === 'llm.chat') as ExportedSpan;
    expect(attr(llm, 'gen_ai.request.model')).toBe('stories');
    expect(spans.find((s) => s.spanId === llm.parentSpanId)?.name).toBe('POST /api/v1/admin/llm/chat');
    const children = spans.filter((s) => s.parentSpanId === llm.spanId);
    expect(children.map((s) => s.name).sort()).toEqual(['llm.first_token', 'llm.generate', 'llm.queue']);
    const gen = children.find((s) => s.name === 'llm.generate') as ExportedSpan;
    expect(Number(attr(gen, 'gen_ai.usage.output_tokens'))).toBeGreaterThan(0);
    // nothing of the conversation is exported
    expect(otlp.bodies.join('\n')).not.toContain('Once upon a time');
  }, 120_000);
});
