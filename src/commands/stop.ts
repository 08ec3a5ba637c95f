import { Args } from '@oclif/core';
import { DaemonCommand } from '../cli/daemon-command.js';

export default class Stop extends DaemonCommand {
  static override summary = 'Stop a sandbox (its processes end; it can be started again with `bkg run`).';
  static override examples = ['<%= config.bin %> stop web'];
  static override args = { name: Args.string({ description: 'Sandbox name or id.', required: true }) };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Stop);
    const view = await this.withClient((c) => c.stopSandbox(args.name));
    this.output(flags.json, view, () => process.stdout.write(`Stopped ${view.name}.\n`));
  }
}
