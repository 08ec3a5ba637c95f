import { Args } from '@oclif/core';
import { BkgError } from '../../api/errors.js';
import { DaemonCommand } from '../../cli/daemon-command.js';

export default class LlmRevoke extends DaemonCommand {
  static override summary = 'Revoke a model-access key: its next request gets 403, also after a daemon restart.';
  static override examples = ['<%= config.bin %> llm revoke tok_0b5c…'];
  static override args = { token: Args.string({ description: 'The key\'s id (token_id from approve, or `bkg llm requests --json`).', required: true }) };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(LlmRevoke);
    const r = await this.withClient(async (c) => {
      const token = (await c.llmTokens()).find((t) => t.jti === args.token);
      if (!token) throw new BkgError('NOT_FOUND', `no model-access key "${args.token}"`);
      return c.llmRevoke(String(token.model_id), args.token);
    });
    this.output(flags.json, r, () => process.stdout.write(`Revoked ${args.token}.\n`));
  }
}
