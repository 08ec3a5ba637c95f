import { Args, Flags } from '@oclif/core';
import { BkgCommand } from '../../cli/base-command.js';
import { caIssue, renderCa } from '../../cli/ca.js';

export default class CaIssue extends BkgCommand {
  static override summary = 'Sign a host\'s TLS certificate with the fleet\'s CA (for its peer listener, and as its client certificate).';
  static override description = `Writes OUT/NAME.crt and OUT/NAME.key (0600): a certificate for TLS server and client use, its
subject CN=NAME, its names the --ip and --dns given (neither: 127.0.0.1 and localhost), signed by
the CA in --dir. Other hosts reach this one at an address the certificate names. Existing files are
never overwritten.`;

  static override examples = [
    '<%= config.bin %> ca issue host1 --ip 10.0.0.11 --dns host1.internal',
    '<%= config.bin %> ca issue host2 --ip 10.0.0.12 --out /tmp/host2',
  ];

  static override args = { name: Args.string({ description: 'The host\'s name (as BKG_HOST_NAME names it).', required: true }) };
  static override flags = {
    dir: Flags.string({ description: 'Where the CA is (default: $BKG_HOME/ca).' }),
    ip: Flags.string({ description: 'An IP address the host is reached at (repeatable).', multiple: true }),
    dns: Flags.string({ description: 'A DNS name the host is reached at (repeatable).', multiple: true }),
    out: Flags.string({ description: 'Where the certificate and key go (default: the CA\'s directory).' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(CaIssue);
    const r = await caIssue({
      name: args.name,
      ...(flags.dir === undefined ? {} : { dir: flags.dir }),
      ...(flags.ip ? { ip: flags.ip } : {}),
      ...(flags.dns ? { dns: flags.dns } : {}),
      ...(flags.out === undefined ? {} : { out: flags.out }),
    });
    this.output(flags.json, r, () => process.stdout.write(renderCa(r, 'host')));
  }
}
