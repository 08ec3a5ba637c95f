import { setTimeout as sleep } from 'node:timers/promises';
import { BkgError } from '../../api/errors.js';
import { DaemonCommand } from '../../cli/daemon-command.js';

const STOP_TIMEOUT_MS = 10_000;

export default class DaemonStop extends DaemonCommand {
  static override summary = 'Stop the bkg daemon (sandboxes keep running; a restarted daemon adopts them).';
  static override examples = ['<%= config.bin %> daemon stop'];

  async run(): Promise<void> {
    const { flags } = await this.parse(DaemonStop);
    const result = await this.withClient(async (c) => {
      if ((await c.probe()) === null) return { stopped: false, was_running: false, url: c.endpoint.url };
      await c.shutdownDaemon();
      const deadline = Date.now() + STOP_TIMEOUT_MS;
      while ((await c.probe()) !== null) {
        if (Date.now() > deadline) throw new BkgError('INTERNAL', `the daemon at ${c.endpoint.url} still answers ${STOP_TIMEOUT_MS / 1000} s after it was asked to stop`, { hint: 'Check $BKG_HOME/logs/daemon.log; stop its process (`bkg daemon status` shows the pid).' });
        await sleep(100);
      }
      return { stopped: true, was_running: true, url: c.endpoint.url };
    }, { autoStart: false });
    this.output(flags.json, result, () => process.stdout.write(result.stopped ? 'Stopped the daemon.\n' : `The daemon is not running (nothing answers on ${result.url}).\n`));
  }
}
