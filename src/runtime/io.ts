/** Wiring a helper's standard streams to a caller: live streams, captured chunks or fixed input. */
import type { Writable } from 'node:stream';
import type { HelperRun, StdioMode } from './helper-process.js';

export interface RunIO {
  stdio: [StdioMode, StdioMode, StdioMode];
  /** Written to the command's stdin when stdio[0] is 'pipe'. */
  input?: string | Buffer;
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  /** Receives the live stdin stream when stdio[0] is 'pipe' and no `input` is given. */
  onStdin?: (stdin: Writable) => void;
  /** Receives controls for the running command: end it (and its process group), signal it, resize its terminal. */
  onStarted?: (ctl: ExecControl) => void;
}

export interface ExecControl {
  /** End the command and its process group now (SIGKILL). */
  stop(): void;
  /** Deliver a signal to the command and its process group; the command decides what happens (exec into a running sandbox only). */
  signal(n: number): void;
  resize(rows: number, cols: number): void;
}

export function attachIO(run: HelperRun, io: RunIO): void {
  io.onStarted?.({ stop: () => run.kill('SIGTERM'), signal: (n) => run.signal(n), resize: (rows, cols) => run.resize(rows, cols) });
  if (run.stdin) {
    run.stdin.on('error', () => {});
    if (io.input !== undefined) run.stdin.end(io.input);
    else if (io.onStdin) io.onStdin(run.stdin);
    else run.stdin.end();
  }
  for (const [stream, fn] of [[run.stdout, io.onStdout], [run.stderr, io.onStderr]] as const) {
    if (stream && fn) stream.on('data', fn);
    else stream?.resume();
  }
}
