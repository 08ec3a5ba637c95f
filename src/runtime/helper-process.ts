/**
 * Spawning the helper: the spec and the seccomp program go in on descriptors 3 and 4, status
 * JSON lines come back on 5, and descriptor 6 holds the sandbox's scratch layer open until we let go.
 */
import { spawn, type StdioOptions } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { BkgError } from '../api/errors.js';

export interface ChangeEvent {
  type: 'change';
  path: string;
  kind: 'added' | 'modified' | 'deleted';
  file_type: 'file' | 'dir' | 'symlink' | 'other';
}
export interface ErrorEvent {
  type: 'error';
  stage: string;
  errno: number;
  message: string;
}
export interface ExitedEvent {
  type: 'exited';
  exit_code: number | null;
  signal: number | null;
  timed_out: boolean;
  killed_by: number;
  duration_ms: number;
  scratch_fd?: number;
  /** Run (not exec): whether the scratch tmpfs (the disk limit) was full when the command ended. */
  disk_full?: boolean;
  files: Record<string, string | null>;
}
export interface ReadyEvent {
  type: 'ready';
  scratch_fd?: number;
}
export type HelperEvent = { type: 'started'; pid: number } | ReadyEvent | ChangeEvent | ErrorEvent | ExitedEvent;

/** Parse one status line; a line that is not JSON becomes a protocol error event. */
export function parseStatusLine(line: string): HelperEvent {
  try {
    return JSON.parse(line) as HelperEvent;
  } catch {
    return { type: 'error', stage: 'protocol', errno: 0, message: `unparseable status line: ${line.slice(0, 200)}` };
  }
}

export type StdioMode = 'inherit' | 'pipe' | 'ignore';

/** How long an exec's output may still arrive once its command has exited. */
const EXIT_GRACE_MS = 200;

export interface HelperRun {
  pid: number;
  stdin: Writable | null;
  stdout: Readable | null;
  stderr: Readable | null;
  /** Resolves when the helper exits, with every status event it sent. */
  done: Promise<{ events: HelperEvent[]; code: number | null; signal: NodeJS.Signals | null }>;
  /** Called when the 'exited' event arrives, while the scratch layer (if any) is still held. */
  onExited(fn: (scratchPath: string | null) => Promise<void>): void;
  /** The status events received so far. */
  events(): HelperEvent[];
  kill(signal?: NodeJS.Signals): void;
  /** Set the terminal size (only with `control` and a terminal). */
  resize(rows: number, cols: number): void;
  /** Send signal `n` to the command and its process group (only with `control`). */
  signal(n: number): void;
}

export function spawnHelper(opts: {
  helperPath: string;
  spec: Buffer;
  seccomp: Buffer | null;
  stdio: [StdioMode, StdioMode, StdioMode];
  listChanges: boolean;
  /** Run the spec's command inside the running sandbox whose init has this pid. */
  execInto?: number;
  /** Open descriptor 7 for control lines ("resize ROWS COLS", "signal N"). */
  control?: boolean;
}): HelperRun {
  const argv = ['--args', '3', '--json-status-fd', '5', '--hold-fd', '6'];
  if (opts.seccomp) argv.push('--seccomp', '4');
  if (opts.listChanges) argv.push('--list-changes');
  if (opts.execInto !== undefined) argv.push('--exec-into', String(opts.execInto));
  if (opts.control) argv.push('--control-fd', '7');
  const stdio: StdioOptions = [...opts.stdio, 'pipe', 'pipe', 'pipe', 'pipe', ...(opts.control ? ['pipe' as const] : [])];
  const child = spawn(opts.helperPath, argv, { stdio, env: {}, argv0: 'bkg-helper' });
  const [specIn, seccompIn, statusOut, hold] = [3, 4, 5, 6].map((i) => child.stdio[i]) as [Writable, Writable, Readable, Writable];
  specIn.on('error', () => {});
  seccompIn.on('error', () => {});
  hold.on('error', () => {});
  const control = (child.stdio as unknown as (Writable | null | undefined)[])[7] ?? null;
  control?.on('error', () => {});
  specIn.end(opts.spec);
  seccompIn.end(opts.seccomp ?? undefined);

  let exitedHook: ((scratchPath: string | null) => Promise<void>) | null = null;
  const events: HelperEvent[] = [];
  const pending: Promise<void>[] = [];
  const lines = createInterface({ input: statusOut, crlfDelay: Infinity });
  lines.on('line', (line) => {
    const ev = parseStatusLine(line);
    events.push(ev);
    if (ev.type === 'exited') {
      const scratch = ev.scratch_fd !== undefined && child.pid !== undefined ? `/proc/${child.pid}/fd/${ev.scratch_fd}` : null;
      const hook = exitedHook;
      pending.push(
        (hook ? hook(scratch) : Promise.resolve()).finally(() => hold.end()),
      );
    }
  });
  if (opts.execInto !== undefined) {
    // The exec ends with its command: processes it left running in the sandbox may hold our pipes
    // open; what they write after the command ended is not this exec's output.
    child.on('exit', () => setTimeout(() => {
      child.stdout?.destroy();
      child.stderr?.destroy();
    }, EXIT_GRACE_MS).unref());
  }
  const done = new Promise<{ events: HelperEvent[]; code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', (err: NodeJS.ErrnoException) => {
      hold.end();
      if (err.code === 'ENOENT' || err.code === 'EACCES') {
        reject(new BkgError('HELPER_MISSING', `sandbox helper not runnable at ${opts.helperPath}: ${err.code}`));
      } else reject(err);
    });
    child.on('close', (code, signal) => {
      hold.end();
      Promise.allSettled(pending).then((results) => {
        const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) reject(failed.reason);
        else resolve({ events, code, signal });
      }, reject);
    });
  });
  return {
    pid: child.pid ?? -1,
    stdin: child.stdin,
    stdout: child.stdout,
    stderr: child.stderr,
    done,
    onExited(fn) {
      exitedHook = fn;
    },
    events: () => [...events],
    kill(signal = 'SIGTERM') {
      child.kill(signal);
    },
    resize(rows, cols) {
      if (control && !control.destroyed) control.write(`resize ${Math.floor(rows)} ${Math.floor(cols)}\n`);
    },
    signal(n) {
      if (control && !control.destroyed && Number.isInteger(n) && n >= 1 && n <= 64) control.write(`signal ${n}\n`);
    },
  };
}
