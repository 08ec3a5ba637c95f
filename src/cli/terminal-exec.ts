/** Interactive exec on a terminal (`bkg exec -t`, `bkg shell`): raw mode, resize, exit code. */
import type { DaemonClient } from '../client/daemon-client.js';
import { streamExec, type StreamExecRequest } from '../client/exec-stream.js';
import { exitCodeOf } from './exit-codes.js';

export async function terminalExec(client: DaemonClient, name: string, req: Omit<StreamExecRequest, 'tty'>): Promise<number> {
  if (client.endpoint.home !== undefined) await client.ensureDaemon();
  const stdin = process.stdin;
  const size = (): { rows: number; cols: number } => ({ rows: process.stdout.rows || 24, cols: process.stdout.columns || 80 });
  const tty = size();
  const raw = stdin.isTTY === true;
  if (raw) stdin.setRawMode(true);
  let onResize: (() => void) | null = null;
  try {
    const exit = await streamExec(client.endpoint, name, { ...req, tty }, {
      stdin,
      stdout: process.stdout,
      stderr: process.stderr,
      onResize: (resize) => {
        onResize = () => resize(size().rows, size().cols);
        process.stdout.on('resize', onResize);
      },
    });
    return exitCodeOf({ exitCode: exit.exit_code, signal: exit.signal, timedOut: exit.timed_out, oomKilled: exit.oom_killed });
  } finally {
    if (onResize) process.stdout.off('resize', onResize);
    if (raw) stdin.setRawMode(false);
    stdin.pause();
  }
}
