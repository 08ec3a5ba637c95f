import { Args, Flags } from '@oclif/core';
import { DaemonCommand } from '../../cli/daemon-command.js';
import { secretSet, valueInArgv } from '../../cli/secrets.js';

export default class SecretSet extends DaemonCommand {
  static override summary = 'Set a secret from stdin or a file (never from the command line); it is sealed before it leaves this process.';
  static override description = `The value is sealed to the daemon's public key (a libsodium sealed box) here, stored encrypted, and never shown
again: sandboxes that ask for it (\`bkg add NAME --secret S\`, cave.yaml \`secrets:\`) get it as a variable or a file
under /run/secrets. From stdin one trailing newline is dropped (as \`echo\` adds one); --file keeps the bytes as they are.
Setting an existing secret replaces its value (running sandboxes keep the old one until they start again).`;

  static override examples = [
    'printf %s "$TOKEN" | <%= config.bin %> secret set GITHUB_TOKEN',
    '<%= config.bin %> secret set TLS_KEY --file ./tls.key',
    '<%= config.bin %> secret set DB_PASSWORD --namespace ci < password.txt',
  ];

  // a value given as an argument is refused with a hint, not as an unknown argument
  static override strict = false;
  static override args = { name: Args.string({ description: 'The secret\'s name (letters, digits, _): also its variable and file name in a sandbox.', required: true, ignoreStdin: true }) };
  static override flags = {
    file: Flags.string({ char: 'f', description: 'Read the value from this file (its bytes as they are).' }),
    namespace: Flags.string({ char: 'n', description: 'Admin keys: the namespace (default "default"). Other keys set in their own.' }),
    value: Flags.string({ description: 'Refused: a value is never taken from the command line.', hidden: true }),
  };

  async run(): Promise<void> {
    const { args, argv, flags } = await this.parse(SecretSet);
    if (flags.value !== undefined || argv.length > 1) throw valueInArgv(args.name);
    const secret = await this.withClient((c) => secretSet(c, args.name, { file: flags.file, namespace: flags.namespace }));
    this.output(flags.json, secret, () => process.stderr.write(`Set secret ${secret.name} in namespace ${secret.namespace} (sealed; its value is never shown).\n`));
  }
}
