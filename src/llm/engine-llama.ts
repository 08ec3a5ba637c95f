/**
 * The admin LLM's inference engine on node-llama-cpp (llama.cpp), CPU only:
 * chat, completion and embeddings over the models that llama-models.ts keeps
 * loaded, with prompts in the chat template of chat-template.ts.
 *
 * - Each request gets its own context (one sequence), disposed afterwards:
 *   requests never share KV-cache state, and concurrent requests on the same
 *   model simply run side by side.
 * - Generation drives `LlamaContextSequence.evaluate` token by token, so an
 *   awaited `onText` pauses generation (backpressure), an aborted signal stops
 *   it before the next token, and `maxTokens` is exact. Generation ends
 *   ('stop') at an end-of-generation token, or at BOS (see `isEndOfText`).
 *
 * Use one engine per process: llama.cpp's log callback and backend are
 * process-wide, so with several engines only the most recently started one
 * receives llama.cpp's log lines (which explain load failures).
 */
import type { LlamaModel, Token } from 'node-llama-cpp';
import { BkgError } from '../api/errors.js';
import type { Logger } from '../log.js';
import { CHAT_STOP_STRINGS, formatChatPrompt } from './chat-template.js';
import { LlamaModels } from './llama-models.js';
import { isEndOfText, StopScanner, StreamingDecoder } from './token-stream.js';
import type { ChatRequest, ChatResult, CompletionRequest, InferenceEngine } from './types.js';

// bench/llm.mjs redoes a generation by hand with these, loaded from dist/llm/engine-llama.js.
export { CHAT_STOP_STRINGS, formatChatPrompt } from './chat-template.js';
export { StopScanner, StreamingDecoder } from './token-stream.js';

export interface LlamaEngineOptions {
  log: Logger;
  /**
   * CPU threads per context (default 1). Measured on a 2-core VM with a
   * tiny model: 1 thread ≈ 1,800 tokens/s, 2 threads ≈ 20–70 tokens/s once
   * anything else runs on the host (llama.cpp's threads spin-wait on each
   * other), so more threads only pay off on idle machines with many cores.
   */
  threads?: number;
  /** Unload a model after this long without use (default 5 minutes). */
  idleUnloadMs?: number;
  /** Context size per request (default 2048), capped at the model's training context. */
  contextSize?: number;
  /** The GPU backend (default false: the CPU only). */
  gpu?: false | 'auto' | 'cuda' | 'vulkan';
}

type GenerateRequest = Omit<CompletionRequest, 'modelPath' | 'prompt'>;

export class LlamaEngine implements InferenceEngine {
  // threads and contextSize are read off an instance by bench/llm.mjs (the daemon's defaults).
  private readonly threads: number;
  private readonly contextSize: number;
  private readonly models: LlamaModels;
  private closed = false;

  constructor(opts: LlamaEngineOptions) {
    this.threads = positiveInt(opts.threads ?? 1, 'threads');
    const idleUnloadMs = positiveInt(opts.idleUnloadMs ?? 5 * 60_000, 'idleUnloadMs');
    this.contextSize = positiveInt(opts.contextSize ?? 2048, 'contextSize');
    this.models = new LlamaModels({ log: opts.log, threads: this.threads, idleUnloadMs, gpu: opts.gpu ?? false });
  }

  async chat(req: ChatRequest): Promise<ChatResult> {
    const t0 = performance.now();
    validateGeneration(req);
    const prompt = formatChatPrompt(req.messages);
    return this.models.use(req.modelId, req.modelPath, (model) => this.generate(model, prompt, req, CHAT_STOP_STRINGS, t0));
  }

  async complete(req: CompletionRequest): Promise<ChatResult> {
    const t0 = performance.now();
    validateGeneration(req);
    if (req.prompt === '') throw new BkgError('INVALID_ARGUMENT', 'prompt must not be empty');
    return this.models.use(req.modelId, req.modelPath, (model) => this.generate(model, req.prompt, req, [], t0));
  }

