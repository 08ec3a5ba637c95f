import { Args } from '@oclif/core';
import { DaemonCommand } from '../cli/daemon-command.js';
import { renderChanges } from '../cli/format.js';

export default class Diff extends DaemonCommand {
  static override summary = 'List the changes a running sandbox made to its workspace (not yet applied to the host).';
  static override examples = ['<%= config.bin %> diff web', '<%= config.bin %> diff web --json'];
  static override args = { name: Args.string({ description: 'Sandbox name or id.', required: true }) };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Diff);
    const changes = await this.withClient((c) => c.changes(args.name));
    this.output(flags.json, { changes }, () => process.stdout.write(renderChanges(changes)));
  }
}
