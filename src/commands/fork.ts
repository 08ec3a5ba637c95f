import { Args, Flags } from '@oclif/core';
import { DaemonCommand } from '../cli/daemon-command.js';

export default class Fork extends DaemonCommand {
  static override summary = 'A new sandbox NEW with NAME\'s settings and files as of now (running if NAME runs); the two share nothing writable.';
  static override description = 'Takes a snapshot of NAME (kept; `bkg snapshot ls`), creates NEW with the same limits, network, environment, secrets and workspace, and restores the snapshot into it at its start.';
  static override examples = ['<%= config.bin %> fork web web-experiment', '<%= config.bin %> fork web web-2 --tag fork-point --json'];
  static override args = {
    name: Args.string({ description: 'The sandbox to fork (name or id).', required: true }),
    new: Args.string({ description: 'The new sandbox\'s name.', required: true }),
  };
  static override flags = {
    tag: Flags.string({ char: 't', description: 'Tag the snapshot the fork starts from (NAME:TAG).' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Fork);
    const { sandbox } = await this.withClient((c) => c.forkSandbox(args.name, args.new, flags.tag));
    this.output(flags.json, sandbox, () => process.stdout.write(`Forked ${args.name} into ${sandbox.name} (${sandbox.id}, ${sandbox.status}).\n`));
  }
}
