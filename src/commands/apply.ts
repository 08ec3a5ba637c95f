import { Args } from '@oclif/core';
import { DaemonCommand } from '../cli/daemon-command.js';
import { plural, renderChanges } from '../cli/format.js';

export default class Apply extends DaemonCommand {
  static override summary = 'Copy a running sandbox\'s workspace changes to the host directory.';
  static override examples = ['<%= config.bin %> apply web'];
  static override args = { name: Args.string({ description: 'Sandbox name or id.', required: true }) };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Apply);
    const applied = await this.withClient((c) => c.apply(args.name));
    this.output(flags.json, { applied }, () => process.stdout.write(`${renderChanges(applied)}Applied ${plural(applied.length, 'change')}.\n`));
  }
}
