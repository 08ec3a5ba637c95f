import { Args } from '@oclif/core';
import { DaemonCommand } from '../../cli/daemon-command.js';

export default class KeyRevoke extends DaemonCommand {
  static override summary = 'Revoke an API key: it stops working at once.';
  static override examples = ['<%= config.bin %> key revoke KEY_ID'];
  static override args = { id: Args.string({ description: 'The key\'s id (`bkg key ls`).', required: true }) };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(KeyRevoke);
    const key = await this.withClient((c) => c.revokeKey(args.id));
    this.output(flags.json, key, () => process.stdout.write(`Revoked key ${key.id} (${key.name}).\n`));
  }
}