  async embed(req: { modelId: string; modelPath: string; input: string[] }): Promise<{ vectors: number[][]; promptTokens: number }> {
    if (req.input.length === 0) throw new BkgError('INVALID_ARGUMENT', 'input must hold at least one string');
    req.input.forEach((s, i) => {
      if (s === '') throw new BkgError('INVALID_ARGUMENT', `input[${i}] is empty`);
    });
    return this.models.use(req.modelId, req.modelPath, async (model) => {
      const contextSize = this.contextSizeFor(model);
      let ctx: Awaited<ReturnType<LlamaModel['createEmbeddingContext']>>;
      try {
        ctx = await model.createEmbeddingContext({ contextSize, threads: this.threads });
      } catch (err) {
        throw new BkgError('INVALID_ARGUMENT', `model ${req.modelId} cannot produce embeddings: ${err instanceof Error ? err.message : String(err)}`, {
          hint: 'Use a model that supports embeddings.',
          cause: err,
        });
      }
      try {
        const vectors: number[][] = [];
        let promptTokens = 0;
        for (const [i, text] of req.input.entries()) {
          const length = ctx.calculateInputLength(text);
          promptTokens += length;
          if (length >= contextSize) {
            throw new BkgError('INVALID_ARGUMENT', `input[${i}] is ${length} tokens; the embedding context holds ${contextSize - 1}`);
          }
          const embedding = await ctx.getEmbeddingFor(text);
          vectors.push([...embedding.vector]);
        }
        const width = vectors[0]?.length ?? 0;
        if (width === 0 || vectors.some((v) => v.length !== width)) {
          throw new BkgError('INVALID_ARGUMENT', `model ${req.modelId} cannot produce embeddings (got vectors of ${width} values)`, {
            hint: 'Use a model that supports embeddings.',
          });
        }
        return { vectors, promptTokens };
      } finally {
        await ctx.dispose();
      }
    });
  }

  loaded(): string[] {
    return this.models.loaded();
  }

  /** Stops running generations (they finish 'cancelled'), unloads every model and releases llama.cpp. Idempotent. */
  close(): Promise<void> {
    this.closed = true;
    return this.models.close();
  }

  private async generate(model: LlamaModel, promptText: string, req: GenerateRequest, stops: readonly string[], t0: number): Promise<ChatResult> {
    const bos = model.tokens.shouldPrependBosToken ? model.tokens.bos : null;
    const prompt: Token[] = bos === null ? model.tokenize(promptText) : [bos, ...model.tokenize(promptText)];
    const contextSize = this.contextSizeFor(model);
    if (prompt.length >= contextSize) {
      throw new BkgError('INVALID_ARGUMENT', `the prompt is ${prompt.length} tokens; the context holds ${contextSize}`, {
        hint: 'Send a shorter prompt (or fewer messages).',
      });
    }
    // Never run past the context: at most what is left after the prompt.
    const budget = Math.min(req.maxTokens, contextSize - prompt.length);
    const cancelled = (): boolean => this.closed || req.signal?.aborted === true;

    const base = { promptTokens: prompt.length };
    if (cancelled()) {
      return { ...base, text: '', completionTokens: 0, finishReason: 'cancelled', firstTokenMs: null, durationMs: performance.now() - t0 };
    }

    const context = await model.createContext({ contextSize, threads: this.threads, sequences: 1 });
    const decoder = new StreamingDecoder(model, prompt);
    const stopper = new StopScanner(stops);
    let completionTokens = 0;
    let firstTokenMs: number | null = null;
    let finishReason: ChatResult['finishReason'] = 'stop';
    let text = '';
    const emit = async (delta: string): Promise<void> => {
      if (delta === '') return;
      firstTokenMs ??= performance.now() - t0;
      text += delta;
      if (req.onText) await req.onText(delta);
    };

    try {
      const sequence = context.getSequence();
      const tokens = sequence.evaluate(prompt, { temperature: req.temperature });
      try {
        for (;;) {
          if (cancelled()) {
            finishReason = 'cancelled';
            break;
          }
          const next = await tokens.next();
          if (next.done === true || isEndOfText(model, next.value)) break; // 'stop'
          completionTokens++;
          const { emit: delta, stopped } = stopper.push(decoder.push(next.value));
          await emit(delta);
          if (stopped) break; // 'stop'
          if (completionTokens >= budget) {
            finishReason = 'length';
            break;
          }
        }
      } finally {
        await tokens.return();
      }
      if (finishReason !== 'cancelled') {
        // Text held back (an incomplete character, a possible stop marker that was not one) is real output.
        const { emit: rest, stopped } = stopper.push(decoder.flush());
        await emit(rest);
        if (!stopped) await emit(stopper.flush());
      }
    } finally {
      await context.dispose();
    }
    return { ...base, text, completionTokens, finishReason, firstTokenMs, durationMs: performance.now() - t0 };
  }

  private contextSizeFor(model: LlamaModel): number {
    const train = model.trainContextSize;
    return train > 0 ? Math.min(this.contextSize, train) : this.contextSize;
  }
}

/** Checked before the model loads. */
function validateGeneration(req: GenerateRequest): void {
  if (!Number.isInteger(req.maxTokens) || req.maxTokens < 1) {
    throw new BkgError('INVALID_ARGUMENT', `maxTokens must be a positive integer (got ${req.maxTokens})`);
  }
  if (!Number.isFinite(req.temperature) || req.temperature < 0) {
    throw new BkgError('INVALID_ARGUMENT', `temperature must be a number >= 0 (got ${req.temperature})`);
  }
}

function positiveInt(v: number, name: string): number {
  if (!Number.isInteger(v) || v < 1) throw new BkgError('INVALID_ARGUMENT', `${name} must be a positive integer (got ${v})`);
  return v;
}
