/**
 * Where a download's bytes go: a file appended to through two 1 MiB buffers that live as long as
 * the download (one filling while the other is written; nothing is allocated per chunk, so a
 * daemon that downloads 64 MiB does not hand V8 64 MiB of short-lived buffers to collect), the
 * sha256 of every byte as it is handed to a write (so the digest is the file's, not only the
 * received bytes'), and a background fdatasync every 16 MiB written (never more than one), so
 * the data is mostly on disk when the download ends and the final fsync has little left.
 */
import { createHash, type Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { BkgError } from '../../api/errors.js';

/** A sha256 of a file's bytes, kept up to date as they are written. */
export interface FileDigest {
  /** Bytes hashed so far. */
  readonly bytes: number;
  update(chunk: Buffer): void;
  reset(): void;
  /** Hash the first `upTo` bytes of `path` again, from the start. */
  rehash(path: string, upTo: number): Promise<void>;
  /** The digest of what was hashed (the state goes on). */
  hex(): string;
}

export function createFileDigest(): FileDigest {
  let h: Hash = createHash('sha256');
  let bytes = 0;
  return {
    get bytes() {
      return bytes;
    },
    update(chunk) {
      h.update(chunk);
      bytes += chunk.length;
    },
    reset() {
      h = createHash('sha256');
      bytes = 0;
    },
    async rehash(path, upTo) {
      this.reset();
      if (upTo === 0) return;
      await readThrough(path, (view) => this.update(view), upTo);
      if (bytes !== upTo) throw new BkgError('DOWNLOAD_FAILED', `${path} changed while it was hashed (${bytes} of ${upTo} bytes)`);
    },
    hex() {
      return h.copy().digest('hex');
    },
  };
}

export const WRITE_BATCH_BYTES = 1 << 20;

/**
 * Read the first `upTo` bytes of `path` (all of it by default) through one reused buffer (nothing
 * for V8 to collect per MiB), handing each piece to `take`: a view valid until `take` (or the
 * promise it returns) is done.
 */
export async function readThrough(path: string, take: (view: Buffer) => Promise<void> | null | void, upTo = Infinity): Promise<void> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(Math.min(upTo, WRITE_BATCH_BYTES));
    for (let at = 0; at < upTo; ) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, upTo - at), at);
      if (bytesRead === 0) break;
      at += bytesRead;
      await take(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
}
const WRITEBACK_BYTES = 16 << 20;

/**
 * Appends to a file. `push` takes a view that is only valid during the call (a socket's reused
 * read buffer): it is copied at once (and hashed when its buffer is written); when a promise comes back, the caller waits for
 * it before pushing more (both buffers are full). `finish` writes the rest and waits for the
 * writes and the background sync; `close` always closes the file, after writing what was taken.
 */
export class FileAppender {
  private buffers: [Buffer, Buffer] = [Buffer.allocUnsafe(WRITE_BATCH_BYTES), Buffer.allocUnsafe(WRITE_BATCH_BYTES)];
  private current = 0;
  private fill = 0;
  /** The one write in flight. */
  private writing: Promise<void> | null = null;
  /** A push that waits for a free buffer: nothing else may touch the buffers until it is done. */
  private waiting: Promise<void> | null = null;
  private syncing: Promise<void> | null = null;
  private failure: unknown = null;
  private sinceSync = 0;
  private closed = false;

  private constructor(
    private readonly fh: FileHandle,
    private readonly digest: FileDigest | undefined,
  ) {}

  /** Open `path` for appending (created with mode 0600 when missing). */
  static async open(path: string, digest?: FileDigest): Promise<FileAppender> {
    return new FileAppender(await open(path, 'a', 0o600), digest);
  }

  /** Take `view`'s bytes; a promise means: wait for it before the next push (a push before that throws). */
  push(view: Buffer): Promise<void> | null {
    if (this.failure) throw this.failure;
    if (this.waiting) throw new Error('FileAppender: a push came while the one before it still waits for a buffer');
    const wait = this.copy(view, 0);
    if (!wait) return null;
    const waiting = wait.finally(() => void (this.waiting = null));
    waiting.catch(() => {}); // the caller awaits it; finish and close wait for it too
    this.waiting = waiting;
    return waiting;
  }

  private copy(view: Buffer, from: number): Promise<void> | null {
    let at = from;
    while (at < view.length) {
      const buf = this.buffers[this.current] as Buffer;
      const n = view.copy(buf, this.fill, at);
      this.fill += n;
      at += n;
      if (this.fill < buf.length) break;
      if (this.writing) {
        // both buffers are taken: the rest of the view waits for the write in flight (the caller pauses)
        return this.writing.then(() => {
          this.startWrite();
          return this.copy(view, at) ?? undefined;
        });
      }
      this.startWrite();
    }
    return null;
  }

  /** Write the current buffer (no write may be in flight) and switch to the other one. */
  private startWrite(): void {
    const n = this.fill;
    const buf = this.buffers[this.current] as Buffer;
    this.current ^= 1;
    this.fill = 0;
    if (n === 0) return;
    // hashed as written: the digest is of the bytes in the file, in the file's order
    this.digest?.update(buf.subarray(0, n));
    const done = writeAll(this.fh, buf.subarray(0, n)).then(
      () => {
        this.writing = null;
        this.sinceSync += n;
        if (this.sinceSync >= WRITEBACK_BYTES && !this.syncing) {
          this.sinceSync = 0;
          this.syncing = this.fh.datasync().then(
            () => void (this.syncing = null),
            (err: unknown) => void ((this.failure ??= err), (this.syncing = null)),
          );
        }
      },
      (err: unknown) => {
        this.writing = null;
        this.failure ??= err;
        throw err;
      },
    );
    done.catch(() => {}); // awaited by the next write, finish or close
    this.writing = done;
  }

  /** Write what is left and wait for every write and the background sync; throws the first failure. */
  async finish(): Promise<void> {
    await this.waiting;
    await this.writing;
    this.startWrite();
    await this.writing;
    await this.syncing;
    if (this.failure) throw this.failure;
  }

  /** Close the file; what was taken is written first (good data, kept for a resumed download). Never throws. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.waiting?.catch(() => {});
    await this.writing?.catch(() => {});
    if (!this.failure) {
      this.startWrite();
      await this.writing?.catch(() => {});
    }
    await this.syncing;
    await this.fh.close().catch(() => {});
  }
}

async function writeAll(fh: FileHandle, buf: Buffer): Promise<void> {
  let at = 0;
  while (at < buf.length) {
    const { bytesWritten } = await fh.write(buf, at, buf.length - at);
    at += bytesWritten;
  }
}
