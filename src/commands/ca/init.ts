import { Flags } from '@oclif/core';
import { BkgCommand } from '../../cli/base-command.js';
import { caInit, renderCa } from '../../cli/ca.js';

export default class CaInit extends BkgCommand {
  static override summary = 'Make the fleet\'s operator CA: the certificate authority that signs every host\'s TLS certificate.';
  static override description = `Writes DIR/ca.crt and DIR/ca.key (0600): an ECDSA P-256 CA valid for 10 years. Hosts of a fleet
talk to each other over mutual TLS only, and trust exactly the certificates this CA signed: give
every host ca.crt (BKG_TLS_CA), sign each host's certificate with \`bkg ca issue\`, and keep ca.key
off the hosts. Existing files are never overwritten.`;

  static override examples = ['<%= config.bin %> ca init', '<%= config.bin %> ca init --dir /secure/bkg-ca'];
  static override flags = {
    dir: Flags.string({ description: 'Where the CA goes (default: $BKG_HOME/ca).' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(CaInit);
    const r = await caInit({ ...(flags.dir === undefined ? {} : { dir: flags.dir }) });
    this.output(flags.json, r, () => process.stdout.write(renderCa(r, 'ca')));
  }
}
