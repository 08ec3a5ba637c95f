import { Args } from '@oclif/core';
import { DaemonCommand } from '../../cli/daemon-command.js';

export default class LlmRm extends DaemonCommand {
  static override summary = 'Remove a model from the cache.';
  static override args = { id: Args.string({ description: 'The model id.', required: true }) };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(LlmRm);
    await this.withClient((c) => c.llmRemove(args.id));
    this.output(flags.json, { removed: args.id }, () => process.stdout.write(`Removed ${args.id}.\n`));
  }
}
