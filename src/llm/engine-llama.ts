/**
 * The admin LLM's inference engine on node-llama-cpp (llama.cpp), CPU only.
 *
 * - node-llama-cpp is ESM-only and loads a native binding, so it is imported
 *   lazily, on the first request; one `Llama` instance serves every model.
 * - Models stay loaded ("warm") in a map keyed by model id, loaded once
 *   (concurrent first calls share the load), and are unloaded after
 *   `idleUnloadMs` without use (an unref'd timer, so it never keeps the
 *   process alive).
 * - Each request gets its own context (one sequence), disposed afterwards:
 *   requests never share KV-cache state, and concurrent requests on the same
 *   model simply run side by side.
 * - Generation drives `LlamaContextSequence.evaluate` token by token, so an
 *   awaited `onText` pauses generation (backpressure), an aborted signal stops
 *   it before the next token, and `maxTokens` is exact. Generation ends
 *   ('stop') at an end-of-generation token, or at BOS (see `isEndOfText`).
 *
 * Chat template (deterministic, for base and chat models alike):
 *
 *     System: <content>\n
 *     User: <content>\n
 *     Assistant: <content>\n
 *     ...
 *     Assistant:
 *
 * When the last message is the assistant's, the prompt ends with
 * `Assistant: <content>` (no newline) and the model continues that message
 * (a "prefill"). Generation also stops (finishReason 'stop') when the model
 * starts a new turn (`\nUser:`, `\nSystem:`, `\nAssistant:`); that marker is
 * not part of the text.
 *
 * Use one engine per process: llama.cpp's log callback and backend are
 * process-wide, so with several engines only the most recently started one
 * receives llama.cpp's log lines (which explain load failures).
 */
import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Llama, LlamaModel, Token } from 'node-llama-cpp';
import { BkgError } from '../api/errors.js';
import type { Logger } from '../log.js';
import type { ChatMessage, ChatRequest, ChatResult, CompletionRequest, InferenceEngine } from './types.js';

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
}

/** Generation stops when the model starts a new turn of the chat template. */
export const CHAT_STOP_STRINGS: readonly string[] = ['\nUser:', '\nSystem:', '\nAssistant:'];

const ROLE_LABEL: Record<ChatMessage['role'], string> = { system: 'System', user: 'User', assistant: 'Assistant' };

/** The prompt for a chat, in the template described at the top of this file. */
export function formatChatPrompt(messages: readonly ChatMessage[]): string {
  if (messages.length === 0) throw new BkgError('INVALID_ARGUMENT', 'messages must hold at least one message');
  const last = messages[messages.length - 1];
  const prefill = last !== undefined && last.role === 'assistant' && last.content !== '';
  const turns = messages.map((m) => `${ROLE_LABEL[m.role]}: ${m.content}`);
  if (prefill) return turns.join('\n');
  if (last?.role === 'assistant') turns.pop(); // an empty assistant message: just open the turn
  return [...turns, 'Assistant:'].join('\n');
}

/** How long close() waits for llama.cpp's backend to shut down (see close()). */
const LLAMA_DISPOSE_TIMEOUT_MS = 2000;

const LOAD_HINT =
  'The model file could not be loaded: it may be truncated or corrupt, not a GGUF file, or of an architecture this llama.cpp build does not support. Remove the model and pull it again.';

interface ModelEntry {
  readonly id: string;
  readonly path: string;
  readonly ready: Promise<LlamaModel>;
  model: LlamaModel | null;
  /** Requests using the model right now; it is only unloaded at 0. */
  active: number;
  timer: NodeJS.Timeout | null;
  /** Replaced by a load from another path (or the engine closed): dispose when idle. */
  retired: boolean;
}

interface NativeLogLine {
  seq: number;
  level: string;
  message: string;
}

type GenerateRequest = Omit<CompletionRequest, 'modelPath' | 'prompt'>;

export class LlamaEngine implements InferenceEngine {
  private readonly log: Logger;
  private readonly threads: number;
  private readonly idleUnloadMs: number;
  private readonly contextSize: number;
  private llamaPromise: Promise<Llama> | null = null;
  private readonly models = new Map<string, ModelEntry>();
  private readonly inflight = new Set<Promise<unknown>>();
  /** Recent llama.cpp warnings and errors, to explain load failures. */
  private readonly nativeLog: NativeLogLine[] = [];
  private nativeLogSeq = 0;
  private closed = false;
  private closing: Promise<void> | null = null;

