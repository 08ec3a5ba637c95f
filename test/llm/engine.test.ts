/**
 * The llama.cpp inference engine, with real inference on the tiny
 * stories260K model (a copy in a temp dir). At temperature 0 the model
 * continues "Once upon a time" with ", there was a little girl named Lily."
 * and, 342 tokens later, emits BOS (its end of story).
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { formatChatPrompt } from '../../src/llm/chat-template.js';
import { LlamaEngine } from '../../src/llm/engine-llama.js';
import type { LlamaModels } from '../../src/llm/llama-models.js';
import { StopScanner, StreamingDecoder } from '../../src/llm/token-stream.js';
import type { ChatResult } from '../../src/llm/types.js';
import type { LlamaModel } from 'node-llama-cpp';
import { createLogger } from '../../src/log.js';
import { rejection } from '../helpers/errors.js';
import { modelSkipReason, TEST_MODEL } from '../helpers/model.js';

const SHARED_MODEL = TEST_MODEL;
const LILY = 'there was a little girl named Lily';
const log = createLogger({ level: 'silent' });

let dir: string;
let modelPath: string;
let engine: LlamaEngine;
const engines: LlamaEngine[] = [];

/** The engine's llama.cpp models (private: the tests look inside). */
function modelsOf(e: LlamaEngine): LlamaModels {
  return (e as unknown as { models: LlamaModels }).models;
}

function newEngine(opts: { idleUnloadMs?: number; contextSize?: number } = {}): LlamaEngine {
  const e = new LlamaEngine({ log, threads: 1, ...opts });
  engines.push(e);
  return e;
}


const skip = modelSkipReason();

beforeAll(() => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'bkg-llm-'));
  modelPath = join(dir, 'stories260K.gguf');
  copyFileSync(SHARED_MODEL, modelPath);
  engine = newEngine();
});

