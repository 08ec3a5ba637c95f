/** Interactive exec on a terminal (`bkg exec -t`, `bkg shell`): raw mode, resize, exit code. */
import type { DaemonClient } from '../client/daemon-client.js';
import { openExecStreamStarting, type StreamExecRequest } from '../client/exec-stream.js';
import { exitCodeOf } from './exit-codes.js';

/** An interactive shell: bash with line editing where the sandbox has it, else sh. */
export const INTERACTIVE_SHELL = ['/bin/sh', '-c', 'if command -v bash >/dev/null 2>&1; then exec bash -i; fi; exec sh -i'];

/** The terminal's size now, and raw mode for the life of `fn` (a terminal's keys go to the sandbox as they are). */
export async function onRawTerminal<T>(fn: (size: () => { rows: number; cols: number }) => Promise<T>): Promise<T> {
  const stdin = process.stdin;
  const raw = stdin.isTTY === true;
  if (raw) stdin.setRawMode(true);
  try {
    return await fn(() => ({ rows: process.stdout.rows || 24, cols: process.stdout.columns || 80 }));
  } finally {
    if (raw) stdin.setRawMode(false);
    stdin.pause();
  }
}

export async function terminalExec(client: DaemonClient, name: string, req: Omit<StreamExecRequest, 'tty'>): Promise<number> {
  return onRawTerminal(async (size) => {
    let onResize: (() => void) | null = null;
    try {
      // no probe first: the daemon is started only when nothing listens (raw mode keeps ONLCR, so its notice prints as usual)
      const stream = await openExecStreamStarting(client, name, { ...req, tty: size() }, {
        stdin: process.stdin,
        stdout: process.stdout,
        stderr: process.stderr,
        onResize: (resize) => {
          onResize = () => resize(size().rows, size().cols);
          process.stdout.on('resize', onResize);
        },
      });
      const exit = await stream.done;
      return exitCodeOf({ exitCode: exit.exit_code, signal: exit.signal, timedOut: exit.timed_out, oomKilled: exit.oom_killed });
    } finally {
      if (onResize) process.stdout.off('resize', onResize);
    }
  });
}
