import { Args, Flags } from '@oclif/core';
import { DaemonCommand } from '../../cli/daemon-command.js';

export default class LlmRequestAccess extends DaemonCommand {
  static override summary = 'Ask an admin for access to a model, for a namespace.';
  static override examples = ['<%= config.bin %> llm request-access stories260k --namespace team-a'];
  static override args = { model: Args.string({ description: 'The model id (`bkg llm ls`).', required: true }) };
  static override flags = { namespace: Flags.string({ description: 'The namespace (cave) the key is for.', default: 'default' }) };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(LlmRequestAccess);
    const r = await this.withClient((c) => c.llmRequestAccess(args.model, flags.namespace));
    this.output(flags.json, r, () => process.stdout.write(`Requested access to ${args.model} for ${flags.namespace}: ${String(r.id)} (pending). An admin approves it with \`bkg llm approve ${String(r.id)}\`.\n`));
  }
}
