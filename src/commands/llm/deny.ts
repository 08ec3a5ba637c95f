import { Args } from '@oclif/core';
import { DaemonCommand } from '../../cli/daemon-command.js';

export default class LlmDeny extends DaemonCommand {
  static override summary = 'Deny a model-access request.';
  static override args = { id: Args.string({ description: 'The request id.', required: true }) };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(LlmDeny);
    const r = await this.withClient((c) => c.llmDeny(args.id));
    this.output(flags.json, r, () => process.stdout.write(`Denied ${args.id}.\n`));
  }
}
