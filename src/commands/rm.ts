import { Args, Flags } from '@oclif/core';
import { DaemonCommand } from '../cli/daemon-command.js';
import { rmCommand } from '../cli/sandbox-commands.js';

export default class Rm extends DaemonCommand {
  static override summary = 'Remove a sandbox and all its state (the only command that deletes a sandbox\'s files).';
  static override description = 'Refused while it runs or holds workspace changes not applied to the host (`bkg diff NAME` lists them, `bkg apply NAME` copies them); --force removes it anyway.';
  static override examples = ['<%= config.bin %> rm web', '<%= config.bin %> rm --force web'];
  static override args = { name: Args.string({ description: 'Sandbox name or id.', required: true }) };
  static override flags = {
    force: Flags.boolean({ char: 'f', description: 'Stop it if it runs, and discard unapplied workspace changes.', default: false }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Rm);
    process.exitCode = await this.withClient((c) => rmCommand(c, args.name, { json: flags.json, force: flags.force }));
  }
}
