/** OpenAI-compatible response shapes, and the SSE writer that streams them (on a real HTTP server). */
import { once } from 'node:events';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import {
  chatChunk,
  chatCompletion,
  chatUsageChunk,
  completionId,
  embeddingList,
  finishReason,
  modelsList,
  textChunk,
  textCompletion,
  unixSeconds,
} from '../../src/llm/openai-format.js';
import { formatEvent, writeSse, type SseWriter } from '../../src/llm/sse.js';
import type { ChatResult, ModelManifest } from '../../src/llm/types.js';

const meta = { id: 'chatcmpl-abc', model: 'stories260k', created: 1_700_000_000 };
const result: ChatResult = {
  text: ', there was a little girl named Lily.',
  promptTokens: 5,
  completionTokens: 11,
  finishReason: 'length',
  firstTokenMs: 3,
  durationMs: 9,
};

describe('openai-format', () => {
  it('builds a chat completion', () => {
    expect(chatCompletion(result, meta)).toEqual({
      id: 'chatcmpl-abc',
      object: 'chat.completion',
      created: 1_700_000_000,
      model: 'stories260k',
      choices: [{ index: 0, message: { role: 'assistant', content: ', there was a little girl named Lily.' }, finish_reason: 'length' }],
      usage: { prompt_tokens: 5, completion_tokens: 11, total_tokens: 16 },
    });
  });

  it('maps finish reasons (cancelled reports stop)', () => {
    expect(finishReason('stop')).toBe('stop');
    expect(finishReason('length')).toBe('length');
    expect(finishReason('cancelled')).toBe('stop');
    expect(chatCompletion({ ...result, finishReason: 'cancelled' }, meta).choices[0].finish_reason).toBe('stop');
  });

  it('builds stream chunks: role first, content deltas, then the finish reason', () => {
    expect(chatChunk({ role: 'assistant' }, meta)).toEqual({
      id: 'chatcmpl-abc',
      object: 'chat.completion.chunk',
      created: 1_700_000_000,
      model: 'stories260k',
      choices: [{ index: 0, delta: { role: 'assistant' }, finish_reason: null }],
    });
    expect(chatChunk({ content: 'Lily' }, meta).choices[0]).toEqual({ index: 0, delta: { content: 'Lily' }, finish_reason: null });
    expect(chatChunk({}, meta, 'stop').choices[0]).toEqual({ index: 0, delta: {}, finish_reason: 'stop' });
    // No undefined keys on the wire.
    expect(JSON.stringify(chatChunk({ role: undefined, content: 'x' }, meta))).not.toContain('role');
    expect(chatUsageChunk(result, meta)).toEqual({
      id: 'chatcmpl-abc',
      object: 'chat.completion.chunk',
      created: 1_700_000_000,
      model: 'stories260k',
      choices: [],
      usage: { prompt_tokens: 5, completion_tokens: 11, total_tokens: 16 },
    });
  });

  it('builds text completions and chunks', () => {
    const m = { ...meta, id: 'cmpl-1' };
    expect(textCompletion(result, m)).toEqual({
      id: 'cmpl-1',
      object: 'text_completion',
      created: 1_700_000_000,
      model: 'stories260k',
      choices: [{ index: 0, text: result.text, logprobs: null, finish_reason: 'length' }],
      usage: { prompt_tokens: 5, completion_tokens: 11, total_tokens: 16 },
    });
    expect(textChunk(' Lily', m).choices[0]).toEqual({ index: 0, text: ' Lily', logprobs: null, finish_reason: null });
    expect(textChunk('', m, 'cancelled').choices[0].finish_reason).toBe('stop');
    expect(textChunk('', m)).not.toHaveProperty('usage');
  });

  it('builds an embedding list', () => {
    expect(embeddingList([[0.1, 0.2], [0.3, 0.4]], 'stories260k', 7)).toEqual({
      object: 'list',
      data: [
        { object: 'embedding', index: 0, embedding: [0.1, 0.2] },
        { object: 'embedding', index: 1, embedding: [0.3, 0.4] },
      ],
      model: 'stories260k',
      usage: { prompt_tokens: 7, total_tokens: 7 },
    });
  });

  it('lists models', () => {
    const m = (id: string, created_at: string): ModelManifest => ({
      id,
      name: id,
      sha256: 'a'.repeat(64),
      size_bytes: 1,
      source: 'file:///x',
      signed_by: null,
      created_at,
      last_used_at: null,
    });
    expect(modelsList([m('stories260k', '2024-01-02T03:04:05.678Z'), m('odd', 'not a date')])).toEqual({
      object: 'list',
      data: [
        { id: 'stories260k', object: 'model', created: 1704164645, owned_by: 'bkg' },
        { id: 'odd', object: 'model', created: 0, owned_by: 'bkg' },
      ],
    });
    expect(modelsList([])).toEqual({ object: 'list', data: [] });
  });

  it('makes ids and timestamps', () => {
    expect(completionId()).toMatch(/^chatcmpl-[0-9a-f]{24}$/);
    expect(completionId('cmpl')).toMatch(/^cmpl-[0-9a-f]{24}$/);
    expect(completionId()).not.toBe(completionId());
    expect(unixSeconds(new Date('2024-01-02T03:04:05.999Z'))).toBe(1704164645);
    expect(Math.abs(unixSeconds() - Date.now() / 1000)).toBeLessThan(2);
  });
});