  constructor(opts: LlamaEngineOptions) {
    this.log = opts.log;
    this.threads = positiveInt(opts.threads ?? 1, 'threads');
    this.idleUnloadMs = positiveInt(opts.idleUnloadMs ?? 5 * 60_000, 'idleUnloadMs');
    this.contextSize = positiveInt(opts.contextSize ?? 2048, 'contextSize');
  }

  chat(req: ChatRequest): Promise<ChatResult> {
    return this.track(async () => {
      const t0 = performance.now();
      validateGeneration(req);
      const prompt = formatChatPrompt(req.messages);
      return this.withModel(req.modelId, req.modelPath, (model) => this.generate(model, prompt, req, CHAT_STOP_STRINGS, t0));
    });
  }

  complete(req: CompletionRequest): Promise<ChatResult> {
    return this.track(async () => {
      const t0 = performance.now();
      validateGeneration(req);
      if (req.prompt === '') throw new BkgError('INVALID_ARGUMENT', 'prompt must not be empty');
      return this.withModel(req.modelId, req.modelPath, (model) => this.generate(model, req.prompt, req, [], t0));
    });
  }

  embed(req: { modelId: string; modelPath: string; input: string[] }): Promise<{ vectors: number[][]; promptTokens: number }> {
    return this.track(async () => {
      if (req.input.length === 0) throw new BkgError('INVALID_ARGUMENT', 'input must hold at least one string');
      req.input.forEach((s, i) => {
        if (s === '') throw new BkgError('INVALID_ARGUMENT', `input[${i}] is empty`);
      });
      return this.withModel(req.modelId, req.modelPath, async (model) => {
        const contextSize = this.contextSizeFor(model);
        let ctx: Awaited<ReturnType<LlamaModel['createEmbeddingContext']>>;
        try {
          ctx = await model.createEmbeddingContext({ contextSize, threads: this.threads });
        } catch (err) {
          throw new BkgError('INVALID_ARGUMENT', `model ${req.modelId} cannot produce embeddings: ${errorText(err)}`, {
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
    });
  }

  loaded(): string[] {
    return [...this.models.values()].filter((e) => e.model !== null && !e.retired).map((e) => e.id);
  }

  /** Stops running generations (they finish 'cancelled'), unloads every model and releases llama.cpp. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      await Promise.allSettled([...this.inflight]);
      const entries = [...this.models.values()];
      this.models.clear();
      for (const e of entries) {
        if (e.timer) clearTimeout(e.timer);
        e.timer = null;
        e.retired = true;
      }
      for (const e of entries) await this.disposeEntry(e);
      const llama = this.llamaPromise;
      this.llamaPromise = null;
      if (llama) {
        // node-llama-cpp 3.21.1 leaks a disposal handle when llama.cpp fails to load a model file
        // (and the half-built model is garbage-collected): Llama.dispose() then never resolves.
        // Don't let that hang shutdown; the process releases the backend when it exits.
        const disposed = llama.then((l) => l.dispose()).then(
          () => true,
          (err: unknown) => {
            this.log.warn({ err }, 'llm: disposing llama.cpp failed');
            return true;
          },
        );
        const inTime = await Promise.race([disposed, sleep(LLAMA_DISPOSE_TIMEOUT_MS, false, { ref: false })]);
        if (!inTime) this.log.warn({ timeoutMs: LLAMA_DISPOSE_TIMEOUT_MS }, 'llm: llama.cpp did not shut down in time; leaving it to process exit');
      }
    })();
    return this.closing;
  }

  // ---- generation --------------------------------------------------------

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

  // ---- model cache -------------------------------------------------------

  private async withModel<T>(modelId: string, modelPath: string, fn: (model: LlamaModel) => Promise<T>): Promise<T> {
    const entry = this.acquire(modelId, modelPath);
    try {
      const model = await entry.ready;
      this.assertOpen();
      return await fn(model);
    } finally {
      this.release(entry);
    }
  }

  private acquire(modelId: string, modelPath: string): ModelEntry {
    this.assertOpen();
    let entry = this.models.get(modelId);
    if (entry && entry.path !== modelPath) {
      // The model id now names another file (re-pulled): load that, retire the old one.
      this.models.delete(modelId);
      entry.retired = true;
      if (entry.active === 0) void this.disposeEntry(entry);
      entry = undefined;
    }
    if (!entry) {
      entry = this.startLoad(modelId, modelPath);
      this.models.set(modelId, entry);
    }
    entry.active++;
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = null;
    return entry;
  }

  private release(entry: ModelEntry): void {
    entry.active--;
    if (entry.active > 0) return;
    if (entry.retired) {
      void this.disposeEntry(entry);
      return;
    }
    if (entry.model === null || this.closed) return;
    entry.timer = setTimeout(() => {
      entry.timer = null;
      if (entry.active > 0 || this.models.get(entry.id) !== entry) return;
      this.models.delete(entry.id);
      entry.retired = true;
      this.log.info({ model: entry.id, idleMs: this.idleUnloadMs }, 'llm: unloading idle model');
      void this.disposeEntry(entry);
    }, this.idleUnloadMs);
    entry.timer.unref();
  }

  private startLoad(modelId: string, modelPath: string): ModelEntry {
    // The callbacks run after `entry` is assigned (loadModel is async).
    const ready = this.loadModel(modelId, modelPath).then(
      (model) => {
        entry.model = model;
        return model;
      },
      (err: unknown) => {
        if (this.models.get(modelId) === entry) this.models.delete(modelId); // the next request tries again
        throw err;
      },
    );
    ready.catch(() => undefined); // observed by every waiter; never an unhandled rejection
    const entry: ModelEntry = { id: modelId, path: modelPath, ready, model: null, active: 0, timer: null, retired: false };
    return entry;
  }

  private async loadModel(modelId: string, modelPath: string): Promise<LlamaModel> {
    try {
      const st = await stat(modelPath);
      if (!st.isFile()) throw new BkgError('NOT_FOUND', `model ${modelId}: ${modelPath} is not a file`);
    } catch (err) {
      if (err instanceof BkgError) throw err;
      throw new BkgError('NOT_FOUND', `model ${modelId}: file ${modelPath} not found`, { cause: err });
    }
    const llama = await this.getLlama();
    const since = this.nativeLogSeq;
    const started = performance.now();
    try {
      const model = await llama.loadModel({ modelPath });
      this.log.info({ model: modelId, path: modelPath, ms: Math.round(performance.now() - started) }, 'llm: model loaded');
      return model;
    } catch (err) {
      await new Promise((resolve) => setImmediate(resolve)); // llama.cpp's last log lines arrive asynchronously
      const native = this.nativeLog
        .filter((l) => l.seq > since && (l.level === 'error' || l.level === 'fatal'))
        .map((l) => l.message)
        .join('; ');
      const message = `cannot load model ${modelId} from ${modelPath}: ${errorText(err)}${native ? ` (llama.cpp: ${native})` : ''}`;
      this.log.error({ model: modelId, path: modelPath, err }, message);
      throw new BkgError('INTERNAL', message, { hint: LOAD_HINT, cause: err });
    }
  }

  private async disposeEntry(entry: ModelEntry): Promise<void> {
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = null;
    const model = await entry.ready.catch(() => null);
    entry.model = null;
    if (model && !model.disposed) {
      await model.dispose().catch((err: unknown) => this.log.warn({ err, model: entry.id }, 'llm: disposing a model failed'));
    }
  }

  private getLlama(): Promise<Llama> {
    if (!this.llamaPromise) {
      const p = (async () => {
        const mod = await import('node-llama-cpp');
        return mod.getLlama({
          gpu: false,
          build: 'never', // never compile llama.cpp inside the daemon; the prebuilt binary or a local build only
          progressLogs: false,
          maxThreads: this.threads,
          logLevel: mod.LlamaLogLevel.warn,
          logger: (level, message) => this.onNativeLog(String(level), message),
        });
      })();
      this.llamaPromise = p;
      p.catch((err: unknown) => {
        if (this.llamaPromise === p) this.llamaPromise = null; // retry on the next request
        this.log.error({ err }, 'llm: cannot start llama.cpp');
      });
    }
    return this.llamaPromise.catch((err: unknown) => {
      throw err instanceof BkgError
        ? err
        : new BkgError('INTERNAL', `cannot start llama.cpp: ${errorText(err)}`, {
            hint: 'node-llama-cpp found no usable llama.cpp binary for this host; reinstall bkg (npm ci) on this machine.',
            cause: err,
          });
    });
  }

  private onNativeLog(level: string, raw: string): void {
    const message = raw.trim();
    if (message === '') return;
    this.nativeLog.push({ seq: ++this.nativeLogSeq, level, message });
    if (this.nativeLog.length > 50) this.nativeLog.shift();
    // llama.cpp warns a lot about harmless metadata quirks: keep its warnings at debug.
    if (level === 'error' || level === 'fatal') this.log.error({ llama: level }, `llama.cpp: ${message}`);
    else this.log.debug({ llama: level }, `llama.cpp: ${message}`);
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new BkgError('DAEMON_UNAVAILABLE', 'the inference engine is shutting down', { hint: 'Retry once the daemon has restarted.' });
    }
  }

  private track<T>(fn: () => Promise<T>): Promise<T> {
    const p = fn();
    this.inflight.add(p);
    const done = (): void => {
      this.inflight.delete(p);
    };
    p.then(done, done);
    return p;
  }
}

/**
 * Tokens to text as they arrive. Each token is decoded with the tokens before
 * it as context (so SentencePiece word-boundary spaces come out right), and a
 * token that ends inside a multi-byte character is held until the character
 * is complete, so the concatenated deltas equal the decoded whole.
 */
export class StreamingDecoder {
  private pending: Token[] = [];
  private history: Token[];

  constructor(
    private readonly model: LlamaModel,
    prompt: readonly Token[],
  ) {
    this.history = prompt.slice(-8);
  }

  push(token: Token): string {
    this.pending.push(token);
    const text = this.model.detokenize(this.pending, false, this.history);
    if (text.endsWith('\uFFFD') && this.pending.length < 4) return '';
    return this.commit(text);
  }

  flush(): string {
    return this.pending.length === 0 ? '' : this.commit(this.model.detokenize(this.pending, false, this.history));
  }

  private commit(text: string): string {
    this.history = [...this.history, ...this.pending].slice(-8);
    this.pending = [];
    return text;
  }
}

/**
 * Finds stop strings in streamed text. Text that could be the start of a stop
 * string is held back until it is known not to be one; `push` reports the text
 * that is safe to emit, and whether a stop string was found (the text after
 * it, and the stop string itself, are dropped).
 */
export class StopScanner {
  private buffer = '';
  private done = false;
  private readonly maxLen: number;

  constructor(private readonly stops: readonly string[]) {
    this.maxLen = Math.max(0, ...stops.map((s) => s.length));
  }

  push(text: string): { emit: string; stopped: boolean } {
    if (this.done) return { emit: '', stopped: true };
    if (this.stops.length === 0) return { emit: text, stopped: false };
    this.buffer += text;
    let at = -1;
    for (const s of this.stops) {
      const i = this.buffer.indexOf(s);
      if (i >= 0 && (at < 0 || i < at)) at = i;
    }
    if (at >= 0) {
      this.done = true;
      const emit = this.buffer.slice(0, at);
      this.buffer = '';
      return { emit, stopped: true };
    }
    const hold = this.heldLength();
    const emit = this.buffer.slice(0, this.buffer.length - hold);
    this.buffer = this.buffer.slice(this.buffer.length - hold);
    return { emit, stopped: false };
  }

  flush(): string {
    const rest = this.done ? '' : this.buffer;
    this.buffer = '';
    return rest;
  }

  /** The longest suffix of the buffer that is a proper prefix of a stop string. */
  private heldLength(): number {
    for (let k = Math.min(this.maxLen - 1, this.buffer.length); k > 0; k--) {
      const tail = this.buffer.slice(this.buffer.length - k);
      if (this.stops.some((s) => s.startsWith(tail))) return k;
    }
    return 0;
  }
}

/**
 * End of generation: an EOG token (EOS, EOT…) — or BOS, which base models
 * trained on BOS-separated documents (llama2.c's TinyStories models, for one)
 * emit where the document ends and the next would begin.
 */
function isEndOfText(model: LlamaModel, token: Token): boolean {
  return model.isEogToken(token) || (model.tokens.bos !== null && token === model.tokens.bos);
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

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
