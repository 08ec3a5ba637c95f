/** Test helpers for the model registry: the shared test model, a Range-capable HTTP server, a registry on a temp home. */
import { createReadStream, statSync } from 'node:fs';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../../src/log.js';
import { ModelRegistry, type ModelRegistryOptions } from '../../../src/llm/registry/index.js';
import { openStore, type SqliteStore } from '../../../src/store/index.js';
import { makeRuntime } from '../../helpers/sandbox.js';
import { modelSkipReason, TEST_MODEL, TEST_MODEL_SHA256 } from '../../helpers/model.js';

export const MODEL_SHA256 = TEST_MODEL_SHA256;
export const MODEL_SIZE = 1_185_376;

/** The read-only shared test model, wherever this checkout sees shared/. */
export function sharedModelPath(): string | null {
  return modelSkipReason() === null ? TEST_MODEL : null;
}

/** Copy the shared model into `dir` (never touch shared/). */
export async function copyModel(dir: string, name = 'stories260K.gguf'): Promise<string> {
  const src = sharedModelPath();
  if (!src) throw new Error('shared/models/stories260K.gguf is missing');
  const dest = join(dir, name);
  await copyFile(src, dest);
  return dest;
}

export interface ServerBehaviour {
  /** Drop the connection after this many body bytes ... */
  dropAfterBytes?: number;
  /** ... on this many of the next requests. */
  drops?: number;
  /** Send this many body bytes, then go silent (connection left open) ... */
  stallAfterBytes?: number;
  /** ... on this many of the next requests. */
  stalls?: number;
  /** Answer every request 200 with the whole file, as if Range were unsupported. */
  ignoreRange?: boolean;
  /** Answer every request with this status and no file. */
  status?: number;
}

export interface ModelServer {
  readonly base: string;
  readonly requests: { path: string; range: string | undefined; status: number }[];
  behaviour: ServerBehaviour;
  url(path: string): string;
  close(): Promise<void>;
}

/** Serves `files` (url path → file) with Range support; can drop connections mid-body. */
export async function startModelServer(files: Record<string, string>): Promise<ModelServer> {
  const requests: ModelServer['requests'] = [];
  const state: { behaviour: ServerBehaviour } = { behaviour: {} };
  const server: Server = createServer((req: IncomingMessage, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const file = files[path];
    const range = req.headers.range;
    const b = state.behaviour;
    const log = (status: number) => requests.push({ path, range, status });
    if (b.status) {
      log(b.status);
      res.writeHead(b.status, { 'content-type': 'text/plain' }).end('nope');
      return;
    }
    if (!file) {
      log(404);
      res.writeHead(404).end();
      return;
    }
    const size = statSync(file).size;
    let start = 0;
    let status = 200;
    const m = /^bytes=(\d+)-$/.exec(range ?? '');
    if (m && !b.ignoreRange) {
      start = Number(m[1]);
      if (start >= size) {
        log(416);
        res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
        return;
      }
      status = 206;
    }
    log(status);
    const headers: Record<string, string | number> = { 'content-type': 'application/octet-stream', 'content-length': size - start, 'accept-ranges': 'bytes' };
    if (status === 206) headers['content-range'] = `bytes ${start}-${size - 1}/${size}`;
    res.writeHead(status, headers);
    const stream = createReadStream(file, { start });
    const drop = Boolean(b.drops && b.dropAfterBytes !== undefined);
    const stall = !drop && Boolean(b.stalls && b.stallAfterBytes !== undefined);
    if (drop || stall) {
      if (drop) b.drops = (b.drops ?? 1) - 1;
      else b.stalls = (b.stalls ?? 1) - 1;
      let sent = 0;
      const limit = (drop ? b.dropAfterBytes : b.stallAfterBytes) ?? 0;
      stream.on('data', (chunk) => {
        const buf = chunk as Buffer;
        const take = Math.min(buf.length, limit - sent);
        sent += take;
        if (take > 0) res.write(buf.subarray(0, take));
        if (sent >= limit) {
          stream.destroy();
          if (drop) res.write('', () => res.socket?.destroy());
        }
      });
      return;
    }
    stream.pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const base = `http://127.0.0.1:${port}`;
  return {
    base,
    requests,
    get behaviour() {
      return state.behaviour;
    },
    set behaviour(v: ServerBehaviour) {
      state.behaviour = v;
    },
    url: (p: string) => `${base}${p}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export interface TestRegistry {
  home: string;
  store: SqliteStore;
  registry: ModelRegistry;
  blobsDir: string;
  partialDir: string;
  /** Verifier sandboxes' directories (a spare's waits here between pulls). */
  verifierDir: string;
  close(): Promise<void>;
}

export async function makeRegistry(opts: Partial<Omit<ModelRegistryOptions, 'store' | 'home' | 'runtime' | 'log'>> = {}): Promise<TestRegistry> {
  const home = await mkdtemp(join(tmpdir(), 'bkg-models-'));
  // the store stamps download jobs with the registry's clock too
  const store = openStore(join(home, 'bkg.db'), opts.now ? { now: opts.now } : {});
  const { runtime } = makeRuntime();
  const registry = new ModelRegistry({
    store,
    home,
    runtime,
    log: createLogger({ level: 'silent' }),
    download: { retries: 3, retryDelayMs: 10, idleTimeoutMs: 5000 },
    ...opts,
  });
  return {
    home,
    store,
    registry,
    blobsDir: join(home, 'models', 'blobs'),
    partialDir: join(home, 'models', 'partial'),
    verifierDir: join(home, 'models', 'verifier'),
    async close() {
      await registry.close();
      store.close();
      await rm(home, { recursive: true, force: true });
    },
  };
}

/** Poll until `fn` returns a truthy value. */
export async function until<T>(fn: () => T | null | undefined | false | Promise<T | null | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - start > timeoutMs) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}
