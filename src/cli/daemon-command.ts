/** Base for commands that talk to the daemon: one client per invocation, closed at the end. */
import { DaemonClient, type DaemonClientOptions } from '../client/daemon-client.js';
import { BkgCommand } from './base-command.js';

export abstract class DaemonCommand extends BkgCommand {
  protected async withClient<T>(fn: (client: DaemonClient) => Promise<T>, opts: DaemonClientOptions = {}): Promise<T> {
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
}
