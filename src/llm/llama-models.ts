/**
 * llama.cpp and the models it holds, for the inference engine (engine-llama.ts).
 *
 * - node-llama-cpp is ESM-only and loads a native binding, so it is imported
 *   lazily, on first use; one `Llama` instance serves every model.
 * - Models stay loaded ("warm") in a map keyed by model id, loaded once
 *   (concurrent first calls share the load), and are unloaded after
 *   `idleUnloadMs` without use (an unref'd timer, so it never keeps the
 *   process alive). A model id that comes back with another path (re-pulled)
 *   loads the new file; the old one is disposed once nobody uses it.
 * - llama.cpp's recent warnings and errors are kept to explain load failures.
 *   Its log callback is process-wide: only the most recently started instance
 *   receives the lines, so use one engine per process.
 */
import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Llama, LlamaModel } from 'node-llama-cpp';
import { BkgError } from '../api/errors.js';
import type { Logger } from '../log.js';

export interface LlamaModelsOptions {
  log: Logger;
  /** llama.cpp's thread cap (the engine's threads per context). */
  threads: number;
  /** The GPU backend node-llama-cpp uses (false: the CPU only). */
  gpu: false | 'auto' | 'cuda' | 'vulkan';
  /** Unload a model after this long without use. */
  idleUnloadMs: number;
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
  /** Replaced by a load from another path (or closed): dispose when idle. */
  retired: boolean;
}

interface NativeLogLine {
  seq: number;
  level: string;
  message: string;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class LlamaModels {
  private llamaPromise: Promise<Llama> | null = null;
  private readonly entries = new Map<string, ModelEntry>();
  /** Calls of use() not yet settled: close() waits for them before unloading. */
  private readonly uses = new Set<Promise<unknown>>();
  /** Recent llama.cpp warnings and errors, to explain load failures. */
  private readonly nativeLog: NativeLogLine[] = [];
  private nativeLogSeq = 0;
  private closed = false;
  private closing: Promise<void> | null = null;

  constructor(private readonly o: LlamaModelsOptions) {}

  /** Run `fn` with the model loaded (loading it first, or waiting for a load in progress). Refused once closing. */
  use<T>(modelId: string, modelPath: string, fn: (model: LlamaModel) => Promise<T>): Promise<T> {
    const p = this.withModel(modelId, modelPath, fn);
    this.uses.add(p);
    const done = (): void => {
      this.uses.delete(p);
    };
    p.then(done, done);
    return p;
  }

  /** The ids of the models loaded now. */
  loaded(): string[] {
    return [...this.entries.values()].filter((e) => e.model !== null && !e.retired).map((e) => e.id);
  }

  /** Refuses new use at once; when the uses under way have ended, unloads every model and releases llama.cpp. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      await Promise.allSettled([...this.uses]);
      const entries = [...this.entries.values()];
      this.entries.clear();
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
            this.o.log.warn({ err }, 'llm: disposing llama.cpp failed');
            return true;
          },
        );
        const inTime = await Promise.race([disposed, sleep(LLAMA_DISPOSE_TIMEOUT_MS, false, { ref: false })]);
        if (!inTime) this.o.log.warn({ timeoutMs: LLAMA_DISPOSE_TIMEOUT_MS }, 'llm: llama.cpp did not shut down in time; leaving it to process exit');
      }
    })();
    return this.closing;
  }

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
    let entry = this.entries.get(modelId);
    if (entry && entry.path !== modelPath) {
      // The model id now names another file (re-pulled): load that, retire the old one.
      this.entries.delete(modelId);
      entry.retired = true;
      if (entry.active === 0) void this.disposeEntry(entry);
      entry = undefined;
    }
    if (!entry) {
      entry = this.startLoad(modelId, modelPath);
      this.entries.set(modelId, entry);
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
      if (entry.active > 0 || this.entries.get(entry.id) !== entry) return;
      this.entries.delete(entry.id);
      entry.retired = true;
      this.o.log.info({ model: entry.id, idleMs: this.o.idleUnloadMs }, 'llm: unloading idle model');
      void this.disposeEntry(entry);
    }, this.o.idleUnloadMs);
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
        if (this.entries.get(modelId) === entry) this.entries.delete(modelId); // the next request tries again
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
      this.o.log.info({ model: modelId, path: modelPath, ms: Math.round(performance.now() - started) }, 'llm: model loaded');
      return model;
    } catch (err) {
      await new Promise((resolve) => setImmediate(resolve)); // llama.cpp's last log lines arrive asynchronously
      const native = this.nativeLog
        .filter((l) => l.seq > since && (l.level === 'error' || l.level === 'fatal'))
        .map((l) => l.message)
        .join('; ');
      const message = `cannot load model ${modelId} from ${modelPath}: ${errorText(err)}${native ? ` (llama.cpp: ${native})` : ''}`;
      this.o.log.error({ model: modelId, path: modelPath, err }, message);
      throw new BkgError('INTERNAL', message, { hint: LOAD_HINT, cause: err });
    }
  }

  private async disposeEntry(entry: ModelEntry): Promise<void> {
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = null;
    const model = await entry.ready.catch(() => null);
    entry.model = null;
    if (model && !model.disposed) {
      await model.dispose().catch((err: unknown) => this.o.log.warn({ err, model: entry.id }, 'llm: disposing a model failed'));
    }
  }

  private getLlama(): Promise<Llama> {
    if (!this.llamaPromise) {
      const p = (async () => {
        const mod = await import('node-llama-cpp');
        return mod.getLlama({
          gpu: this.o.gpu,
          build: 'never', // never compile llama.cpp inside the daemon; the prebuilt binary or a local build only
          progressLogs: false,
          maxThreads: this.o.threads,
          logLevel: mod.LlamaLogLevel.warn,
          logger: (level, message) => this.onNativeLog(String(level), message),
        });
      })();
      this.llamaPromise = p;
      p.catch((err: unknown) => {
        if (this.llamaPromise === p) this.llamaPromise = null; // retry on the next request
        this.o.log.error({ err }, 'llm: cannot start llama.cpp');
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
    if (level === 'error' || level === 'fatal') this.o.log.error({ llama: level }, `llama.cpp: ${message}`);
    else this.o.log.debug({ llama: level }, `llama.cpp: ${message}`);
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new BkgError('DAEMON_UNAVAILABLE', 'the inference engine is shutting down', { hint: 'Retry once the daemon has restarted.' });
    }
  }
}