describe('sse', () => {
  let server: Server | null = null;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = null;
  });

  /** A server whose one handler is `handler`; resolves to its port. */
  async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<number> {
    server = createServer(handler);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return (server.address() as AddressInfo).port;
  }

  function get(port: number): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/' }, resolve);
      req.on('error', reject);
      req.end();
    });
  }

  async function readAll(res: IncomingMessage): Promise<string> {
    let body = '';
    res.setEncoding('utf8');
    for await (const chunk of res) body += chunk as string;
    return body;
  }

  it('formats events', () => {
    expect(formatEvent({ a: 1 })).toBe('data: {"a":1}\n\n');
    expect(formatEvent('[DONE]')).toBe('data: [DONE]\n\n');
    expect(formatEvent('two\nlines', 'note')).toBe('event: note\ndata: two\ndata: lines\n\n');
    expect(formatEvent(undefined)).toBe('data: null\n\n');
    expect(() => formatEvent('x', 'bad\nname')).toThrow(TypeError);
  });

  it('streams events with SSE headers and ends', async () => {
    const port = await serve((_req, res) => {
      const sse = writeSse(res);
      void (async () => {
        expect(await sse.sendEvent(chatChunk({ role: 'assistant' }, meta))).toBe(true);
        await sse.sendEvent({ n: 1 }, 'progress');
        await sse.comment('keep-alive');
        await sse.sendEvent('[DONE]');
        sse.end();
        sse.end();
        expect(sse.signal.aborted).toBe(false);
        expect(await sse.sendEvent('late')).toBe(false);
      })();
    });
    const res = await get(port);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.headers.connection).toBe('keep-alive');
    const body = await readAll(res);
    expect(body).toBe(
      `data: ${JSON.stringify(chatChunk({ role: 'assistant' }, meta))}\n\n` + 'event: progress\ndata: {"n":1}\n\n' + ': keep-alive\n\n' + 'data: [DONE]\n\n',
    );
  });

  it('aborts its signal when the client disconnects', async () => {
    let writer: SseWriter | null = null;
    const aborted = new Promise<void>((resolve) => {
      void serve((_req, res) => {
        writer = writeSse(res);
        writer.signal.addEventListener('abort', () => resolve());
        void writer.sendEvent({ hello: true });
      }).then(async (port) => {
        const res = await get(port);
        res.once('data', () => res.destroy()); // read the first event, then hang up
      });
    });
    await aborted;
    const w = writer as SseWriter | null;
    expect(w?.signal.aborted).toBe(true);
    expect(w?.closed).toBe(true);
    expect(await w?.sendEvent({ more: true })).toBe(false);
  });

  it('waits for drain when the client reads slowly (backpressure)', async () => {
    let blockedSend: Promise<boolean> | null = null;
    const blocked = new Promise<void>((resolve) => {
      void serve((_req, res) => {
        const sse = writeSse(res);
        void (async () => {
          const big = 'x'.repeat(64 * 1024);
          for (let i = 0; i < 2000; i++) {
            const sent = sse.sendEvent(big);
            const done = await Promise.race([sent.then(() => true), sleep(50).then(() => false)]);
            if (!done) {
              blockedSend = sent;
              resolve();
              await sent;
              break;
            }
          }
          sse.end();
        })();
      }).then(async (port) => {
        const res = await get(port);
        res.pause(); // not reading: the server's socket buffer fills up
        await blocked;
        res.resume();
        await readAll(res);
      });
    });
    await blocked;
    expect(blockedSend).not.toBeNull();
    expect(await (blockedSend as Promise<boolean> | null)).toBe(true);
  });
});
