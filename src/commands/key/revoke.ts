import { Args } from '@oclif/core';
import { DaemonCommand } from '../../cli/daemon-command.js';
import { keyIdOf } from '../../cli/key-ref.js';

export default class KeyRevoke extends DaemonCommand {
  static override summary = 'Revoke an API key: it stops working at once.';
  static override examples = ['<%= config.bin %> key revoke key_1a2b3c4d', '<%= config.bin %> key revoke ci'];
  static override args = { id: Args.string({ description: 'The key\'s id or name (`bkg key ls`).', required: true }) };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(KeyRevoke);
    const key = await this.withClient(async (c) => c.revokeKey(await keyIdOf(c, args.id)));
    this.output(flags.json, key, () => process.stdout.write(`Revoked key ${key.id} (${key.name}).\n`));
  }
}
