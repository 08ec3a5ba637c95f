/** One daemon client per CLI invocation, closed at the end; says on stderr when it had to start the daemon. */
import { DaemonClient, type DaemonClientOptions } from '../client/daemon-client.js';

export async function withDaemonClient<T>(fn: (client: DaemonClient) => Promise<T>, opts: DaemonClientOptions = {}): Promise<T> {
  const client = new DaemonClient({
    onDaemonStarted: (r) => process.stderr.write(`bkg: started the daemon${r.pid === undefined ? '' : ` (pid ${r.pid})`}; its output goes to ${r.logFile}\n`),
    ...opts,
  });
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** Print a result: JSON on stdout with --json, otherwise the human rendering. */
export function output(json: boolean, value: unknown, human: () => void): void {
  if (json) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  else human();
}
