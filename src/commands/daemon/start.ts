import { Flags } from '@oclif/core';
import { DaemonCommand } from '../../cli/daemon-command.js';
import { renderDaemonInfo } from '../../cli/format.js';

export default class DaemonStart extends DaemonCommand {
  static override summary = 'Start the bkg daemon (the REST API on $BKG_HOME/bkg.sock and 127.0.0.1:$BKG_PORT).';
  static override description = `Without --foreground the daemon is started in the background unless one already answers, and its output
appended to $BKG_HOME/logs/daemon.out. Other commands start it the same way when needed.
With --foreground it runs in this process until SIGINT/SIGTERM or \`bkg daemon stop\`.`;

  static override examples = ['<%= config.bin %> daemon start', '<%= config.bin %> daemon start --foreground'];

  static override flags = {
    foreground: Flags.boolean({ description: 'Run in this process (logs: $BKG_HOME/logs/daemon.log).', default: false }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(DaemonStart);
    if (flags.foreground) return this.foreground(flags.json);
    const { started, info } = await this.withClient(async (c) => {
      const r = await c.ensureDaemon();
      return { started: r.started, info: await c.daemonInfo() };
    }, { onDaemonStarted: () => {} });
    this.output(flags.json, { started, ...info }, () => {
      process.stdout.write(`${started ? 'Started' : 'Already running'}: ${renderDaemonInfo(info)}\n`);
    });
  }

  private async foreground(json: boolean): Promise<void> {
    const { loadDaemonConfig } = await import('../../daemon/config.js');
    const { startDaemon } = await import('../../daemon/main.js');
    const config = loadDaemonConfig();
    const daemon: { close(): Promise<void>; closed?: Promise<void>; info?: unknown } = await startDaemon({ config });
    let stopping = false;
    const stopped = new Promise<void>((resolve) => {
      const onSignal = (signal: NodeJS.Signals) => {
        if (stopping) {
          process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
        }
        stopping = true;
        daemon.close().then(resolve, (err: unknown) => {
          process.stderr.write(`bkg: daemon did not close cleanly: ${err instanceof Error ? err.message : String(err)}\n`);
          process.exitCode = 1;
          resolve();
        });
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    });
    const info = daemon.info ?? { pid: process.pid, home: config.home, socket: config.socketPath, port: config.port || null };
    this.output(json, info, () => {
      process.stdout.write(`bkg daemon ${process.pid} listening on unix://${config.socketPath}${config.port ? ` and http://${config.host}:${config.port}` : ''}\n`);
    });
    // Until a signal, or `bkg daemon stop` (the daemon resolves `closed`); without `closed`, the process ends when its servers close.
    await Promise.race([stopped, ...(daemon.closed ? [daemon.closed] : [])]);
  }
}
