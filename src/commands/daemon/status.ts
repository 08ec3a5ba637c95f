import { DaemonCommand } from '../../cli/daemon-command.js';
import { renderDaemonInfo, renderFleet } from '../../cli/format.js';

/** Exit code when no daemon answers (like `systemctl status`). */
export const EXIT_NOT_RUNNING = 3;

export default class DaemonStatus extends DaemonCommand {
  static override summary = 'Show whether the daemon runs, and where.';
  static override description = 'Exits 0 when the daemon answers (even when unhealthy: see the problems listed), 3 when nothing answers. Never starts it.';
  static override examples = ['<%= config.bin %> daemon status', '<%= config.bin %> daemon status --json'];

  async run(): Promise<void> {
    const { flags } = await this.parse(DaemonStatus);
    const status = await this.withClient(async (c) => {
      const health = await c.probe();
      if (health === null) return { running: false as const, url: c.endpoint.url };
      return { running: true as const, url: c.endpoint.url, healthy: health.ok, problems: health.problems ?? [], ...(await c.daemonInfo()) };
    }, { autoStart: false });
    this.output(flags.json, status, () => {
      if (!status.running) {
        process.stdout.write(`Not running: nothing answers on ${status.url}. Start it with \`bkg daemon start\`.\n`);
        return;
      }
      process.stdout.write(`Running: ${renderDaemonInfo(status)}\n`);
      for (const line of renderFleet(status)) process.stdout.write(`${line}\n`);
      for (const p of status.problems) process.stdout.write(`  problem: ${p}\n`);
    });
    if (!status.running) process.exitCode = EXIT_NOT_RUNNING;
  }
}
