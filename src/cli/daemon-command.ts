/** Base for commands that talk to the daemon: one client per invocation, closed at the end. */
import type { DaemonClient, DaemonClientOptions } from '../client/daemon-client.js';
import { BkgCommand } from './base-command.js';
import { withDaemonClient } from './client.js';

export abstract class DaemonCommand extends BkgCommand {
  protected withClient<T>(fn: (client: DaemonClient) => Promise<T>, opts: DaemonClientOptions = {}): Promise<T> {
    return withDaemonClient(fn, opts);
  }
}
