import { Args } from '@oclif/core';
import { DaemonCommand } from '../cli/daemon-command.js';
import { stopCommand } from '../cli/sandbox-commands.js';

export default class Stop extends DaemonCommand {
  static override summary = 'Stop a sandbox: its processes end, its files stay (`bkg start NAME` brings it back; only `bkg rm` deletes them).';
  static override examples = ['<%= config.bin %> stop web'];
  static override args = { name: Args.string({ description: 'Sandbox name or id.', required: true }) };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Stop);
    process.exitCode = await this.withClient((c) => stopCommand(c, args.name, flags.json));
  }
}
