import { Flags } from '@oclif/core';
import { DaemonCommand } from '../../cli/daemon-command.js';
import { renderSecrets, secretList } from '../../cli/secrets.js';

export default class SecretLs extends DaemonCommand {
  static override summary = 'List secrets: names and times, never values.';
  static override examples = ['<%= config.bin %> secret ls', '<%= config.bin %> secret ls --namespace ci --json'];
  static override flags = {
    namespace: Flags.string({ char: 'n', description: 'Admin keys: only this namespace\'s (default: every namespace\'s). Other keys see their own.' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(SecretLs);
    const secrets = await this.withClient((c) => secretList(c, flags.namespace));
    this.output(flags.json, { secrets }, () => process.stdout.write(renderSecrets(secrets)));
  }
}
