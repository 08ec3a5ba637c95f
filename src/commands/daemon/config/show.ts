import { DaemonCommand } from '../../../cli/daemon-command.js';
import { renderSettings } from '../../../cli/daemon-config.js';

export default class DaemonConfigShow extends DaemonCommand {
  static override summary = 'Show the running daemon\'s run-time settings (admin).';
  static override examples = ['<%= config.bin %> daemon config show', '<%= config.bin %> daemon config show --json'];

  async run(): Promise<void> {
    const { flags } = await this.parse(DaemonConfigShow);
    const settings = await this.withClient((c) => c.daemonConfig());
    this.output(flags.json, settings, () => process.stdout.write(renderSettings(settings)));
  }
}