afterAll(async () => {
  for (const e of engines) await e.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const story = () => ({ modelId: 'stories260k', modelPath, temperature: 0 });

describe.skipIf(skip)('LlamaEngine generation', () => {
  it('completes a prompt with the known continuation, streaming deltas that add up to the text', async () => {
    const deltas: string[] = [];
    const r = await engine.complete({ ...story(), prompt: 'Once upon a time', maxTokens: 24, onText: (t) => void deltas.push(t) });
    expect(r.text).toContain(LILY);
    expect(r.text.startsWith(', there was')).toBe(true);
    expect(deltas.length).toBeGreaterThan(10);
    expect(deltas.join('')).toBe(r.text);
    expect(deltas.every((d) => d.length > 0)).toBe(true);
    expect(r).toMatchObject({ finishReason: 'length', completionTokens: 24 });
    expect(r.promptTokens).toBeGreaterThan(3);
    expect(r.firstTokenMs).not.toBeNull();
    expect(r.durationMs).toBeGreaterThanOrEqual(r.firstTokenMs ?? Infinity);
    const tokensPerSecond = r.completionTokens / ((r.durationMs - (r.firstTokenMs ?? 0)) / 1000);
    console.log(`stories260K, 1 thread: ${Math.round(tokensPerSecond)} tokens/s`);
  });

  it('chats with a simple template; an assistant prefill is continued', async () => {
    const deltas: string[] = [];
    const r = await engine.chat({
      ...story(),
      messages: [
        { role: 'system', content: 'You tell stories.' },
        { role: 'user', content: 'Tell me a story.' },
        { role: 'assistant', content: 'Once upon a time' },
      ],
      maxTokens: 20,
      onText: (t) => void deltas.push(t),
    });
    expect(r.text).toContain(LILY);
    expect(deltas.join('')).toBe(r.text);
    expect(r.finishReason).toBe('length');

    // A plain chat is deterministic at temperature 0.
    const messages = [{ role: 'user' as const, content: 'Hello' }];
    const a = await engine.chat({ ...story(), messages, maxTokens: 16 });
    const b = await engine.chat({ ...story(), messages, maxTokens: 16 });
    expect(a.text).toBe(b.text);
    expect(a.text.length).toBeGreaterThan(0);
  });

  it('stops at the end of the text with finishReason stop', async () => {
    const r = await engine.complete({ ...story(), prompt: 'Once upon a time', maxTokens: 1000 });
    expect(r.finishReason).toBe('stop');
    expect(r.completionTokens).toBeLessThan(1000);
    expect(r.text).toContain(LILY);
  });

  it('honours maxTokens exactly', async () => {
    for (const maxTokens of [1, 5]) {
      const r = await engine.complete({ ...story(), prompt: 'Once upon a time', maxTokens });
      expect(r).toMatchObject({ finishReason: 'length', completionTokens: maxTokens });
    }
  });

  it('rejects bad arguments', async () => {
    expect((await rejection(engine.complete({ ...story(), prompt: 'x', maxTokens: 0 }))).code).toBe('INVALID_ARGUMENT');
    expect((await rejection(engine.complete({ ...story(), prompt: 'x', maxTokens: 1, temperature: -1 }))).code).toBe('INVALID_ARGUMENT');
    expect((await rejection(engine.complete({ ...story(), prompt: '', maxTokens: 1 }))).code).toBe('INVALID_ARGUMENT');
    expect((await rejection(engine.chat({ ...story(), messages: [], maxTokens: 1 }))).code).toBe('INVALID_ARGUMENT');
  });

  it('caps generation at the context size and rejects prompts that do not fit', async () => {
    const small = newEngine({ contextSize: 64 });
    const r = await small.complete({ ...story(), prompt: 'Once upon a time', maxTokens: 500 });
    expect(r.finishReason).toBe('length');
    expect(r.promptTokens + r.completionTokens).toBe(64);
    const err = await rejection(small.complete({ ...story(), prompt: 'Lily played in the park. '.repeat(20), maxTokens: 5 }));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toMatch(/the context holds 64/);
  });

  it('stops promptly when the signal aborts, with finishReason cancelled', async () => {
    // Aborted from inside onText: no further token is generated.
    const ac = new AbortController();
    let seen = 0;
    const r = await engine.complete({
      ...story(),
      prompt: 'Once upon a time',
      maxTokens: 1000,
      signal: ac.signal,
      onText: () => {
        if (++seen === 3) ac.abort();
      },
    });
    expect(r.finishReason).toBe('cancelled');
    expect(seen).toBe(3);
    expect(r.completionTokens).toBe(3);

    // Aborted from outside while generating (not from the consumer): it returns within a few ms.
    // The abort comes once text flows (a fixed delay could fall before the first token on a busy host).
    const ac2 = new AbortController();
    let flowing: () => void = () => {};
    const generating = new Promise<void>((resolve) => (flowing = resolve));
    const pending = engine.complete({ ...story(), prompt: 'Once upon a time', maxTokens: 1000, signal: ac2.signal, onText: () => (flowing(), sleep(1).then(() => undefined)) });
    await generating;
    const abortedAt = performance.now();
    ac2.abort();
    const r2 = await pending;
    const lag = performance.now() - abortedAt;
    expect(r2.finishReason).toBe('cancelled');
    expect(r2.completionTokens).toBeGreaterThan(0);
    expect(r2.completionTokens).toBeLessThan(1000);
    expect(lag).toBeLessThan(100);

    // Already aborted: nothing is generated.
    const r3 = await engine.chat({ ...story(), messages: [{ role: 'user', content: 'Hi' }], maxTokens: 10, signal: AbortSignal.abort() });
    expect(r3).toMatchObject({ finishReason: 'cancelled', completionTokens: 0, text: '', firstTokenMs: null });
  });

  it('awaits onText, so a slow consumer slows generation (backpressure)', async () => {
    const fast = await engine.complete({ ...story(), prompt: 'Once upon a time', maxTokens: 10 });
    const stamps: number[] = [];
    const slow = await engine.complete({
      ...story(),
      prompt: 'Once upon a time',
      maxTokens: 10,
      onText: async () => {
        stamps.push(performance.now());
        await sleep(20);
      },
    });
    expect(slow.text).toBe(fast.text);
    expect(stamps.length).toBe(10);
    const gaps = stamps.slice(1).map((t, i) => t - (stamps[i] ?? 0));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(19);
    expect(slow.durationMs).toBeGreaterThan(fast.durationMs + 150);
  });

  it('runs two chats on the same model concurrently', async () => {
    const req = () => ({ ...story(), messages: [{ role: 'user' as const, content: 'Tell me a story.' }, { role: 'assistant' as const, content: 'Once upon a time' }], maxTokens: 30 });
    const [a, b] = await Promise.all([engine.chat(req()), engine.chat(req())]);
    expect(a.text).toContain(LILY);
    expect(b.text).toBe(a.text);
    expect(engine.loaded()).toEqual(['stories260k']);
  });
});

describe.skipIf(skip)('LlamaEngine model cache', () => {
  it('loads once for concurrent first calls, keeps the model warm, unloads it when idle', async () => {
    const e = newEngine({ idleUnloadMs: 250 });
    const spy = vi.spyOn(modelsOf(e) as unknown as { loadModel: () => Promise<unknown> }, 'loadModel');
    expect(e.loaded()).toEqual([]);
    const req = () => ({ ...story(), prompt: 'Once upon a time', maxTokens: 8 });
    const first: ChatResult[] = await Promise.all([e.complete(req()), e.complete(req()), e.complete(req())]);
    expect(spy).toHaveBeenCalledTimes(1);
    expect(e.loaded()).toEqual(['stories260k']);

    const warm = await e.complete(req());
    expect(spy).toHaveBeenCalledTimes(1);
    expect(warm.text).toBe(first[0]?.text);
    // The first calls waited for llama.cpp to start and the model to load.
    expect(warm.firstTokenMs ?? Infinity).toBeLessThan(first[0]?.firstTokenMs ?? 0);

    await sleep(600);
    expect(e.loaded()).toEqual([]);
    const again = await e.complete(req());
    expect(again.text).toBe(warm.text);
    expect(spy).toHaveBeenCalledTimes(2);
    expect(e.loaded()).toEqual(['stories260k']);
  });

  it('loads the new file when a model id moves to another path', async () => {
    const e = newEngine();
    const other = join(dir, 'copy.gguf');
    copyFileSync(modelPath, other);
    await e.complete({ ...story(), prompt: 'Once', maxTokens: 2 });
    const r = await e.complete({ ...story(), modelPath: other, prompt: 'Once upon a time', maxTokens: 12 });
    expect(r.text).toContain('little girl');
    expect(e.loaded()).toEqual(['stories260k']);
  });

  it('reports a model that cannot be loaded as a clear BkgError', async () => {
    // A fresh engine: llama.cpp logs to the most recently started one (see llama-models.ts).
    const engine = newEngine();
    const notGguf = join(dir, 'not-a-model.gguf');
    writeFileSync(notGguf, 'this is a text file, not a GGUF model\n'.repeat(20));
    const bad = await rejection(engine.complete({ ...story(), modelId: 'bad', modelPath: notGguf, prompt: 'x', maxTokens: 1 }));
    expect(bad.code).toBe('INTERNAL');
    expect(bad.message).toContain('cannot load model bad');
    expect(bad.message).toContain(notGguf);
    expect(bad.message).toMatch(/GGUF/);
    expect(bad.hint).toMatch(/corrupt/);

    const truncated = join(dir, 'truncated.gguf');
    writeFileSync(truncated, readFileSync(modelPath).subarray(0, 500_000));
    const trunc = await rejection(engine.chat({ ...story(), modelId: 'trunc', modelPath: truncated, messages: [{ role: 'user', content: 'x' }], maxTokens: 1 }));
    expect(trunc.code).toBe('INTERNAL');
    expect(trunc.message).toMatch(/llama\.cpp: .*corrupted or incomplete/);

    const missing = await rejection(engine.complete({ ...story(), modelId: 'gone', modelPath: join(dir, 'nope.gguf'), prompt: 'x', maxTokens: 1 }));
    expect(missing.code).toBe('NOT_FOUND');

    expect(engine.loaded()).toEqual([]);
    // The engine still works.
    const ok = await engine.complete({ ...story(), prompt: 'Once upon a time', maxTokens: 12 });
    expect(ok.text).toContain('little girl');
  });

  it('close() cancels running generations, unloads models and refuses new work', async () => {
    const e = newEngine();
    let started!: () => void;
    const firstText = new Promise<void>((resolve) => (started = resolve));
    const running = e.complete({ ...story(), prompt: 'Once upon a time', maxTokens: 1000, onText: () => started() });
    await firstText;
    await e.close();
    const r = await running;
    expect(r.finishReason).toBe('cancelled');
    expect(e.loaded()).toEqual([]);
    expect((await rejection(e.complete({ ...story(), prompt: 'x', maxTokens: 1 }))).code).toBe('DAEMON_UNAVAILABLE');
    await e.close(); // idempotent
  });
});

describe.skipIf(skip)('LlamaEngine embeddings', () => {
  it('returns one vector per input, all of the same length', async () => {
    const r = await engine.embed({ modelId: 'stories260k', modelPath, input: ['Lily went to the park.', 'A big red ball.', 'Lily went to the park.'] });
    expect(r.vectors).toHaveLength(3);
    const width = r.vectors[0]?.length ?? 0;
    expect(width).toBe(64); // the model's embedding size
    expect(r.vectors.every((v) => v.length === width && v.every(Number.isFinite))).toBe(true);
    expect(r.vectors[2]).toEqual(r.vectors[0]);
    expect(r.vectors[1]).not.toEqual(r.vectors[0]);
    expect(r.promptTokens).toBeGreaterThan(6);
  });

  it('rejects empty input', async () => {
    expect((await rejection(engine.embed({ modelId: 'stories260k', modelPath, input: [] }))).code).toBe('INVALID_ARGUMENT');
    expect((await rejection(engine.embed({ modelId: 'stories260k', modelPath, input: ['a', ''] }))).message).toMatch(/input\[1\] is empty/);
  });
});

describe('chat template and text streaming', () => {
  it('formats messages deterministically', () => {
    expect(
      formatChatPrompt([
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello!' },
        { role: 'user', content: 'Tell me a story.' },
      ]),
    ).toBe('System: Be brief.\nUser: Hi\nAssistant: Hello!\nUser: Tell me a story.\nAssistant:');
    // A trailing assistant message is continued; an empty one just opens the turn.
    expect(formatChatPrompt([{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Once' }])).toBe('User: Hi\nAssistant: Once');
    expect(formatChatPrompt([{ role: 'user', content: 'Hi' }, { role: 'assistant', content: '' }])).toBe('User: Hi\nAssistant:');
  });

  it('holds back text that may start a stop marker, and cuts at the marker', () => {
    const s = new StopScanner(['\nUser:', '\nSystem:']);
    expect(s.push('Hello there.\nUs')).toEqual({ emit: 'Hello there.', stopped: false });
    expect(s.push('ually fine')).toEqual({ emit: '\nUsually fine', stopped: false });
    expect(s.push('.\n')).toEqual({ emit: '.', stopped: false });
    expect(s.push('User: more')).toEqual({ emit: '', stopped: true });
    expect(s.flush()).toBe('');

    const t = new StopScanner(['\nUser:']);
    expect(t.push('end\nU')).toEqual({ emit: 'end', stopped: false });
    expect(t.flush()).toBe('\nU');
    expect(new StopScanner([]).push('\nUser:')).toEqual({ emit: '\nUser:', stopped: false });
  });

  it('decodes multi-byte characters split over byte tokens without broken deltas', async () => {
    // The engine's loaded model (a second llama.cpp instance in one process is best avoided).
    await engine.complete({ ...story(), prompt: 'Once', maxTokens: 1 });
    const model = (modelsOf(engine) as unknown as { entries: Map<string, { model: LlamaModel | null }> }).entries.get('stories260k')?.model;
    if (!model) throw new Error('model not loaded');
    const prompt = model.tokenize('Lily said');
    const tokens = model.tokenize('héllo 🙂 to 世界, said Lily.');
    expect(tokens.length).toBeGreaterThan(15); // byte-fallback tokens: several per character
    const decoder = new StreamingDecoder(model, prompt);
    const deltas = tokens.map((t) => decoder.push(t));
    deltas.push(decoder.flush());
    expect(deltas.join('')).toBe(model.detokenize(tokens, false, prompt));
    expect(deltas.join('')).toContain('héllo 🙂 to 世界, said Lily.');
    expect(deltas.some((d) => d.includes('\uFFFD'))).toBe(false);
  });
});
