import { Args, Flags } from '@oclif/core';
import { DaemonCommand } from '../../cli/daemon-command.js';
import { secretRemove } from '../../cli/secrets.js';

export default class SecretRm extends DaemonCommand {
  static override summary = 'Remove a secret: a sandbox that asks for it then fails to start (NOT_FOUND) until it is set again.';
  static override examples = ['<%= config.bin %> secret rm GITHUB_TOKEN', '<%= config.bin %> secret rm DB_PASSWORD --namespace ci'];
  static override args = { name: Args.string({ description: 'The secret\'s name.', required: true }) };
  static override flags = {
    namespace: Flags.string({ char: 'n', description: 'Admin keys: the namespace (default "default"). Other keys remove in their own.' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(SecretRm);
    await this.withClient((c) => secretRemove(c, args.name, flags.namespace));
    this.output(flags.json, { removed: args.name }, () => process.stderr.write(`Removed secret ${args.name}.\n`));
  }
}
